"""OSCR's formats as Arrow string columns: dates, times, whole numbers, probabilities, charity
numbers and multi-valued cells, and the few Arrow operations that assemble text from them.

Everything here is vectorised over charities: each distinct value is formatted once in Python and
the strings are gathered with Arrow, so a world of millions of charities never loops per row.
Columns are returned as Arrow string arrays, which the simulator turns into pandas string columns
without copying. Nothing here draws a random number.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

# pandas keeps its str columns as Arrow large strings: building them so avoids a copy per column.
TEXT = pa.large_string()


def repeat(value: str, n: int) -> pa.Array:
    """The same string n times."""
    return pa.repeat(pa.scalar(value, TEXT), n)


def gather(values, index: np.ndarray) -> pa.Array:
    """Arrow strings values[index]: distinct strings formatted once, gathered per row."""
    return pa.array(list(values), type=TEXT).take(pa.array(index))


def _text(value):
    return pa.scalar(value, TEXT) if isinstance(value, str) else value


def join(*parts) -> pa.Array:
    """Element-wise concatenation of Arrow string arrays and plain strings."""
    return pc.binary_join_element_wise(*map(_text, parts), _text(""))


def choose(condition: np.ndarray, when_true, when_false) -> pa.Array:
    """Element-wise choice between Arrow strings or plain strings."""
    return pc.if_else(pa.array(condition, type=pa.bool_()), _text(when_true), _text(when_false))


def blank_unless(valid: np.ndarray, values: pa.Array) -> pa.Array:
    """values where valid, the empty string elsewhere (OSCR writes blanks, never nulls)."""
    return choose(valid, values, "")


def format_days(
    days: np.ndarray, valid: np.ndarray | None = None, iso: np.ndarray | None = None
) -> pa.Array:
    """Day numbers as "dd/mm/yyyy" ("yyyy-mm-dd" where iso), blank where not valid."""
    days = np.asarray(days, dtype=np.int64)
    valid = np.ones(len(days), bool) if valid is None else valid
    if not valid.any():
        return repeat("", len(days))
    lo, hi = int(days[valid].min()), int(days[valid].max())
    iso_table = np.datetime_as_string(np.arange(lo, hi + 1).astype("datetime64[D]")).tolist()
    dmy_table = [f"{s[8:10]}/{s[5:7]}/{s[0:4]}" for s in iso_table]
    index = np.where(valid, days - lo, len(iso_table))
    if iso is not None:
        index = np.where(iso & valid, index + len(iso_table) + 1, index)
    return gather(dmy_table + [""] + iso_table, index)


def format_times(minutes: np.ndarray) -> pa.Array:
    """Minutes after midnight as "HH:MM"."""
    return gather((f"{m // 60:02d}:{m % 60:02d}" for m in range(1440)), minutes)


def format_ints(values: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    """Whole numbers as plain digits ("12345"); blank where not valid."""
    digits = pc.cast(pa.array(np.asarray(values, dtype=np.int64)), TEXT)
    return digits if valid is None else blank_unless(valid, digits)


def format_probabilities(p: np.ndarray) -> pa.Array:
    """Probabilities in [0, 1] with six decimals ("0.004512"), never in exponent form."""
    micro = np.rint(np.asarray(p) * 1e6).astype(np.int64)
    fraction = pc.utf8_lpad(pc.cast(pa.array(micro % 1_000_000), TEXT), 6, "0")
    return join(pc.cast(pa.array(micro // 1_000_000), TEXT), ".", fraction)


def format_charity_numbers(numbers: np.ndarray) -> pa.Array:
    """Register numbers as "SC" and six digits (more digits only past SC999999)."""
    return join("SC", pc.utf8_lpad(pc.cast(pa.array(numbers), TEXT), 6, "0"))


def format_item_sets(masks: np.ndarray, items, valid: np.ndarray | None = None) -> pa.Array:
    """Bitmasks as OSCR's multi-valued cells: "'item one','item two'" in vocabulary order."""
    items = list(items)
    distinct, index = np.unique(masks, return_inverse=True)
    cells = [
        ",".join(f"'{item}'" for j, item in enumerate(items) if mask >> j & 1)
        for mask in distinct.tolist()
    ]
    values = gather(cells, index)
    return values if valid is None else blank_unless(valid, values)
