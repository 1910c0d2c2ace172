"""Read a folder of regulator files into canonical tables, with an account of every row.

The folder holds ``register.csv`` (or OSCR's ``CharityExport-DD-Mon-YYYY.csv``), optionally
``former.csv`` (or ``CharityExport-Removed-*.csv``), ``returns.csv`` and ``case_log.csv``; any of
them may instead be a ``.zip`` holding one CSV, read in place. Other files are ignored.

Every data row ends in exactly one place: its canonical table, or ``rejections`` with every
reason it failed. ``accounts`` has one line per file, and rows_read == accepted + rejected.

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
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from risk_model.domain import columns as C
from risk_model.domain import vocab
from risk_model.ingest.parsing import (
    DATE_FORMATS_TEXT,
    InputFileError,
    clean_text,
    is_in,
    line_numbers,
    normalise_charity_numbers,
    normalise_codes,
    normalise_removal_reason,
    normalise_removal_reasons,
    parse_dates,
    parse_multi_valued,
    parse_numbers,
    read_raw_csv_chunks,
)
from risk_model.ingest.schemas import (
    DEFAULT_CHARITY_NUMBER_PATTERN,
    case_log_schema,
    register_schema,
    returns_schema,
    schema_failures,
)

__all__ = [
    "InputFileError", "IngestResult", "ingest_folder", "is_ingested_folder", "read_register_file", "write_ingested",
    "read_ingested", "table_fingerprint", "normalise_removal_reason", "normalise_removal_reasons",
]

_LIST_COLUMNS = ("purposes", "beneficiaries", "activities")
REGISTER_DTYPES: dict[str, str] = {
    **{name: "string" for name in C.REGISTER_CANONICAL.values()},
    "registered_date": "datetime64[ns]", "ceased_date": "datetime64[ns]",
    **{name: "object" for name in _LIST_COLUMNS},
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
# Rows parsed at a time: bounds the raw text held in memory when a file has millions of rows.
CHUNK_ROWS = 1_000_000
_DATE_REASON = f"not a valid date (expected {DATE_FORMATS_TEXT})"
_FILE_NAMES = {
    "register": re.compile(r"(register|CharityExport-\d{1,2}-[A-Za-z]{3}-\d{4})\.(csv|zip)", re.I),
    "former": re.compile(r"(former|CharityExport-Removed-.+)\.(csv|zip)", re.I),
    "returns": re.compile(r"returns\.(csv|zip)", re.I),
    "case_log": re.compile(r"case_log\.(csv|zip)", re.I),
}
_VOCABULARIES = {
    "Constitutional Form": vocab.CONSTITUTIONAL_FORMS, "Geographical Spread": vocab.GEOGRAPHICAL_SPREADS,
    "Main Operating Location": vocab.MAIN_OPERATING_LOCATIONS, "Regulatory Type": vocab.REGULATORY_TYPES,
    "Purposes": vocab.PURPOSES, "Beneficiaries": vocab.BENEFICIARIES, "Activities": vocab.ACTIVITIES,
}


@dataclass(frozen=True)
class IngestResult:
    """Canonical tables plus the rejections and per-file accounts that explain every input row."""

    register: pd.DataFrame
    returns: pd.DataFrame
    case_log: pd.DataFrame
    rejections: pd.DataFrame
    accounts: pd.DataFrame


@dataclass(frozen=True)
class _Checked:
    """One file after its checks: every row in ``table``, problems (position, field, value, reason)."""

    name: str
    encoding: str
    table: pd.DataFrame
    problems: pd.DataFrame
    lines: np.ndarray
    notes: tuple[str, ...]

    def with_problems(self, extra: pd.DataFrame) -> _Checked:
        return replace(self, problems=_concat_problems([self.problems, extra]))

    def clean(self) -> np.ndarray:
        mask = np.ones(len(self.table), dtype=bool)
        mask[self.problems["position"].to_numpy(dtype="int64")] = False
        return mask


# --- problems ------------------------------------------------------------------------------


def _flag(raw: pd.DataFrame, positions: np.ndarray, field: str, reason) -> pd.DataFrame:
    values = raw[field].iloc[positions].to_numpy(dtype=object) if field in raw.columns else ""
    return pd.DataFrame({"position": positions.astype("int64"), "field": field, "value": values, "reason": reason})


def _concat_problems(parts: list[pd.DataFrame]) -> pd.DataFrame:
    empty = pd.DataFrame({"position": pd.Series(dtype="int64"), "field": [], "value": [], "reason": []})
    frame = pd.concat([empty, *[p for p in parts if len(p)]], ignore_index=True)
    # A value already reported as unparseable is blank to the schema; one reason is enough.
    blank = frame["reason"].eq("required value is blank")
    repeated = frame.duplicated(["position", "field"], keep=False) & blank
    return frame[~repeated].astype({"position": "int64"}).reset_index(drop=True)


def _schema_problems(schema, table: pd.DataFrame, raw: pd.DataFrame, to_raw: dict[str, str]) -> list[pd.DataFrame]:
    found = schema_failures(schema, table)
    return [
        _flag(raw, group["position"].to_numpy(), to_raw[column], group["reason"].to_numpy())
        for column, group in found.groupby("column", sort=False)
    ]


def _duplicates(table: pd.DataFrame, raw: pd.DataFrame, clean: np.ndarray, keys: list[str], what: str) -> pd.DataFrame:
    """Later clean rows repeating the keys of an earlier clean row, each naming that first row."""
    candidates = table.loc[clean, keys]
    repeated = candidates.duplicated(keys, keep="first").to_numpy()
    positions = candidates.index.to_numpy()
    first = pd.Series(positions).groupby([candidates[k].to_numpy() for k in keys], sort=False).transform("min")
    reasons = "duplicate of row " + (first.to_numpy()[repeated] + 1).astype(str) + f" (same {what})"
    return _flag(raw, positions[repeated], "Charity Number", reasons)


def _unknown_charities(checked: _Checked, known: pd.Index, rejected_at: dict[str, str]) -> pd.DataFrame:
    numbers = checked.table[C.CHARITY_NUMBER]
    positions = np.flatnonzero(numbers.notna().to_numpy() & ~is_in(numbers, known))
    values = numbers.to_numpy(dtype=object)[positions]
    reasons = [
        f"the charity's register row was rejected ({rejected_at[n]})" if n in rejected_at
        else "charity number is on neither the register nor the former-charities file"
        for n in values
    ]
    return pd.DataFrame({"position": positions, "field": "Charity Number", "value": values, "reason": reasons})


# --- per-file checks -----------------------------------------------------------------------


def _require(name: str, raw: pd.DataFrame, required: tuple[str, ...]) -> None:
    missing = [c for c in required if c not in raw.columns]
    if missing:
        raise InputFileError(f"{name}: missing required column(s): {', '.join(missing)}")


def _vocabulary_notes(columns: list[str], table: pd.DataFrame) -> list[str]:
    counts = []
    for field, known in _VOCABULARIES.items():
        values = table[C.REGISTER_CANONICAL[field]].explode().dropna()
        unseen = int((~values.isin(list(known))).sum()) if field in columns else 0
        counts += [f"{field} {unseen}"] if unseen else []
    return [f"values outside the OSCR vocabulary kept: {', '.join(counts)}"] if counts else []


def _with_dtypes(frame: pd.DataFrame, dtypes: dict[str, str]) -> pd.DataFrame:
    return frame.reindex(columns=list(dtypes)).astype(dtypes)


def _read_checked(
    path: Path,
    required: tuple[str, ...],
    parse_chunk: Callable[[pd.DataFrame, int], tuple[pd.DataFrame, list[pd.DataFrame]]],
    dtypes: dict[str, str],
    chunk_rows: int,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, np.ndarray, list[str], str]:
    """Parse a file chunk by chunk: (table, raw charity numbers, problems, lines, columns, encoding).

    `parse_chunk(raw, start)` types one chunk and lists its problems by position in the chunk;
    positions here are in the whole file. Only one chunk of raw text is held at a time.
    """
    tables, numbers, problems, lines = [], [], [], []
    columns: list[str] = []
    start, next_line, encoding = 0, 2, ""
    for raw, encoding in read_raw_csv_chunks(path, chunk_rows):
        if not columns:
            _require(path.name, raw, required)
            columns = list(raw.columns)
        table, found = parse_chunk(raw, start)
        tables.append(_with_dtypes(table, dtypes).set_axis(pd.RangeIndex(start, start + len(raw))))
        problems += [p.assign(position=p["position"] + start) for p in found if len(p)]
        numbers.append(raw["Charity Number"].astype("string"))
        chunk_lines, next_line = line_numbers(raw, next_line)
        lines.append(chunk_lines)
        start += len(raw)
    table = tables[0] if len(tables) == 1 else _with_dtypes(pd.concat(tables), dtypes)
    raw_numbers = pd.DataFrame({"Charity Number": pd.concat(numbers, ignore_index=True)})
    return table, raw_numbers, _concat_problems(problems), np.concatenate(lines), columns, encoding


def _layout_notes(columns: list[str], rows: int, layout: tuple[str, ...]) -> list[str]:
    extra = [c for c in columns if c not in layout]
    return ([f"extra columns ignored: {', '.join(extra)}"] if extra else []) + (["no data rows"] if not rows else [])


def _check_register(path: Path, *, former: bool | None, pattern: str, chunk_rows: int = CHUNK_ROWS) -> _Checked:
    if former is None:
        with closing(read_raw_csv_chunks(path, 1)) as chunks:
            header = list(next(chunks)[0].columns)
        former = "Ceased Date" in header or "Reason For Removal" in header
    layout = C.FORMER_COLUMNS if former else C.REGISTER_COLUMNS
    to_raw = {**{v: k for k, v in C.REGISTER_CANONICAL.items()}, "removal_category": "Reason For Removal"}
    schema = register_schema(pattern, former=former)

    def parse_chunk(raw: pd.DataFrame, start: int) -> tuple[pd.DataFrame, list[pd.DataFrame]]:
        blank = pd.Series("", index=raw.index, dtype="string")
        table, problems = {}, []
        for field, name in C.REGISTER_CANONICAL.items():
            values = raw[field] if field in raw.columns and field in layout else blank
            if name.endswith("_date"):
                table[name], invalid = parse_dates(values)
                problems.append(_flag(raw, np.flatnonzero(invalid), field, _DATE_REASON))
            elif name in _LIST_COLUMNS:
                table[name] = parse_multi_valued(values)
            elif name == C.CHARITY_NUMBER:
                table[name] = normalise_charity_numbers(values)
            else:
                table[name] = clean_text(values)
        table["removal_category"] = normalise_removal_reasons(table["removal_reason"]) if former else pd.NA
        table["source_file"] = path.name
        table["source_row"] = np.arange(start + 1, start + len(raw) + 1, dtype="int64")
        frame = _with_dtypes(pd.DataFrame(table, index=raw.index), REGISTER_DTYPES)
        return frame, problems + _schema_problems(schema, frame, raw, to_raw)

    frame, numbers, problems, lines, columns, encoding = _read_checked(
        path, C.FORMER_REQUIRED if former else C.REGISTER_REQUIRED, parse_chunk, REGISTER_DTYPES, chunk_rows)
    notes = tuple(_layout_notes(columns, len(frame), layout) + _vocabulary_notes(columns, frame))
    checked = _Checked(path.name, encoding, frame, problems, lines, notes)
    return checked.with_problems(_duplicates(frame, numbers, checked.clean(), [C.CHARITY_NUMBER], "Charity Number"))


def _check_returns(path: Path, *, pattern: str, chunk_rows: int = CHUNK_ROWS) -> _Checked:
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
            problems.append(_flag(raw, np.flatnonzero(invalid), field, _DATE_REASON if is_date else "not a number"))
        frame = _with_dtypes(pd.DataFrame(table, index=raw.index), RETURNS_DTYPES)
        return frame, problems + _schema_problems(schema, frame, raw, to_raw)

    frame, numbers, problems, lines, columns, encoding = _read_checked(
        path, C.RETURNS_REQUIRED, parse_chunk, RETURNS_DTYPES, chunk_rows)
    notes = _layout_notes(columns, len(frame), C.RETURNS_COLUMNS)
    absent = [c for c in C.RETURNS_COLUMNS if c not in columns]
    notes += [f"optional columns absent (left blank): {', '.join(absent)}"] if absent else []
    checked = _Checked(path.name, encoding, frame, problems, lines, tuple(notes))
    keys = [C.CHARITY_NUMBER, "year_end"]
    return checked.with_problems(_duplicates(frame, numbers, checked.clean(), keys, "Charity Number and Year End"))


def _check_case_log(path: Path, *, pattern: str, chunk_rows: int = CHUNK_ROWS) -> _Checked:
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
        frame = _with_dtypes(pd.DataFrame(table, index=raw.index), CASE_LOG_DTYPES)
        return frame, [_flag(raw, np.flatnonzero(invalid), "Date", _DATE_REASON)] + _schema_problems(
            schema, frame, raw, to_raw)

    frame, _, problems, lines, columns, encoding = _read_checked(
        path, C.CASE_LOG_REQUIRED, parse_chunk, CASE_LOG_DTYPES, chunk_rows)
    notes = tuple(_layout_notes(columns, len(frame), C.CASE_LOG_COLUMNS))
    return _Checked(path.name, encoding, frame, problems, lines, notes)


def _finalise(checked: _Checked) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
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
    return accepted, _with_dtypes(rejections, REJECTIONS_DTYPES), account


# --- public API ----------------------------------------------------------------------------


def _locate(data_dir: Path, kind: str, *, required: bool) -> Path | None:
    found = sorted(p for p in data_dir.iterdir() if p.is_file() and _FILE_NAMES[kind].fullmatch(p.name))
    if len(found) > 1:
        raise InputFileError(f"{data_dir}: more than one {kind} file: {', '.join(p.name for p in found)}")
    if not found and required:
        raise InputFileError(f"{data_dir}: {kind}.csv (or {kind}.zip) is missing")
    return found[0] if found else None


def _sorted(table: pd.DataFrame, keys: list[str], dtypes: dict[str, str]) -> pd.DataFrame:
    return _with_dtypes(table, dtypes).sort_values(keys, kind="stable").reset_index(drop=True)


def _drop_former_on_register(former: _Checked, register: _Checked) -> _Checked:
    """A charity on both files keeps its register row; the former-charities row is rejected."""
    current = register.table.loc[register.clean(), [C.CHARITY_NUMBER, "source_row"]]
    row_of = dict(zip(current[C.CHARITY_NUMBER], current["source_row"]))
    numbers = former.table[C.CHARITY_NUMBER]
    positions = np.flatnonzero(is_in(numbers, current[C.CHARITY_NUMBER]))
    values = numbers.to_numpy(dtype=object)[positions]
    reasons = [f"also on the register ({register.name} row {row_of[n]}); the register row is kept" for n in values]
    return former.with_problems(
        pd.DataFrame({"position": positions, "field": "Charity Number", "value": values, "reason": reasons})
    )


def ingest_folder(
    data_dir: Path, *, charity_number_pattern: str = DEFAULT_CHARITY_NUMBER_PATTERN, chunk_rows: int = CHUNK_ROWS,
) -> IngestResult:
    """Read, parse and validate a folder of regulator files into an IngestResult.

    Files are parsed `chunk_rows` rows at a time; the result does not depend on the chunk size.
    """
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise InputFileError(f"{data_dir}: data folder not found")
    pattern, rows = charity_number_pattern, chunk_rows
    registers = [_check_register(_locate(data_dir, "register", required=True), former=False, pattern=pattern,
                                 chunk_rows=rows)]
    if former_path := _locate(data_dir, "former", required=False):
        former = _check_register(former_path, former=True, pattern=pattern, chunk_rows=rows)
        registers.append(_drop_former_on_register(former, registers[0]))
    returns = _check_returns(_locate(data_dir, "returns", required=True), pattern=pattern, chunk_rows=rows)
    case_log = _check_case_log(_locate(data_dir, "case_log", required=True), pattern=pattern, chunk_rows=rows)

    known = pd.Index(pd.concat([r.table.loc[r.clean(), C.CHARITY_NUMBER] for r in registers]))
    rejected_at: dict[str, str] = {}
    for checked in registers:
        dropped = checked.table.loc[~checked.clean(), [C.CHARITY_NUMBER, "source_row"]].dropna()
        for number, row in zip(dropped[C.CHARITY_NUMBER], dropped["source_row"]):
            rejected_at.setdefault(number, f"{checked.name} row {row}")
    returns = returns.with_problems(_unknown_charities(returns, known, rejected_at))
    case_log = case_log.with_problems(_unknown_charities(case_log, known, rejected_at))

    register_parts = [_finalise(r) for r in registers]
    returns_part, case_log_part = _finalise(returns), _finalise(case_log)
    parts = [*register_parts, returns_part, case_log_part]
    result = IngestResult(
        register=_sorted(pd.concat([p[0] for p in register_parts]), [C.CHARITY_NUMBER], REGISTER_DTYPES),
        returns=_sorted(returns_part[0], [C.CHARITY_NUMBER, "year_end"], RETURNS_DTYPES),
        case_log=_sorted(case_log_part[0], [C.CHARITY_NUMBER, "date"], CASE_LOG_DTYPES),
        rejections=_with_dtypes(pd.concat([p[1] for p in parts], ignore_index=True), REJECTIONS_DTYPES),
        accounts=_with_dtypes(pd.DataFrame([p[2] for p in parts]), ACCOUNTS_DTYPES),
    )
    # Every row read is in a table or rejected, never both, and the counts agree everywhere.
    totals = result.accounts[["rows_read", "accepted", "rejected"]].sum()
    in_tables = len(result.register) + len(result.returns) + len(result.case_log)
    rejected_rows = len(result.rejections[["file", "row"]].drop_duplicates())
    if not (totals["accepted"] == in_tables and totals["rejected"] == rejected_rows
            and totals["rows_read"] == in_tables + rejected_rows):
        raise RuntimeError("ingest accounts do not balance")
    return result


def read_register_file(
    path: Path, *, former: bool | None = None, charity_number_pattern: str = DEFAULT_CHARITY_NUMBER_PATTERN
) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Read one register or former-charities file (CSV or OSCR's zip): (register, rejections, account)."""
    table, rejections, account = _finalise(_check_register(Path(path), former=former, pattern=charity_number_pattern))
    return _sorted(table, [C.CHARITY_NUMBER], REGISTER_DTYPES), rejections, account


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
        getattr(result, name).to_csv(paths[name], index=False)
    return paths


def is_ingested_folder(folder: Path) -> bool:
    """Whether `folder` holds what write_ingested writes (then read it back rather than ingest it)."""
    names = [f"{name}.parquet" for name in _TABLES] + [f"{name}.csv" for name in _REPORTS]
    return all((Path(folder) / name).is_file() for name in names)


def read_ingested(out_dir: Path) -> IngestResult:
    """Read back what write_ingested wrote, with the canonical dtypes restored."""
    out_dir = Path(out_dir)
    frames = {name: pd.read_parquet(out_dir / f"{name}.parquet") for name in _TABLES}
    for name in _LIST_COLUMNS:
        # Parquet hands list columns back as arrays; the canonical form is a list of str.
        frames["register"][name] = frames["register"][name].map(lambda v: [] if v is None else [str(i) for i in v])
    frames |= {name: pd.read_csv(out_dir / f"{name}.csv", dtype=str, keep_default_na=False) for name in _REPORTS}
    return IngestResult(**{name: _with_dtypes(frames[name], dtypes) for name, dtypes in (_TABLES | _REPORTS).items()})


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
