"""Adapters: one small module per regulator's register format, each giving the same result.

An adapter reads one regulator's file and returns a ``RegulatorExtract``: the project's
canonical ``register`` and ``returns`` tables (``ingest.REGISTER_DTYPES`` and
``ingest.RETURNS_DTYPES``), a ``snapshot`` table of the regulator's own fields with a label where
the regulator publishes one, and the rejection report and account that explain every row read.

Adding a regulator means adding a module that exposes

    NAME: str                       # the --dataset name, e.g. "ccni"
    FILE_PATTERN: re.Pattern[str]   # how its export is named, to find it in a folder
    def read(path, *, extract_date=None) -> RegulatorExtract

and one line in ``ADAPTERS`` below. Nothing else in the project needs to change.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pandas as pd

from risk_model.ingest.parsing import InputFileError

# dataset name -> module holding its adapter (imported on first use).
ADAPTERS: dict[str, str] = {
    "ccni": "risk_model.ingest.adapters.ccni",
}


@dataclass(frozen=True)
class RegulatorExtract:
    """One regulator's register export, read: canonical tables, its own fields, and an account of every row."""

    dataset: str
    extract_date: pd.Timestamp
    register: pd.DataFrame  # canonical register table, one row per accepted charity
    returns: pd.DataFrame  # canonical returns table: each charity's latest financials
    snapshot: pd.DataFrame  # the regulator's own fields, one row per accepted charity, with label
    rejections: pd.DataFrame  # file, row, line, field, value, reason (ingest.REJECTIONS_DTYPES)
    account: dict  # file, encoding, rows_read, accepted, rejected, notes

    def label_counts(self) -> pd.DataFrame:
        """Accepted rows per regulator status, with the label each status maps to."""
        counts = self.snapshot.groupby(["status", "label_role"], dropna=False, sort=False).size()
        return counts.rename("charities").reset_index().sort_values("charities", ascending=False,
                                                                     ignore_index=True)


def adapter(dataset: str) -> ModuleType:
    """The adapter module for a dataset name."""
    key = dataset.strip().lower()
    if key not in ADAPTERS:
        raise ValueError(f"unknown dataset {dataset!r}; known: {', '.join(sorted(ADAPTERS))}")
    return importlib.import_module(ADAPTERS[key])


def locate(dataset: str, path: Path) -> Path:
    """The export file itself, or the one file in a folder named as the dataset's exports are."""
    path = Path(path)
    if path.is_file():
        return path
    if not path.is_dir():
        raise InputFileError(f"{path}: no such file or folder")
    pattern = adapter(dataset).FILE_PATTERN
    found = sorted(p for p in path.iterdir() if p.is_file() and pattern.fullmatch(p.name))
    if len(found) != 1:
        listed = ", ".join(p.name for p in found) or "none"
        raise InputFileError(f"{path}: expected one {dataset} export matching {pattern.pattern}, found {listed}")
    return found[0]


def read_extract(dataset: str, path: Path, *, extract_date: pd.Timestamp | str | None = None) -> RegulatorExtract:
    """Read a regulator's export (a file, or a folder holding one) with that regulator's adapter."""
    return adapter(dataset).read(locate(dataset, path), extract_date=extract_date)
