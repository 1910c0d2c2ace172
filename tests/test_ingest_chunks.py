"""Ingest reads big files in chunks; what it accepts, rejects and reports must not depend on the
chunk size, even when a quoted line break, a duplicate or a bad value sits across a chunk boundary."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from risk_model.ingest import ingest_folder, table_fingerprint

CHUNK_ROWS = 97


@pytest.fixture(scope="module")
def damaged_world(small_world_dir, tmp_path_factory) -> Path:
    """The small world with a two-line field, a duplicate return and bad values in later chunks."""
    folder = tmp_path_factory.mktemp("chunked")
    for path in small_world_dir.iterdir():
        shutil.copy(path, folder / path.name)
    register = pd.read_csv(folder / "register.csv", dtype=str, keep_default_na=False)
    register.loc[150, "Objectives"] = "To relieve poverty\nin the parish"
    register.loc[260, "Registered Date"] = "31/02/2001"
    register.to_csv(folder / "register.csv", index=False)
    returns = pd.read_csv(folder / "returns.csv", dtype=str, keep_default_na=False)
    returns.loc[len(returns) - 3, "Total income"] = "twelve"
    returns = pd.concat([returns, returns.iloc[[5]]], ignore_index=True)
    returns.to_csv(folder / "returns.csv", index=False)
    return folder


@pytest.fixture(scope="module")
def whole_and_chunked(damaged_world):
    return ingest_folder(damaged_world, chunk_rows=10**9), ingest_folder(damaged_world, chunk_rows=CHUNK_ROWS)


def test_tables_are_the_same_whatever_the_chunk_size(whole_and_chunked):
    whole, chunked = whole_and_chunked
    for name in ("register", "returns", "case_log"):
        assert table_fingerprint(getattr(chunked, name)) == table_fingerprint(getattr(whole, name)), name
    pd.testing.assert_frame_equal(chunked.accounts, whole.accounts)
    pd.testing.assert_frame_equal(chunked.rejections, whole.rejections)


def test_problems_in_later_chunks_are_rejected_at_their_row_and_line(whole_and_chunked, damaged_world):
    _, chunked = whole_and_chunked
    rejected = chunked.rejections

    def at(file: str, field: str) -> pd.DataFrame:
        return rejected.loc[rejected["file"].eq(file) & rejected["field"].eq(field)]

    bad_date = at("register.csv", "Registered Date")
    # data row 261 follows one row with a line break, so it starts on line 261 + 1 (header) + 1
    assert (bad_date["row"].tolist(), bad_date["line"].tolist()) == ([261], [263])
    returns_rows = len(pd.read_csv(damaged_world / "returns.csv", dtype=str))
    not_a_number = at("returns.csv", "Total income")
    assert not_a_number["row"].tolist() == [returns_rows - 3]
    duplicate = rejected.loc[rejected["reason"].str.startswith("duplicate of row 6 ")]
    assert duplicate[["file", "row"]].values.tolist() == [["returns.csv", returns_rows]]
    account = chunked.accounts.set_index("file").loc["returns.csv"]
    assert account["rows_read"] == returns_rows == account["accepted"] + account["rejected"]


def test_the_two_line_field_is_read_whole(whole_and_chunked, damaged_world):
    whole, chunked = whole_and_chunked
    number = pd.read_csv(damaged_world / "register.csv", dtype=str).loc[150, "Charity Number"]
    assert number in set(chunked.register["charity_number"])
    assert len(chunked.register) == len(whole.register)
