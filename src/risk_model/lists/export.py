"""Lists written for people to open: text a spreadsheet would run as a formula is neutralised.

A cell that begins with `=`, `+`, `-`, `@`, a tab or a carriage return is a formula to Excel,
LibreOffice and Google Sheets (a charity named `=HYPERLINK(...)` would run when the list is
opened). Such text cells get a leading apostrophe, which spreadsheets show as text and hide.
Numbers are left alone: a negative amount stays a number. Every list CSV the command line and the
service write goes through here.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value):
    """The value, with an apostrophe before text a spreadsheet would read as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def safe_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of the frame with every text cell made safe (numeric columns untouched)."""
    text = [c for c in frame.columns if frame[c].dtype == object or pd.api.types.is_string_dtype(frame[c])]
    return frame.assign(**{c: frame[c].map(safe_cell) for c in text})


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    """Write a frame as CSV for people to open, formulas neutralised."""
    safe_frame(frame).to_csv(path, index=False)
