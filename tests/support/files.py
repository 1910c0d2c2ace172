"""Tiny regulator data folders written as raw files (register, returns, case log), for the tests of ingest
and of the command line. No tests here."""

from __future__ import annotations

import csv
import io
from pathlib import Path

REGISTER = ["Charity Number", "Charity Name", "Registered Date", "Main Operating Location"]
RETURNS = ["Charity Number", "Year End", "Date Received", "Total income", "Total expenditure"]
CASE_LOG = ["Charity Number", "Date", "Event", "Outcome"]


def write_rows(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    """A CSV file with `header` and `rows`, as text."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    path.write_text(out.getvalue())
    return path


def tiny_folder(folder: Path, *, areas: list[str] | None = None, register: list[str] = REGISTER,
                returns: list[str] = RETURNS, case_log: list[str] = CASE_LOG) -> Path:
    """A folder of charities SC000001.. in `areas`, a return each and one concern, under the headers given."""
    folder.mkdir(parents=True, exist_ok=True)
    areas = areas or ["Fife", "Angus"]
    numbers = [f"SC{i + 1:06d}" for i in range(len(areas))]
    write_rows(folder / "register.csv", register,
               [[n, f"Charity {n}", "01/02/2000", area] for n, area in zip(numbers, areas)])
    write_rows(folder / "returns.csv", returns, [[n, "31/03/2020", "01/10/2020", "1000", "900"] for n in numbers])
    write_rows(folder / "case_log.csv", case_log, [[numbers[0], "01/05/2021", "concern_received", ""]])
    return folder
