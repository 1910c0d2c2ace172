"""Big registers are processed in pieces: ingest reads files in chunks of rows, features are built
for ranges of charity numbers, and scores and reasons are worked out in batches. None of it may
change a result: what ingest accepts, rejects and reports, and every feature, score and reason,
must not depend on the piece size, even with a line break, a duplicate or a bad value across a
boundary."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from risk_model.config import ModelSpec
from risk_model.features import build_features
from risk_model.ingest.folder import ingest_folder
from risk_model.ingest.tables import table_fingerprint
from risk_model.labels import cases
from risk_model.lists.explain import explain
from risk_model.lists.rank import joined_reasons, ranked_lists, review_list_of, with_reasons
from risk_model.lists.reasons import reason_codes
from risk_model.models import ReviewLists, build_pipeline, model_inputs, score
from risk_model.panel import build_panel, panel_labels
from risk_model.partitions import charity_ranges, rows_between

# A prime: chunk boundaries fall nowhere special (register rows 997 and 1994, returns every 997).
CHUNK_ROWS = 997


@pytest.fixture(scope="module")
def damaged_world(small_world_dir, tmp_path_factory) -> Path:
    """The small world with a two-line field, a duplicate return and bad values in later chunks."""
    folder = tmp_path_factory.mktemp("chunked")
    for path in small_world_dir.iterdir():
        shutil.copy(path, folder / path.name)
    register = pd.read_csv(folder / "register.csv", dtype=str, keep_default_na=False)
    register.loc[1500, "Objectives"] = "To relieve poverty\nin the parish"
    register.loc[2100, "Registered Date"] = "31/02/2001"
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
    # data row 2101 follows one row with a line break, so it starts on line 2101 + 1 (header) + 1
    assert (bad_date["row"].tolist(), bad_date["line"].tolist()) == ([2101], [2103])
    returns_rows = len(pd.read_csv(damaged_world / "returns.csv", dtype=str))
    not_a_number = at("returns.csv", "Total income")
    assert not_a_number["row"].tolist() == [returns_rows - 3]
    duplicate = rejected.loc[rejected["reason"].str.startswith("duplicate of row 6 ")]
    assert duplicate[["file", "row"]].values.tolist() == [["returns.csv", returns_rows]]
    account = chunked.accounts.set_index("file").loc["returns.csv"]
    assert account["rows_read"] == returns_rows == account["accepted"] + account["rejected"]


def test_the_two_line_field_is_read_whole(whole_and_chunked, damaged_world):
    whole, chunked = whole_and_chunked
    number = pd.read_csv(damaged_world / "register.csv", dtype=str).loc[1500, "Charity Number"]
    assert number in set(chunked.register["charity_number"])
    assert len(chunked.register) == len(whole.register)


# --- features by ranges of charity numbers ------------------------------------------------------------


def test_charity_ranges_cover_every_number_once_in_order():
    numbers = pd.Series(["SC000005", "SC000001", "SC000003", None, "SC000002", "SC000004", "SC000003"])
    assert charity_ranges(numbers, 2) == [("SC000001", "SC000002"), ("SC000003", "SC000004"),
                                          ("SC000005", "SC000005")]


def test_rows_between_is_the_same_for_sorted_and_unsorted_tables():
    table = pd.DataFrame({"charity_number": ["SC000003", "SC000001", "SC000002", "SC000002", "SC000004"],
                          "value": [3, 1, 2, 22, 4]})
    ordered = table.sort_values("charity_number", kind="stable")
    assert rows_between(table, "SC000002", "SC000003")["value"].tolist() == [3, 2, 22]
    assert rows_between(ordered, "SC000002", "SC000003")["value"].tolist() == [2, 22, 3]


@pytest.mark.parametrize("as_of", ["2016-04-01", "2021-12-31"])
def test_features_built_in_ranges_equal_features_built_whole(small_world, as_of):
    whole = build_features(small_world.register, small_world.returns, small_world.case_log, as_of,
                           partition_charities=10**9)
    in_ranges = build_features(small_world.register, small_world.returns, small_world.case_log, as_of,
                               partition_charities=113)
    assert len(whole) > 5 * 113
    pd.testing.assert_frame_equal(in_ranges, whole)


# --- scores and reasons in batches -------------------------------------------------------------------


@pytest.fixture(scope="module")
def lightgbm(small_world):
    """Both lists scored by one small LightGBM on late returns (plenty of positives in a small world)."""
    dates = [pd.Timestamp(f"{y}-12-31") for y in (2016, 2017, 2018)]
    panel, _ = build_panel(small_world.register, small_world.returns, small_world.case_log, dates, 12)
    label = panel_labels(panel, cases(small_world.case_log), small_world.returns, "late_return", 12,
                         pd.Timestamp("2021-12-31")).fillna(0.0)
    spec = ModelSpec(name="lightgbm", kind="lightgbm", params={"n_estimators": 40, "num_leaves": 7})
    pipeline = build_pipeline(spec, seed=5).fit(model_inputs(panel), label.to_numpy())
    return ReviewLists({"proactive": pipeline, "triage": pipeline}, {"proactive": (1.0, 0.0), "triage": (0.8, 0.1)})


CAPACITIES = {"proactive": 50, "triage": 10}


def test_scores_in_batches_equal_scores_at_once(small_world, lightgbm):
    features = build_features(small_world.register, small_world.returns, small_world.case_log, "2021-12-31")
    at_once = score(lightgbm, features, batch_rows=10**9)
    assert len(np.unique(at_once)) > 100
    np.testing.assert_array_equal(score(lightgbm, features, batch_rows=101), at_once)


def test_reasons_in_batches_equal_reasons_at_once(small_world, lightgbm):
    tables = (small_world.register, small_world.returns, small_world.case_log)
    made = {size: ranked_lists(lightgbm, *tables, pd.Timestamp("2021-12-31"), CAPACITIES, "lightgbm", "1",
                               n_reasons=2, batch_charities=size) for size in (10**9, 89)}
    at_once, in_batches = (with_reasons(made[size].ranked, made[size].reasons) for size in (10**9, 89))
    assert set(at_once["review_list"]) == {"proactive", "triage"}
    # Most have a raising reason; one scored near its base rate may have none of half a point or more.
    assert at_once["reasons_up"].notna().mean() > 0.6
    pd.testing.assert_frame_equal(in_batches, at_once)
    key = ["charity_number", "direction", "position"]
    pd.testing.assert_frame_equal(made[89].reasons.sort_values(key).reset_index(drop=True),
                                  made[10**9].reasons.sort_values(key).reset_index(drop=True))


def test_reasons_are_each_charitys_sentences_in_order(small_world, lightgbm):
    tables = (small_world.register, small_world.returns, small_world.case_log)
    made = ranked_lists(lightgbm, *tables, pd.Timestamp("2021-12-31"), CAPACITIES, "lightgbm", "1", n_reasons=3)
    listed = made.features
    assert len(review_list_of(made.ranked, "triage")) > 5
    listed_reasons = with_reasons(made.ranked, made.reasons)
    explained = explain(lightgbm, listed)
    codes = reason_codes(listed, explained.by_factor(), small_world.returns, small_world.case_log, 3,
                         base_log_odds=explained.base_value_log_odds)
    expected = codes.groupby(["charity_number", "direction"])["sentence"].agg(joined_reasons).unstack()
    got = listed_reasons.set_index("charity_number")[["reasons_up", "reasons_down"]]
    assert got["reasons_up"].notna().mean() > 0.6 and codes.groupby("charity_number").size().max() == 6
    pd.testing.assert_series_equal(got["reasons_up"].sort_index(), expected["up"].reindex(got.index).sort_index(),
                                   check_names=False)
    pd.testing.assert_series_equal(got["reasons_down"].sort_index(),
                                   expected["down"].reindex(got.index).sort_index(), check_names=False)
