"""A file's header row matched to its column contract, once for every kind of file (register, former
charities, returns, case log and other regulators' exports).

A header names its column exactly or loosely (``domain.names.loose_key``: case, spacing and
punctuation aside), so "Date received" and " date  Received " are read as "Date Received" and the
file's account notes say so. A required column that no header names fails at once, naming the file
and the column, and the header nearest to it when one is close:

    returns.csv: missing required column(s): Date Received (the file has 'Recieved Date': did you mean
    'Date Received'?)
"""

from __future__ import annotations

from dataclasses import dataclass

from risk_model.domain.names import loose_key, nearest
from risk_model.ingest.parsing import InputFileError


@dataclass(frozen=True)
class HeaderMatch:
    """How a header row reads: headers matched loosely, renamed to their columns, and the note saying so."""

    renames: dict[str, str]  # header as written -> the column it names
    notes: tuple[str, ...]


def match_headers(name: str, headers: list[str], layout: tuple[str, ...], required: tuple[str, ...]) -> HeaderMatch:
    """Match file `name`'s `headers` to the columns of `layout`; InputFileError if a `required` one is missing."""
    present = set(headers)
    by_key = {loose_key(column): column for column in layout}
    renames: dict[str, str] = {}
    for header in headers:
        column = by_key.get(loose_key(header))
        # An exact header wins; of several loose ones, the first.
        if header not in layout and column and column not in present and column not in renames.values():
            renames[header] = column
    named = present | set(renames.values())
    missing = [column for column in required if column not in named]
    if missing:
        unmatched = [h for h in headers if h not in layout and h not in renames]
        hints = [f"the file has {near!r}: did you mean {column!r}?"
                 for column in missing if (near := nearest(column, unmatched))]
        raise InputFileError(f"{name}: missing required column(s): {', '.join(missing)}"
                             + (f" ({'; '.join(hints)})" if hints else ""))
    notes = ("headers matched loosely: " + ", ".join(f"{h!r} as {c!r}" for h, c in renames.items()),) if renames else ()
    return HeaderMatch(renames, notes)
