"""Lists written for people to open: no cell a spreadsheet would run as a formula."""

from __future__ import annotations

import numpy as np
import pandas as pd

from risk_model.export import read_csv, safe_cell, safe_frame, write_csv


def test_text_that_starts_a_formula_gets_an_apostrophe_and_other_text_does_not():
    for text in ("=1+1", "+44 131", "-2", "@SUM(A1)", "\tx", "\rx", '=HYPERLINK("http://x","y")'):
        assert safe_cell(text) == "'" + text
    for value in ("Friends of the Park", "1=1", "", None, -5.0, 3, np.nan):
        assert safe_cell(value) is value


def test_a_written_list_keeps_its_numbers_and_neutralises_its_text(tmp_path):
    frame = pd.DataFrame({"charity_name": ["=cmd|' /C calc'!A0", "Ordinary Trust"], "score": [-0.5, 0.25],
                          "area": pd.Series(["@here", None], dtype="string")})
    write_csv(frame, tmp_path / "list.csv")
    back = pd.read_csv(tmp_path / "list.csv", dtype={"charity_name": str, "area": str})
    assert back["charity_name"].tolist() == ["'=cmd|' /C calc'!A0", "Ordinary Trust"]
    assert back["score"].tolist() == [-0.5, 0.25] and back["area"].iloc[0] == "'@here"
    assert frame["charity_name"].iloc[0].startswith("=")  # the caller's frame is not changed
    pd.testing.assert_frame_equal(safe_frame(frame)[["score"]], frame[["score"]])


def test_text_read_back_is_what_was_written_apostrophes_included(tmp_path):
    texts = ["=1+1", "'=1+1", "'plain", "''", "plain", "-", "'", "@"]
    write_csv(pd.DataFrame({"value": texts}), tmp_path / "t.csv")
    written = pd.read_csv(tmp_path / "t.csv", dtype=str, keep_default_na=False)["value"].tolist()
    assert not any(cell.startswith(("=", "+", "-", "@")) for cell in written)
    assert read_csv(tmp_path / "t.csv", dtype=str, keep_default_na=False)["value"].tolist() == texts

