"""Unit tests for the CCNI adapter: tiny exports in CCNI's format written to a temporary folder."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from risk_model.ingest.adapters import ADAPTERS, locate, read_extract
from risk_model.ingest.adapters.ccni import COLUMNS, read, split_categories, website_listed
from risk_model.ingest.parsing import InputFileError
from risk_model.ingest.tables import REGISTER_DTYPES, REJECTIONS_DTYPES, RETURNS_DTYPES
from tests.support.ccni import EDUCATION, RELIEF, row, write

FILE = "charity-register-2020-06-30.csv"


def _read(tmp_path, rows, name=FILE, **kwargs):
    return read(write(tmp_path / name, rows, **kwargs))


def _balanced(extract) -> bool:
    account = extract.account
    return (account["rows_read"] == account["accepted"] + account["rejected"]
            and len(extract.snapshot) == account["accepted"]
            and extract.rejections["row"].nunique() == account["rejected"])


def test_status_maps_to_the_label(tmp_path):
    statuses = ["Up-to-date", "In default", "Due documents received late", "Recently registered", "Removed"]
    extract = _read(tmp_path, [row(100001 + i, Status=s) for i, s in enumerate(statuses)])
    by_status = extract.snapshot.set_index("status")
    assert by_status.loc["Up-to-date", "label"] == 0.0
    assert by_status.loc["In default", "label"] == 1.0
    assert by_status.loc["Due documents received late", "label"] == 1.0
    assert by_status.loc[["Up-to-date", "In default", "Due documents received late"], "label_role"].tolist() == [
        "negative", "positive", "positive"]


def test_recently_registered_and_removed_are_kept_but_excluded(tmp_path):
    extract = _read(tmp_path, [row(100001, Status="Recently registered"), row(100002, Status="Removed"),
                               row(100003)])
    excluded = extract.snapshot.set_index("charity_number").loc[["100001", "100002"]]
    assert excluded["label"].isna().all()
    assert excluded["label_role"].eq("excluded").all()
    assert excluded["exclusion"].tolist() == ["recently registered: no documents due yet", "removed from the register"]
    assert extract.account["accepted"] == 3 and extract.account["rejected"] == 0
    counts = extract.label_counts().set_index("status")["charities"]
    assert counts.to_dict() == {"Recently registered": 1, "Removed": 1, "Up-to-date": 1}


def test_status_spellings_are_normalised(tmp_path):
    extract = _read(tmp_path, [row(100001, Status=" up to date "), row(100002, Status="IN DEFAULT"),
                               row(100003, Status="Due Documents Received Late")])
    assert extract.snapshot["status"].tolist() == ["Up-to-date", "In default", "Due documents received late"]
    assert extract.snapshot["label"].tolist() == [0.0, 1.0, 1.0]


def test_latin1_file_is_read_with_its_accents(tmp_path):
    name = "Cumann Lúthchleas Gael Café Ruairí"
    extract = _read(tmp_path, [row(100001, **{"Charity name": name})], encoding="latin-1")
    assert extract.snapshot.loc[0, "charity_name"] == name
    assert extract.account["encoding"] != "utf-8"
    with pytest.raises(UnicodeDecodeError):
        (tmp_path / FILE).read_bytes().decode("utf-8")


def test_bad_rows_are_rejected_with_their_reasons(tmp_path):
    rows = [
        row(100001),
        row(100002, **{"Date registered": "31/02/2015"}),
        row(100003, Status="Dormant"),
        row(100004, **{"Total income": "twelve thousand"}),
        row(100005, **{"Charity name": "  "}),
        row(100006, **{"Reg charity number": "NIC12"}),
        row(100001, **{"Charity name": "Same number again"}),
        row(100008, **{"Date registered": "01/07/2021"}),
        row(100009, **{"Date for financial year ending": "31 Smarch 2019"}),
    ]
    extract = _read(tmp_path, rows)
    assert _balanced(extract)
    assert extract.account["rows_read"] == 9 and extract.account["accepted"] == 1
    assert extract.snapshot["charity_number"].tolist() == ["100001"]
    rejections = extract.rejections.set_index("row")
    assert rejections.loc[2, "field"] == "Date registered" and "not a valid date" in rejections.loc[2, "reason"]
    assert rejections.loc[3, "field"] == "Status" and rejections.loc[3, "reason"].startswith("Status is not one of")
    assert rejections.loc[3, "value"] == "Dormant"
    assert rejections.loc[4, "field"] == "Total income" and rejections.loc[4, "reason"] == "not a number"
    assert rejections.loc[5, "field"] == "Charity name" and rejections.loc[5, "reason"] == "required value is blank"
    assert rejections.loc[6, "field"] == "Reg charity number" and "does not match" in rejections.loc[6, "reason"]
    assert rejections.loc[7, "reason"] == "duplicate of row 1 (same charity and sub number)"
    assert rejections.loc[8, "reason"] == "Date registered is after the extract date 2020-06-30"
    assert rejections.loc[9, "field"] == "Date for financial year ending"
    assert set(extract.rejections["file"]) == {FILE}
    # Header is line 1, so data row r is line r + 1 in a file without embedded line breaks.
    assert (extract.rejections["line"] == extract.rejections["row"] + 1).all()
    assert dict(extract.rejections.dtypes.astype(str)) == REJECTIONS_DTYPES


def test_year_end_is_parsed_from_words(tmp_path):
    extract = _read(tmp_path, [row(100001, **{"Date for financial year ending": "31 March 2019"}),
                               row(100002, **{"Date for financial year ending": "08 February 2018"}),
                               row(100003, **{"Date for financial year ending": ""})])
    assert extract.snapshot["year_end"].tolist()[:2] == [pd.Timestamp("2019-03-31"), pd.Timestamp("2018-02-08")]
    assert pd.isna(extract.snapshot.loc[2, "year_end"]) and extract.account["rejected"] == 0


def test_category_lists_keep_commas_inside_items():
    raw = pd.Series([f"{EDUCATION},{RELIEF}", "General public", "", "Arts,Something  new"])
    lists = split_categories(raw, {EDUCATION: "education", RELIEF: "relief", "Arts": "arts"})
    assert lists[0] == [EDUCATION, RELIEF]
    assert lists[1] == ["General public"]
    assert lists[2] == []
    assert lists[3] == ["Arts", "Something new"]
    lists[0].append("changed")
    assert split_categories(raw)[0] == [EDUCATION, RELIEF]


def test_category_items_take_the_vocabulary_spelling(tmp_path):
    odd = "The advancement of human rights, conflict resolution or reconciliation or the promotion of  " \
          "religious or racial harmony or equality and diversity"
    extract = _read(tmp_path, [row(100001, **{"What the charity does": f"the advancement of education,{odd}",
                                              "Who the charity helps": "General public,Martians"})])
    purposes = extract.snapshot.loc[0, "purposes"]
    assert purposes[0] == EDUCATION
    assert purposes[1].startswith("The advancement of human rights") and "  " not in purposes[1]
    assert extract.snapshot.loc[0, "beneficiaries"] == ["General public", "Martians"]
    assert "items outside the CCNI vocabulary kept: beneficiaries 1" in extract.account["notes"]


def test_missing_required_column_fails_naming_it(tmp_path):
    columns = tuple(c for c in COLUMNS if c != "Status")
    with pytest.raises(InputFileError, match="missing required column\\(s\\): Status"):
        _read(tmp_path, [row(100001)], columns=columns)


def test_optional_columns_may_be_absent(tmp_path):
    columns = tuple(c for c in COLUMNS if c not in ("Website", "Company number", "Sub charity number"))
    extract = _read(tmp_path, [row(100001)], columns=columns)
    assert extract.account["accepted"] == 1
    absent = "optional columns absent (left blank): Sub charity number, Website, Company number"
    assert absent in extract.account["notes"]
    assert not extract.snapshot.loc[0, "website_listed"]


def test_project_tables_have_canonical_dtypes(tmp_path):
    extract = _read(tmp_path, [row(100001, **{"Total income": "£1,200", "Total spending": "-50"}),
                               row(100002, Status="Recently registered", **{"Date for financial year ending": ""})])
    assert dict(extract.register.dtypes.astype(str)) == REGISTER_DTYPES
    assert dict(extract.returns.dtypes.astype(str)) == RETURNS_DTYPES
    assert extract.register["charity_status"].tolist() == ["Up-to-date", "Recently registered"]
    # One return per charity with a year end; the export gives no receipt date.
    assert extract.returns["charity_number"].tolist() == ["100001"]
    assert extract.returns.loc[0, "income_gbp"] == 1200.0 and extract.returns.loc[0, "expenditure_gbp"] == -50.0
    assert extract.returns["date_received"].isna().all()
    assert "1 rows with a negative amount kept" in extract.account["notes"]


def test_company_number_website_postcode_and_sub_charities(tmp_path):
    extract = _read(tmp_path, [
        row(100001, **{"Company number": "0", "Website": "none at present"}),
        row(100002, **{"Company number": "NI012345", "Website": "https://example.org",
                       "Public address": "2 Main St, Newry, bt35  6aa"}),
        row(100002, **{"Sub charity number": "2"}),
    ])
    snapshot = extract.snapshot.set_index("charity_number")
    assert pd.isna(snapshot.loc["100001", "company_number"]) and snapshot.loc["100002", "company_number"] == "NI012345"
    assert snapshot["website_listed"].tolist() == [False, True, True]
    assert snapshot.loc["100002", "postcode"] == "BT35 6AA"
    assert "100002-2" in snapshot.index and extract.account["rejected"] == 0


def test_website_listed_needs_a_web_address():
    values = pd.Series(["www.a.org", "n/a", "Facebook page only", "friends.org.uk", "12 Main St, Belfast", None])
    assert website_listed(values).tolist() == [True, False, False, True, False, False]


def test_extract_date_from_name_or_given(tmp_path):
    assert _read(tmp_path, [row()]).extract_date == pd.Timestamp("2020-06-30")
    given = read(write(tmp_path / "other.csv", [row()]), extract_date="2021-01-15")
    assert given.extract_date == pd.Timestamp("2021-01-15")
    fallback = read(write(tmp_path / "other.csv", [row(100001, **{"Date registered": "05/05/2019"})]))
    assert fallback.extract_date == pd.Timestamp("2019-05-05")
    assert "latest Date registered" in fallback.account["notes"]


def test_read_extract_finds_the_export_in_a_folder(tmp_path):
    write(tmp_path / FILE, [row()])
    (tmp_path / "notes.txt").write_text("not an export")
    assert locate("ccni", tmp_path).name == FILE
    extract = read_extract("ccni", tmp_path)
    assert extract.dataset == "ccni" and len(extract.snapshot) == 1
    assert "ccni" in ADAPTERS
    with pytest.raises(ValueError, match="unknown dataset"):
        read_extract("ccew", tmp_path)
    (tmp_path / "charity-register-2021-06-30.csv").write_bytes((tmp_path / FILE).read_bytes())
    with pytest.raises(InputFileError, match="expected one ccni export"):
        locate("ccni", tmp_path)


def test_every_row_accounted_for_in_a_larger_file(tmp_path):
    rows = [row(100001 + i, Status=["Up-to-date", "In default", "Removed"][i % 3]) for i in range(60)]
    rows[7]["Total spending"] = "?"
    rows[8]["Status"] = ""
    extract = _read(tmp_path, rows)
    assert _balanced(extract)
    assert extract.account["rejected"] == 2 and np.array_equal(extract.rejections["row"].to_numpy(), [8, 9])
