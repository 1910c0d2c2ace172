"""Cutting a register of millions into ranges of charity numbers.

Every feature, score and reason is one charity's own history, so the work can be done for a range
of charity numbers at a time, with that range's rows of each table, and the pieces put together
give the same result as the whole. Tables sorted by charity number (as ingest writes them) are
sliced without a copy; others are filtered.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from risk_model.ingest.parsing import is_in

# Charities worked on together; bounds memory on registers of millions.
PARTITION_CHARITIES = 200_000


def charity_ranges(numbers: pd.Series, size: int) -> list[tuple[str, str]]:
    """Sorted charity numbers cut into consecutive (first, last) ranges of at most `size` charities."""
    ordered = np.sort(numbers.dropna().unique().astype(object))
    return [(ordered[i], ordered[min(i + size, len(ordered)) - 1]) for i in range(0, len(ordered), size)]


def rows_between(table: pd.DataFrame, first: str, last: str) -> pd.DataFrame:
    """Rows of `table` whose charity number is in [first, last]; a slice when the table is sorted by it."""
    numbers = table["charity_number"]
    if numbers.is_monotonic_increasing:
        start, stop = numbers.searchsorted(first, side="left"), numbers.searchsorted(last, side="right")
        return table.iloc[start:stop]
    return table.loc[numbers.between(first, last).fillna(False).to_numpy(dtype=bool)]


def rows_of(table: pd.DataFrame, numbers: pd.Index, first: str, last: str) -> pd.DataFrame:
    """The rows of `table` for just these charities (a sample of the register need not read the rest)."""
    rows = rows_between(table, first, last) if first else table
    return rows.loc[is_in(rows["charity_number"], numbers)] if len(rows) else rows
