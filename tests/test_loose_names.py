"""Names as files write them: headers matched to their columns whatever their case and spacing, a near
miss suggested when a required column is missing, and areas put in OSCR's own spelling, every such
match stated in the file's account notes."""

from __future__ import annotations

import pytest

from risk_model.domain import columns as C
from risk_model.domain import vocab
from risk_model.domain.names import loose_key, nearest
from risk_model.ingest.adapters import ccni
from risk_model.ingest.folder import ingest_folder
from risk_model.ingest.parsing import InputFileError
from tests.support.ccni import row as ccni_row
from tests.support.files import CASE_LOG, REGISTER, RETURNS, tiny_folder, write_rows


def _notes(result, file: str) -> str:
    return result.accounts.set_index("file").loc[file, "notes"]


@pytest.mark.parametrize("written", ["Date received", " date  Received ", "DATE RECEIVED"])
def test_a_header_in_another_case_or_spacing_is_read_and_noted(written, tmp_path):
    result = ingest_folder(tiny_folder(tmp_path, returns=[*RETURNS[:2], written, *RETURNS[3:]]))
    assert result.returns["date_received"].notna().all() and len(result.returns) == 2
    assert f"headers matched loosely: {written.strip()!r} as 'Date Received'" in _notes(result, "returns.csv")


def test_every_kind_of_file_matches_its_headers_loosely(tmp_path):
    result = ingest_folder(tiny_folder(tmp_path, register=[h.lower() for h in REGISTER],
                                   case_log=[h.upper() for h in CASE_LOG]))
    assert len(result.register) == 2 and result.case_log["event"].tolist() == ["concern_received"]
    assert "'charity name' as 'Charity Name'" in _notes(result, "register.csv")
    assert "'EVENT' as 'Event'" in _notes(result, "case_log.csv")
    assert "matched loosely" not in _notes(result, "returns.csv")  # exact headers: nothing to say


def test_an_exact_header_wins_over_a_loose_one(tmp_path):
    header = [*RETURNS, "date received"]
    folder = tiny_folder(tmp_path)
    write_rows(folder / "returns.csv", header, [["SC000001", "31/03/2020", "01/10/2020", "1000", "900", "junk"]])
    result = ingest_folder(folder)
    assert result.returns["date_received"].tolist()[0].strftime("%Y-%m-%d") == "2020-10-01"
    assert "extra columns ignored: date received" in _notes(result, "returns.csv")


def test_a_missing_required_column_suggests_the_near_miss(tmp_path):
    folder = tiny_folder(tmp_path, returns=[*RETURNS[:2], "Recieved Date", *RETURNS[3:]])
    with pytest.raises(InputFileError) as raised:
        ingest_folder(folder)
    message = str(raised.value)
    assert message.startswith("returns.csv: missing required column(s): Date Received")
    assert "the file has 'Recieved Date': did you mean 'Date Received'?" in message


def test_no_near_miss_is_suggested_when_nothing_is_close(tmp_path):
    with pytest.raises(InputFileError) as raised:
        ingest_folder(tiny_folder(tmp_path, case_log=["Charity Number", "Date", "Event", "Auditor"]))
    assert str(raised.value) == "case_log.csv: missing required column(s): Outcome"


def test_no_two_columns_of_a_file_share_a_loose_name():
    for layout in (C.FORMER_COLUMNS, C.RETURNS_COLUMNS, C.CASE_LOG_COLUMNS, ccni.COLUMNS):
        keys = [loose_key(c) for c in layout]
        assert len(set(keys)) == len(keys), layout


def test_the_ccni_adapter_matches_its_headers_loosely_too(tmp_path):
    renamed = {"Status": "status", "Total income": "Total  Income"}
    header = [renamed.get(c, c) for c in ccni.COLUMNS]
    raw = ccni_row()
    write_rows(tmp_path / "charity-register-2020-06-30.csv", header, [[raw[c] for c in ccni.COLUMNS]])
    extract = ccni.read(tmp_path / "charity-register-2020-06-30.csv")
    assert extract.account["accepted"] == 1 and extract.snapshot["status"].tolist() == ["Up-to-date"]
    assert "'status' as 'Status'" in extract.account["notes"]
    header[header.index("status")] = "Statuss"
    write_rows(tmp_path / "charity-register-2020-06-30.csv", header, [[raw[c] for c in ccni.COLUMNS]])
    with pytest.raises(InputFileError, match=r"Status \(the file has 'Statuss': did you mean 'Status'\?\)"):
        ccni.read(tmp_path / "charity-register-2020-06-30.csv")


AREA_VARIANTS = {
    "Perth & Kinross": ["Perth and Kinross", "perth  &  kinross", "PERTH AND KINROSS", "Perth & Kinross Council"],
    "Argyll & Bute": ["Argyll and Bute", "Argyll & Bute", "Earra-Ghàidheal agus Bòd"],
    "Western Isles": ["Na h-Eileanan Siar", "Eilean Siar", "Western Isles", "Comhairle nan Eilean Siar",
                      "na h-eileanan siar"],
    "City of Edinburgh": ["Edinburgh", "City of Edinburgh Council"],
    "Highland": ["The Highland Council"],
}


def test_the_spellings_are_oscrs_own():
    # OSCR's register download (the former-charities file of July 2020) spells these areas so.
    assert {"Perth & Kinross", "Argyll & Bute", "Western Isles", "City of Edinburgh", "Highland"} <= set(
        vocab.MAIN_OPERATING_LOCATIONS)
    assert set(vocab.AREA_ALIASES) <= set(vocab.MAIN_OPERATING_LOCATIONS)


def test_area_variants_become_one_area_with_the_mapping_in_the_accounts(tmp_path):
    written = [v for variants in AREA_VARIANTS.values() for v in variants]
    result = ingest_folder(tiny_folder(tmp_path, areas=written))
    areas = result.register.set_index("charity_number")["main_operating_location"]
    expected = [oscr for oscr, variants in AREA_VARIANTS.items() for _ in variants]
    assert areas.tolist() == expected
    notes = _notes(result, "register.csv")
    changed = sum(v != oscr for oscr, variants in AREA_VARIANTS.items() for v in variants)
    assert f"Main Operating Location: {changed} values normalised to OSCR's spelling: " in notes
    assert "'Perth and Kinross' -> 'Perth & Kinross' (1)" in notes
    assert "outside the OSCR vocabulary" not in notes


def test_an_unknown_area_is_kept_and_reported_with_a_near_match(tmp_path):
    result = ingest_folder(tiny_folder(tmp_path, areas=["Edinbrugh", "Atlantis", "Atlantis", "Fife"]))
    assert result.register["main_operating_location"].tolist() == ["Edinbrugh", "Atlantis", "Atlantis", "Fife"]
    notes = _notes(result, "register.csv")
    assert ("Main Operating Location: 3 values outside the OSCR vocabulary kept: 'Atlantis' (2), "
            "'Edinbrugh' (1; did you mean 'City of Edinburgh'?)") in notes
    assert "normalised" not in notes


def test_the_near_match_ignores_case_spacing_and_word_order():
    assert nearest("Recieved Date", ["Year End", "Date Received"]) == "Date Received"
    assert nearest("num_leaf", ["num_leaves", "max_depth"]) == "num_leaves"
    assert nearest("Auditor", ["Outcome", "Event"]) is None
