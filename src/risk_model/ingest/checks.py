"""Checking one regulator file: read it in chunks, type every row, list every problem a row has, and
split the file into its accepted rows, its rejections and its line in the accounts.

A file is parsed ``chunk_rows`` rows at a time, so only one chunk of raw text is in memory; the
result does not depend on the chunk size. Problems are found by the parsers (``ingest.parsing``),
the schemas (``ingest.schemas``) and, for repeated keys, here; each names the row's position in
the file, the raw field and value, and a reason. Every row read is accepted or rejected, never
both: ``finalise`` checks rows_read == accepted + rejected. A file's header is matched to its
columns by ``ingest.headers``, and register vocabularies are put in OSCR's spelling by
``ingest.vocabulary``; both say what they did in the file's account notes.

Checks that need another file (a return whose charity is on neither register file, a former
charity still on the register) belong to ``ingest.folder``. Nothing here finds a folder's files
or writes anything.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from risk_model.domain import columns as C
from risk_model.domain.names import loose_key
from risk_model.ingest.headers import match_headers
from risk_model.ingest.parsing import (
    DATE_FORMATS_TEXT,
    clean_text,
    line_numbers,
    normalise_charity_numbers,
    normalise_codes,
    normalise_removal_reasons,
    parse_dates,
    parse_multi_valued,
    parse_numbers,
    read_raw_csv_chunks,
)
from risk_model.ingest.schemas import (
    REGISTER_KEY,
    RETURN_KEY,
    UniqueKey,
    case_log_schema,
    register_schema,
    returns_schema,
    schema_failures,
)
from risk_model.ingest.tables import (
    CASE_LOG_DTYPES,
    LIST_COLUMNS,
    REGISTER_DTYPES,
    REJECTIONS_DTYPES,
    RETURNS_DTYPES,
    with_dtypes,
)
from risk_model.ingest.vocabulary import SINGLE_VALUED, normalise_vocabulary, normalised_note, unknown_notes

# Rows parsed at a time: bounds the raw text held in memory when a file has millions of rows.
CHUNK_ROWS = 1_000_000
_DATE_REASON = f"not a valid date (expected {DATE_FORMATS_TEXT})"


@dataclass(frozen=True)
class CheckedFile:
    """One file after its checks: every row in ``table``, problems (position, field, value, reason)."""

    name: str
    encoding: str
    table: pd.DataFrame
    problems: pd.DataFrame
    lines: np.ndarray
    notes: tuple[str, ...]

    def with_problems(self, extra: pd.DataFrame) -> CheckedFile:
        return replace(self, problems=concat_problems([self.problems, extra]))

    def clean(self) -> np.ndarray:
        mask = np.ones(len(self.table), dtype=bool)
        mask[self.problems["position"].to_numpy(dtype="int64")] = False
        return mask


# --- problems ------------------------------------------------------------------------------


def flag(raw: pd.DataFrame, positions: np.ndarray, field: str, reason) -> pd.DataFrame:
    """Problems of rows at `positions` in one raw `field`, with the raw values and the reason(s)."""
    values = raw[field].iloc[positions].to_numpy(dtype=object) if field in raw.columns else ""
    return pd.DataFrame({"position": np.asarray(positions, dtype="int64"), "field": field, "value": values, "reason": reason})


def concat_problems(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """Problem frames together, with one reason where a value was both unreadable and so blank."""
    empty = pd.DataFrame({"position": pd.Series(dtype="int64"), "field": [], "value": [], "reason": []})
    frame = pd.concat([empty, *[p for p in parts if len(p)]], ignore_index=True)
    # A value already reported as unparseable is blank to the schema; one reason is enough.
    blank = frame["reason"].eq("required value is blank")
    repeated = frame.duplicated(["position", "field"], keep=False) & blank
    return frame[~repeated].astype({"position": "int64"}).reset_index(drop=True)


def _schema_problems(schema, table: pd.DataFrame, raw: pd.DataFrame, to_raw: dict[str, str]) -> list[pd.DataFrame]:
    found = schema_failures(schema, table)
    return [
        flag(raw, group["position"].to_numpy(), to_raw[column], group["reason"].to_numpy())
        for column, group in found.groupby("column", sort=False)
    ]


def duplicates(table: pd.DataFrame, raw: pd.DataFrame, clean: np.ndarray, key: UniqueKey,
               field: str = "Charity Number") -> pd.DataFrame:
    """Later clean rows repeating the key of an earlier clean row, each naming that first row."""
    keys, what = list(key.fields), key.what
    candidates = table.loc[clean, keys]
    repeated = candidates.duplicated(keys, keep="first").to_numpy()
    positions = candidates.index.to_numpy()
    first = pd.Series(positions).groupby([candidates[k].to_numpy() for k in keys], sort=False).transform("min")
    reasons = "duplicate of row " + (first.to_numpy()[repeated] + 1).astype(str) + f" (same {what})"
    return flag(raw, positions[repeated], field, reasons)


# --- per-file checks -----------------------------------------------------------------------


def _read_checked(
    path: Path,
    layout: tuple[str, ...],
    required: tuple[str, ...],
    parse_chunk: Callable[[pd.DataFrame, int], tuple[pd.DataFrame, list[pd.DataFrame]]],
    dtypes: dict[str, str],
    chunk_rows: int,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, np.ndarray, list[str], str, tuple[str, ...]]:
    """Parse a file chunk by chunk: (table, raw charity numbers, problems, lines, columns, encoding, notes
    on its header).

    Headers are matched to `layout` first (``ingest.headers``), so `parse_chunk(raw, start)` sees the
    columns by their own names; it types one chunk and lists its problems by position in the chunk.
    Positions here are in the whole file. Only one chunk of raw text is held at a time.
    """
    tables, numbers, problems, lines = [], [], [], []
    columns: list[str] = []
    start, next_line, encoding, header = 0, 2, "", None
    for raw, encoding in read_raw_csv_chunks(path, chunk_rows):
        if header is None:
            header = match_headers(path.name, list(raw.columns), layout, required)
            columns = [header.renames.get(c, c) for c in raw.columns]
        raw = raw.rename(columns=header.renames) if header.renames else raw
        table, found = parse_chunk(raw, start)
        tables.append(with_dtypes(table, dtypes).set_axis(pd.RangeIndex(start, start + len(raw))))
        problems += [p.assign(position=p["position"] + start) for p in found if len(p)]
        numbers.append(raw["Charity Number"].astype("string"))
        chunk_lines, next_line = line_numbers(raw, next_line)
        lines.append(chunk_lines)
        start += len(raw)
    table = tables[0] if len(tables) == 1 else with_dtypes(pd.concat(tables), dtypes)
    raw_numbers = pd.DataFrame({"Charity Number": pd.concat(numbers, ignore_index=True)})
    return table, raw_numbers, concat_problems(problems), np.concatenate(lines), columns, encoding, header.notes


def _layout_notes(columns: list[str], rows: int, layout: tuple[str, ...]) -> list[str]:
    extra = [c for c in columns if c not in layout]
    return ([f"extra columns ignored: {', '.join(extra)}"] if extra else []) + (["no data rows"] if not rows else [])


def check_register(path: Path, *, former: bool | None, pattern: str, chunk_rows: int = CHUNK_ROWS) -> CheckedFile:
    """Check a register or former-charities file (former=None: tell which from its header)."""
    if former is None:
        with closing(read_raw_csv_chunks(path, 1)) as chunks:
            headers = {loose_key(h) for h in next(chunks)[0].columns}
        former = bool(headers & {loose_key("Ceased Date"), loose_key("Reason For Removal")})
    layout = C.FORMER_COLUMNS if former else C.REGISTER_COLUMNS
    to_raw = {**{v: k for k, v in C.REGISTER_CANONICAL.items()}, "removal_category": "Reason For Removal"}
    schema = register_schema(pattern, former=former)
    respelt: dict[str, list[pd.DataFrame]] = {field: [] for field in SINGLE_VALUED}

    def parse_chunk(raw: pd.DataFrame, start: int) -> tuple[pd.DataFrame, list[pd.DataFrame]]:
        blank = pd.Series("", index=raw.index, dtype="string")
        table, problems = {}, []
        for field, name in C.REGISTER_CANONICAL.items():
            values = raw[field] if field in raw.columns and field in layout else blank
            if name.endswith("_date"):
                table[name], invalid = parse_dates(values)
                problems.append(flag(raw, np.flatnonzero(invalid), field, _DATE_REASON))
            elif name in LIST_COLUMNS:
                table[name] = parse_multi_valued(values)
            elif name == C.CHARITY_NUMBER:
                table[name] = normalise_charity_numbers(values)
            elif field in SINGLE_VALUED:
                table[name], changes = normalise_vocabulary(field, clean_text(values))
                respelt[field].append(changes)
            else:
                table[name] = clean_text(values)
        table["removal_category"] = normalise_removal_reasons(table["removal_reason"]) if former else pd.NA
        table["source_file"] = path.name
        table["source_row"] = np.arange(start + 1, start + len(raw) + 1, dtype="int64")
        frame = with_dtypes(pd.DataFrame(table, index=raw.index), REGISTER_DTYPES)
        return frame, problems + _schema_problems(schema, frame, raw, to_raw)

    frame, numbers, problems, lines, columns, encoding, header = _read_checked(
        path, layout, C.FORMER_REQUIRED if former else C.REGISTER_REQUIRED, parse_chunk, REGISTER_DTYPES, chunk_rows)
    respelt_notes = [note for field, parts in respelt.items() for note in normalised_note(field, parts)]
    notes = (*header, *_layout_notes(columns, len(frame), layout), *respelt_notes, *unknown_notes(columns, frame))
    checked = CheckedFile(path.name, encoding, frame, problems, lines, notes)
    return checked.with_problems(duplicates(frame, numbers, checked.clean(), REGISTER_KEY))


def check_returns(path: Path, *, pattern: str, chunk_rows: int = CHUNK_ROWS) -> CheckedFile:
    """Check an annual-returns file (one return per charity and year end)."""
    schema = returns_schema(pattern)
    to_raw = {v: k for k, v in C.RETURNS_CANONICAL.items()}

    def parse_chunk(raw: pd.DataFrame, start: int) -> tuple[pd.DataFrame, list[pd.DataFrame]]:
        table, problems = {}, []
        for field, name in C.RETURNS_CANONICAL.items():
            values = raw[field] if field in raw.columns else pd.Series("", index=raw.index, dtype="string")
            if name == C.CHARITY_NUMBER:
                table[name] = normalise_charity_numbers(values)
                continue
            is_date = name in ("year_end", "date_received")
            table[name], invalid = (parse_dates if is_date else parse_numbers)(values)
            problems.append(flag(raw, np.flatnonzero(invalid), field, _DATE_REASON if is_date else "not a number"))
        frame = with_dtypes(pd.DataFrame(table, index=raw.index), RETURNS_DTYPES)
        return frame, problems + _schema_problems(schema, frame, raw, to_raw)

    frame, numbers, problems, lines, columns, encoding, header = _read_checked(
        path, C.RETURNS_COLUMNS, C.RETURNS_REQUIRED, parse_chunk, RETURNS_DTYPES, chunk_rows)
    notes = [*header, *_layout_notes(columns, len(frame), C.RETURNS_COLUMNS)]
    absent = [c for c in C.RETURNS_COLUMNS if c not in columns]
    notes += [f"optional columns absent (left blank): {', '.join(absent)}"] if absent else []
    checked = CheckedFile(path.name, encoding, frame, problems, lines, tuple(notes))
    return checked.with_problems(duplicates(frame, numbers, checked.clean(), RETURN_KEY))


def check_case_log(path: Path, *, pattern: str, chunk_rows: int = CHUNK_ROWS) -> CheckedFile:
    """Check a case-log file."""
    schema = case_log_schema(pattern)
    to_raw = {v: k for k, v in C.CASE_LOG_CANONICAL.items()}

    def parse_chunk(raw: pd.DataFrame, start: int) -> tuple[pd.DataFrame, list[pd.DataFrame]]:
        dates, invalid = parse_dates(raw["Date"])
        table = {
            "charity_number": normalise_charity_numbers(raw["Charity Number"]),
            "date": dates,
            "event": normalise_codes(raw["Event"]),
            "outcome": normalise_codes(raw["Outcome"]),
        }
        frame = with_dtypes(pd.DataFrame(table, index=raw.index), CASE_LOG_DTYPES)
        return frame, [flag(raw, np.flatnonzero(invalid), "Date", _DATE_REASON)] + _schema_problems(
            schema, frame, raw, to_raw)

    frame, _, problems, lines, columns, encoding, header = _read_checked(
        path, C.CASE_LOG_COLUMNS, C.CASE_LOG_REQUIRED, parse_chunk, CASE_LOG_DTYPES, chunk_rows)
    notes = (*header, *_layout_notes(columns, len(frame), C.CASE_LOG_COLUMNS))
    return CheckedFile(path.name, encoding, frame, problems, lines, notes)


def finalise(checked: CheckedFile) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Split a checked file into accepted rows, rejection rows and its account line."""
    clean = checked.clean()
    problems = checked.problems.sort_values("position", kind="stable")
    positions = problems["position"].to_numpy(dtype="int64")
    rejections = pd.DataFrame({
        "file": checked.name, "row": positions + 1, "line": checked.lines[positions],
        **{k: problems[k].to_numpy(dtype=object) for k in ("field", "value", "reason")},
    })
    accepted = checked.table[clean]
    account = {
        "file": checked.name, "encoding": checked.encoding, "rows_read": len(clean),
        "accepted": len(accepted), "rejected": len(np.unique(positions)), "notes": "; ".join(checked.notes),
    }
    if account["rows_read"] != account["accepted"] + account["rejected"]:
        raise RuntimeError(f"{checked.name}: rows_read != accepted + rejected")
    return accepted, with_dtypes(rejections, REJECTIONS_DTYPES), account

