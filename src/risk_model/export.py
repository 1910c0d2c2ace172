"""CSV files written for people to open: text a spreadsheet would run as a formula is neutralised.

A cell that begins with `=`, `+`, `-`, `@`, a tab or a carriage return is a formula to Excel,
LibreOffice and Google Sheets (a charity named `=HYPERLINK(...)` would run when the list is
opened). Such text cells get a leading apostrophe, which spreadsheets show as text and hide.
Text that already begins with an apostrophe gets one more, so that `read_csv` gives back exactly
what was written. Numbers are left alone: a negative amount stays a number. Every CSV the project
writes goes through here: the lists, ingest's rejections and accounts, the audit's tables and the
tables logged to MLflow, from the command line and the service alike.
"""

from __future__ import annotations

from pathlib import Path
from typing import TextIO

import pandas as pd

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value):
    """The value, with an apostrophe before text a spreadsheet would read as a formula (or that
    begins with an apostrophe, so that the one added can always be told apart)."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS + ("'",)):
        return "'" + value
    return value


def restored_cell(value):
    """What `safe_cell` was given: one leading apostrophe removed."""
    return value[1:] if isinstance(value, str) and value.startswith("'") else value


def _text_columns(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if frame[c].dtype == object or pd.api.types.is_string_dtype(frame[c])]


def safe_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of the frame with every text cell made safe (numeric columns untouched)."""
    return frame.assign(**{c: frame[c].map(safe_cell) for c in _text_columns(frame)})


def write_csv(frame: pd.DataFrame, path: Path | TextIO) -> None:
    """Write a frame as CSV for people to open, formulas neutralised, to a file or an open text stream."""
    safe_frame(frame).to_csv(path, index=False)


def read_csv(path: Path, **options) -> pd.DataFrame:
    """Read back a CSV `write_csv` wrote, each text cell as it was before it was made safe."""
    frame = pd.read_csv(path, **options)
    return frame.assign(**{c: frame[c].map(restored_cell) for c in _text_columns(frame)})
