"""Read a folder of regulator files into canonical tables, with an account of every row.

The folder holds ``register.csv`` (or OSCR's ``CharityExport-DD-Mon-YYYY.csv``), optionally
``former.csv`` (or ``CharityExport-Removed-*.csv``), ``returns.csv`` and ``case_log.csv``; any of
them may instead be a ``.zip`` holding one CSV, read in place. Other files are ignored.

Every data row ends in exactly one place: its canonical table, or ``rejections`` with every
reason it failed. ``accounts`` has one line per file, and rows_read == accepted + rejected.

This module finds the files and makes the checks that span them (a charity on both register
files, a return or case for a charity on neither); each file's own checks are ``ingest.checks``,
and the tables' dtypes, writing and reading back are ``ingest.tables``. Nothing here writes a file.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from risk_model.domain import columns as C
from risk_model.ingest.checks import (
    CHUNK_ROWS,
    CheckedFile,
    check_case_log,
    check_register,
    check_returns,
    finalise,
)
from risk_model.ingest.parsing import InputFileError, is_in
from risk_model.ingest.schemas import DEFAULT_CHARITY_NUMBER_PATTERN
from risk_model.ingest.tables import (
    ACCOUNTS_DTYPES,
    CASE_LOG_DTYPES,
    REGISTER_DTYPES,
    REJECTIONS_DTYPES,
    RETURNS_DTYPES,
    IngestResult,
    is_ingested_folder,
    read_ingested,
    with_dtypes,
)

_FILE_NAMES = {
    "register": re.compile(r"(register|CharityExport-\d{1,2}-[A-Za-z]{3}-\d{4})\.(csv|zip)", re.I),
    "former": re.compile(r"(former|CharityExport-Removed-.+)\.(csv|zip)", re.I),
    "returns": re.compile(r"returns\.(csv|zip)", re.I),
    "case_log": re.compile(r"case_log\.(csv|zip)", re.I),
}


def _unknown_charities(checked: CheckedFile, known: pd.Index, rejected_at: dict[str, str]) -> pd.DataFrame:
    numbers = checked.table[C.CHARITY_NUMBER]
    positions = np.flatnonzero(numbers.notna().to_numpy() & ~is_in(numbers, known))
    values = numbers.to_numpy(dtype=object)[positions]
    reasons = [
        f"the charity's register row was rejected ({rejected_at[n]})" if n in rejected_at
        else "charity number is on neither the register nor the former-charities file"
        for n in values
    ]
    return pd.DataFrame({"position": positions, "field": "Charity Number", "value": values, "reason": reasons})


def _locate(data_dir: Path, kind: str, *, required: bool) -> Path | None:
    found = sorted(p for p in data_dir.iterdir() if p.is_file() and _FILE_NAMES[kind].fullmatch(p.name))
    if len(found) > 1:
        raise InputFileError(f"{data_dir}: more than one {kind} file: {', '.join(p.name for p in found)}")
    if not found and required:
        raise InputFileError(f"{data_dir}: {kind}.csv (or {kind}.zip) is missing")
    return found[0] if found else None


def _sorted(table: pd.DataFrame, keys: list[str], dtypes: dict[str, str]) -> pd.DataFrame:
    return with_dtypes(table, dtypes).sort_values(keys, kind="stable").reset_index(drop=True)


def _drop_former_on_register(former: CheckedFile, register: CheckedFile) -> CheckedFile:
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


def require_folder(data_dir: Path) -> Path:
    """`data_dir` as a Path, or an InputFileError naming it when it is not a folder: checked by a command
    before any slower work, and by `ingest_folder`."""
    if not Path(data_dir).is_dir():
        raise InputFileError(f"{data_dir}: data folder not found")
    return Path(data_dir)


def ingest_folder(
    data_dir: Path, *, charity_number_pattern: str = DEFAULT_CHARITY_NUMBER_PATTERN, chunk_rows: int = CHUNK_ROWS,
) -> IngestResult:
    """Read, parse and validate a folder of regulator files into an IngestResult.

    Files are parsed `chunk_rows` rows at a time; the result does not depend on the chunk size.
    """
    data_dir = require_folder(data_dir)
    pattern, rows = charity_number_pattern, chunk_rows
    registers = [check_register(_locate(data_dir, "register", required=True), former=False, pattern=pattern,
                                chunk_rows=rows)]
    if former_path := _locate(data_dir, "former", required=False):
        former = check_register(former_path, former=True, pattern=pattern, chunk_rows=rows)
        registers.append(_drop_former_on_register(former, registers[0]))
    returns = check_returns(_locate(data_dir, "returns", required=True), pattern=pattern, chunk_rows=rows)
    case_log = check_case_log(_locate(data_dir, "case_log", required=True), pattern=pattern, chunk_rows=rows)

    known = pd.Index(pd.concat([r.table.loc[r.clean(), C.CHARITY_NUMBER] for r in registers]))
    rejected_at: dict[str, str] = {}
    for checked in registers:
        dropped = checked.table.loc[~checked.clean(), [C.CHARITY_NUMBER, "source_row"]].dropna()
        for number, row in zip(dropped[C.CHARITY_NUMBER], dropped["source_row"]):
            rejected_at.setdefault(number, f"{checked.name} row {row}")
    returns = returns.with_problems(_unknown_charities(returns, known, rejected_at))
    case_log = case_log.with_problems(_unknown_charities(case_log, known, rejected_at))

    register_parts = [finalise(r) for r in registers]
    returns_part, case_log_part = finalise(returns), finalise(case_log)
    parts = [*register_parts, returns_part, case_log_part]
    result = IngestResult(
        register=_sorted(pd.concat([p[0] for p in register_parts]), [C.CHARITY_NUMBER], REGISTER_DTYPES),
        returns=_sorted(returns_part[0], [C.CHARITY_NUMBER, "year_end"], RETURNS_DTYPES),
        case_log=_sorted(case_log_part[0], [C.CHARITY_NUMBER, "date"], CASE_LOG_DTYPES),
        rejections=with_dtypes(pd.concat([p[1] for p in parts], ignore_index=True), REJECTIONS_DTYPES),
        accounts=with_dtypes(pd.DataFrame([p[2] for p in parts]), ACCOUNTS_DTYPES),
    )
    # Every row read is in a table or rejected, never both, and the counts agree everywhere.
    totals = result.accounts[["rows_read", "accepted", "rejected"]].sum()
    in_tables = len(result.register) + len(result.returns) + len(result.case_log)
    rejected_rows = len(result.rejections[["file", "row"]].drop_duplicates())
    if not (totals["accepted"] == in_tables and totals["rejected"] == rejected_rows
            and totals["rows_read"] == in_tables + rejected_rows):
        raise RuntimeError("ingest accounts do not balance")
    return result


def read_tables(data_dir: Path) -> IngestResult:
    """A folder's canonical tables: read back if `write_ingested` wrote them there, else ingested now.

    The one way the command line and the service get their tables, so both accept either folder.
    """
    return read_ingested(data_dir) if is_ingested_folder(data_dir) else ingest_folder(data_dir)


def read_register_file(
    path: Path, *, former: bool | None = None, charity_number_pattern: str = DEFAULT_CHARITY_NUMBER_PATTERN
) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Read one register or former-charities file (CSV or OSCR's zip): (register, rejections, account)."""
    table, rejections, account = finalise(check_register(Path(path), former=former, pattern=charity_number_pattern))
    return _sorted(table, [C.CHARITY_NUMBER], REGISTER_DTYPES), rejections, account

