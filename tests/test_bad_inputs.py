"""A corpus of malformed inputs. Each one ends in a clear error naming the file (and the column
where there is one), or in rejections naming file, row, field and reason; either way the counts
add up: rows read = accepted + rejected, for every file."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest

from risk_model.ingest.folder import ingest_folder
from risk_model.ingest.parsing import InputFileError

REGISTER = ["Charity Number", "Charity Name", "Registered Date"]
RETURNS = ["Charity Number", "Year End", "Date Received", "Total income", "Total expenditure",
           "Number of trustees"]
CASE_LOG = ["Charity Number", "Date", "Event", "Outcome"]
GOOD = {
    "register.csv": (REGISTER, [["SC000001", "Alpha Trust", "01/02/2000"], ["SC000002", "Beta Club", "04/03/2001"],
                                ["SC000003", "Gamma Fund", "05/06/2010"]]),
    "returns.csv": (RETURNS, [["SC000001", "31/03/2020", "01/10/2020", "1000", "900", "5"],
                              ["SC000002", "31/03/2020", "15/11/2020", "2000", "2500", "4"],
                              ["SC000003", "31/12/2020", "01/06/2021", "300", "200", "3"]]),
    "case_log.csv": (CASE_LOG, [["SC000001", "01/05/2021", "concern_received", ""],
                                ["SC000001", "01/06/2021", "inquiry_opened", ""]]),
}


def _text(header, rows) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def _folder(tmp_path: Path, changes: dict[str, tuple | bytes | None]) -> Path:
    """The good folder with some files replaced (header, rows), as raw bytes, or removed (None)."""
    for name, (header, rows) in GOOD.items():
        (tmp_path / name).write_text(_text(header, rows))
    for name, change in changes.items():
        path = tmp_path / name
        if change is None:
            path.unlink()
        elif isinstance(change, bytes):
            path.write_bytes(change)
        else:
            path.write_text(_text(*change))
    return tmp_path


def _returns_with(row: list[str]) -> tuple:
    return RETURNS, GOOD["returns.csv"][1] + [row]


def _register_with(row: list[str]) -> tuple:
    return REGISTER, GOOD["register.csv"][1] + [row]


def _zip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()


@dataclass(frozen=True)
class Case:
    name: str
    setup: Callable[[Path], dict]
    error: tuple[str, ...] = ()  # substrings the error must contain; empty: no error expected
    rejected: tuple[str, str, str] | None = None  # (file, field, reason substring) of a rejection


CASES = [
    Case("utf-16 encoded returns", lambda p: {"returns.csv": _text(*GOOD["returns.csv"]).encode("utf-16")},
         error=("returns.csv",)),
    Case("empty register file", lambda p: {"register.csv": b""}, error=("register.csv", "empty")),
    Case("binary garbage case log", lambda p: {"case_log.csv": bytes(range(256)) * 8}, error=("case_log.csv",)),
    Case("truncated zip", lambda p: {"returns.csv": None,
                                     "returns.zip": _zip({"returns.csv": _text(*GOOD["returns.csv"]).encode()})[:60]},
         error=("returns.zip",)),
    Case("missing required column", lambda p: {"returns.csv": (RETURNS[:3] + RETURNS[4:],
                                                               [r[:3] + r[4:] for r in GOOD["returns.csv"][1]])},
         error=("returns.csv", "Total income")),
    Case("missing file", lambda p: {"case_log.csv": None}, error=("case_log",)),
    Case("extra columns are noted, not fatal", lambda p: {"register.csv": (
        REGISTER + ["Favourite Colour"], [r + ["blue"] for r in GOOD["register.csv"][1]])}),
    Case("duplicate charity number", lambda p: {"register.csv": _register_with(["SC000002", "Beta Again", "01/01/2005"])},
         rejected=("register.csv", "Charity Number", "duplicate")),
    Case("duplicate return", lambda p: {"returns.csv": _returns_with(["SC000001", "31/03/2020", "02/10/2020", "5", "5", "3"])},
         rejected=("returns.csv", "Charity Number", "duplicate of row 1 (same Charity Number and Year End)")),
    Case("impossible date", lambda p: {"returns.csv": _returns_with(["SC000003", "31/02/2021", "01/10/2021", "5", "5", "3"])},
         rejected=("returns.csv", "Year End", "date")),
    Case("received before year end", lambda p: {"returns.csv": _returns_with(["SC000003", "31/12/2021", "01/06/2021", "5", "5", "3"])},
         rejected=("returns.csv", "Date Received", "before Year End")),
    Case("negative income", lambda p: {"returns.csv": _returns_with(["SC000003", "31/12/2021", "01/06/2022", "-50", "5", "3"])},
         rejected=("returns.csv", "Total income", "cannot be negative")),
    Case("non-numeric money", lambda p: {"returns.csv": _returns_with(["SC000003", "31/12/2021", "01/06/2022", "lots", "5", "3"])},
         rejected=("returns.csv", "Total income", "not a number")),
    Case("non-numeric trustees", lambda p: {"returns.csv": _returns_with(["SC000003", "31/12/2021", "01/06/2022", "5", "5", "many"])},
         rejected=("returns.csv", "Number of trustees", "not a number")),
    Case("malformed charity number", lambda p: {"register.csv": _register_with(["12345", "No Prefix", "01/01/2005"])},
         rejected=("register.csv", "Charity Number", "does not match SC")),
    Case("return for an unknown charity", lambda p: {"returns.csv": _returns_with(["SC999999", "31/03/2020", "01/10/2020", "5", "5", "3"])},
         rejected=("returns.csv", "Charity Number", "neither the register nor the former-charities file")),
    Case("unknown case-log event", lambda p: {"case_log.csv": (CASE_LOG, GOOD["case_log.csv"][1]
                                                               + [["SC000002", "01/07/2021", "raided", ""]])},
         rejected=("case_log.csv", "Event", "not one of concern_received")),
    Case("impossible case-log date", lambda p: {"case_log.csv": (CASE_LOG, GOOD["case_log.csv"][1]
                                                                 + [["SC000002", "45/13/2021", "concern_received", ""]])},
         rejected=("case_log.csv", "Date", "date")),
    Case("huge text field", lambda p: {"register.csv": _register_with(["SC000004", "X" * 2_000_000, "01/01/2005"])}),
    Case("header only", lambda p: {"case_log.csv": (CASE_LOG, [])}),
    Case("blank registered date", lambda p: {"register.csv": _register_with(["SC000004", "Delta", ""])},
         rejected=("register.csv", "Registered Date", "required value is blank")),
    Case("crlf and a byte-order mark", lambda p: {"register.csv": b"\xef\xbb\xbf" + _text(*GOOD["register.csv"])
                                                  .replace("\n", "\r\n").encode()}),
    Case("latin-1 name", lambda p: {"register.csv": _text(*_register_with(["SC000004", "Caf\xe9 Soci\xe9t\xe9", "01/01/2005"]))
                                     .encode("latin-1")}),
    Case("row with too many fields", lambda p: {"returns.csv": _text(*GOOD["returns.csv"]).encode()
                                                + b'"SC000003","31/12/2021","01/06/2022","5","5","3","extra","more"\n'},
         error=("returns.csv",)),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_is_reported_clearly(case: Case, tmp_path):
    folder = _folder(tmp_path, case.setup(tmp_path))
    if case.error:
        with pytest.raises(InputFileError) as raised:
            ingest_folder(folder)
        message = str(raised.value)
        for expected in case.error:
            assert expected.lower() in message.lower(), message
        return
    result = ingest_folder(folder)
    accounts = result.accounts
    assert (accounts["rows_read"] == accounts["accepted"] + accounts["rejected"]).all()
    tables = {"register.csv": result.register, "returns.csv": result.returns, "case_log.csv": result.case_log}
    for name, table in tables.items():
        account = accounts.set_index("file").loc[name]
        accepted = account["accepted"]
        if name == "register.csv" and "former.csv" in accounts["file"].tolist():  # one table holds both files
            accepted += accounts.set_index("file").loc["former.csv", "accepted"]
        assert accepted == len(table), f"{name}: {accepted} accepted, {len(table)} in the table"
    if case.rejected:
        file, field, reason = case.rejected
        found = result.rejections.loc[result.rejections["file"] == file]
        if field:
            found = found.loc[found["field"] == field]
        assert len(found), result.rejections.to_string()
        assert reason, "every rejection case names the reason it expects"
        assert found["reason"].str.contains(reason, case=False, regex=False).any(), found.to_string()
        assert (found["row"] >= 1).all()
    else:
        assert result.rejections.empty, result.rejections.to_string()


def test_the_corpus_is_large_enough():
    assert len(CASES) >= 20


@pytest.mark.slow  # a fresh Python process per case
@pytest.mark.parametrize("arguments, named", [
    (["rank", "{tmp}/no-such-folder"], "no-such-folder: data folder not found"),
    (["train", "{tmp}", "--config", "{tmp}/nope.yaml"], "nope.yaml: experiment file not found"),
    (["train", "{tmp}", "--config", "{tmp}/typo.yaml"], "unknown parameter 'num_leaf' (did you mean 'num_leaves'?)"),
])
def test_a_mistake_at_the_command_line_is_one_line_naming_it(arguments, named, tmp_path):
    (tmp_path / "typo.yaml").write_text(
        "config_version: 2\nmodels:\n  - {name: lightgbm, kind: lightgbm, params: {num_leaf: 5}}\n")
    command = [sys.executable, "-m", "risk_model.cli", *(a.format(tmp=tmp_path) for a in arguments)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, env={**os.environ, "COLUMNS": "200"})
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr and "│" not in done.stderr, done.stderr
    assert named in " ".join(done.stderr.split()), done.stderr
