"""The ingested tables: their canonical dtypes, the IngestResult that carries them, writing them to a
folder and reading them back, and a fingerprint of a table's content.

Canonical dtypes (``string`` is pandas' nullable string dtype; blank text is NA):

- register: charity_number, charity_name and the other text columns ``string``;
  registered_date, ceased_date ``datetime64[ns]`` at midnight (ceased_date NaT for current
  charities); purposes, beneficiaries, activities ``object`` holding lists of ``str``;
  removal_category ``string`` (NA for current charities); source_file ``string``;
  source_row ``int64`` (1-based data row). One row per charity number, sorted by it.
- returns: charity_number ``string``; year_end, date_received ``datetime64[ns]`` (date_received
  NaT when the return has not been received); money (``*_gbp``) and counts ``float64``, NaN when
  unknown. Sorted by charity_number, year_end.
- case_log: charity_number, event, outcome ``string``; date ``datetime64[ns]``.
  Sorted by charity_number, date.
- rejections: file, field, value (the raw text), reason ``string``; row (1-based data row,
  header excluded) and line (physical line, header is line 1; exact unless the file has blank
  lines, which the reader skips) ``int64``. A row with several failures has several lines.
- accounts: file, encoding, notes ``string``; rows_read, accepted, rejected ``int64``.

Nothing here reads a regulator's file or decides whether a row is accepted: that is
``ingest.checks`` (one file) and ``ingest.folder`` (a folder of them).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from risk_model.domain import columns as C
from risk_model.export import read_csv, write_csv

LIST_COLUMNS = ("purposes", "beneficiaries", "activities")
REGISTER_DTYPES: dict[str, str] = {
    **{name: "string" for name in C.REGISTER_CANONICAL.values()},
    "registered_date": "datetime64[ns]", "ceased_date": "datetime64[ns]",
    **{name: "object" for name in LIST_COLUMNS},
    "removal_category": "string", "source_file": "string", "source_row": "int64",
}
RETURNS_DTYPES: dict[str, str] = {
    **{name: "float64" for name in C.RETURNS_CANONICAL.values()},
    "charity_number": "string", "year_end": "datetime64[ns]", "date_received": "datetime64[ns]",
}
CASE_LOG_DTYPES: dict[str, str] = {
    "charity_number": "string", "date": "datetime64[ns]", "event": "string", "outcome": "string",
}
REJECTIONS_DTYPES: dict[str, str] = {
    "file": "string", "row": "int64", "line": "int64", "field": "string", "value": "string",
    "reason": "string",
}
ACCOUNTS_DTYPES: dict[str, str] = {
    "file": "string", "encoding": "string", "rows_read": "int64", "accepted": "int64",
    "rejected": "int64", "notes": "string",
}


@dataclass(frozen=True)
class IngestResult:
    """Canonical tables plus the rejections and per-file accounts that explain every input row."""

    register: pd.DataFrame
    returns: pd.DataFrame
    case_log: pd.DataFrame
    rejections: pd.DataFrame
    accounts: pd.DataFrame


def with_dtypes(frame: pd.DataFrame, dtypes: dict[str, str]) -> pd.DataFrame:
    """The frame with exactly the columns of `dtypes`, in its order and with its dtypes."""
    return frame.reindex(columns=list(dtypes)).astype(dtypes)


# --- written and read back -----------------------------------------------------------------

_TABLES = {"register": REGISTER_DTYPES, "returns": RETURNS_DTYPES, "case_log": CASE_LOG_DTYPES}
_REPORTS = {"rejections": REJECTIONS_DTYPES, "accounts": ACCOUNTS_DTYPES}


def write_ingested(result: IngestResult, out_dir: Path) -> dict[str, Path]:
    """Write the canonical tables as parquet and the rejections and accounts as CSV."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {name: out_dir / f"{name}.parquet" for name in _TABLES}
    paths |= {name: out_dir / f"{name}.csv" for name in _REPORTS}
    for name in _TABLES:
        getattr(result, name).to_parquet(paths[name], index=False)
    for name in _REPORTS:
        write_csv(getattr(result, name), paths[name])
    return paths


def is_ingested_folder(folder: Path) -> bool:
    """Whether `folder` holds what write_ingested writes (then read it back rather than ingest it)."""
    names = [f"{name}.parquet" for name in _TABLES] + [f"{name}.csv" for name in _REPORTS]
    return all((Path(folder) / name).is_file() for name in names)


def read_ingested(out_dir: Path) -> IngestResult:
    """Read back what write_ingested wrote, with the canonical dtypes restored."""
    out_dir = Path(out_dir)
    frames = {name: pd.read_parquet(out_dir / f"{name}.parquet") for name in _TABLES}
    for name in LIST_COLUMNS:
        # Parquet hands list columns back as arrays; the canonical form is a list of str.
        frames["register"][name] = frames["register"][name].map(lambda v: [] if v is None else [str(i) for i in v])
    frames |= {name: read_csv(out_dir / f"{name}.csv", dtype=str, keep_default_na=False) for name in _REPORTS}
    return IngestResult(**{name: with_dtypes(frames[name], dtypes) for name, dtypes in (_TABLES | _REPORTS).items()})


# --- fingerprint ---------------------------------------------------------------------------


def _hashable(values: pd.Series) -> pd.Series:
    if values.dtype.kind == "M":
        return pd.Series(values.to_numpy(dtype="datetime64[ns]").view("int64"))
    if values.dtype.kind in "fiub":
        # One NaN bit pattern, so equal tables hash equal however their NaNs were made.
        return pd.Series(np.where(values.isna(), np.nan, values.to_numpy(dtype="float64")))
    as_text = values
    if values.dtype == object:
        # list columns hash as their items joined; text columns need no call per value
        as_text = values.map(lambda v: "\x1f".join(map(str, v)) if isinstance(v, (list, tuple, np.ndarray)) else v)
    return pd.Series(as_text.astype(object).where(as_text.notna(), "\x00NA").astype(str).to_numpy(dtype=object))


def table_fingerprint(df: pd.DataFrame) -> str:
    """Stable sha256 of a table's content: column names and values, columns in sorted order."""
    digest = hashlib.sha256()
    for name in sorted(df.columns):
        digest.update(f"{name}\x00{len(df)}\x00".encode())
        digest.update(pd.util.hash_pandas_object(_hashable(df[name]), index=False).to_numpy(dtype="uint64").tobytes())
    return digest.hexdigest()


def infer_extract_date(register: pd.DataFrame, returns: pd.DataFrame, case_log: pd.DataFrame) -> pd.Timestamp:
    """The latest date the data know of: a proxy for when they were extracted."""
    candidates = [
        register["registered_date"].max(), register["ceased_date"].max(),
        returns["date_received"].max(), case_log["date"].max(),
    ]
    return pd.Timestamp(max(c for c in candidates if pd.notna(c))).normalize()
