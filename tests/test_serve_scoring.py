"""risk_model.lists.records: records in, the library's scores, lists and reasons out, the same as the full lists'."""

from __future__ import annotations

import copy
import hashlib
import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from risk_model.config import TrackingConfig
from risk_model.domain.bands import percentile_among
from risk_model.features import population
from risk_model.lists.membership import RECENTLY_INQUIRED, UNDER_INQUIRY, WHY_ON_LIST
from risk_model.lists.rank import rank_charities, ranked_lists
from risk_model.lists.records import (
    changes_between,
    charity_record,
    fingerprint,
    records_from_tables,
    score_records,
    tables_from_records,
)
from risk_model.lists.written import as_the_files_write, as_the_library_writes
from risk_model.models import ReviewLists
from risk_model.tracking.store import load_champion, use_tracking
from serve.internal.scorer import record_of
from serve.records import CharityRecord
from tests.support import factories as f
from tests.support import serve as support

pytestmark = pytest.mark.service

AS_OF = pd.Timestamp("2021-12-31")


@pytest.fixture(scope="module")
def champion(world):
    config = TrackingConfig(tracking_uri=world.tracking_uri, experiment="serve-tests",
                            registered_model=support.REGISTERED_MODEL)
    use_tracking(config, world.store_dir)
    model, _ = load_champion(config)
    assert isinstance(model, ReviewLists) and model.capacities == support.CAPACITIES
    return model


@pytest.fixture(scope="module")
def tables(world_tables):
    return world_tables


def _mini_world():
    register = f.register({"purposes": [f.EDUCATION, f.HEALTH]}, {"ceased_date": "2019-05-01"})
    returns = f.returns(*f.annual_returns("SC000001", range(2015, 2019), 1000.0, 1500.0, trustees=4.0),
                        {"charity_number": "SC000002", "year_end": "2017-03-31", "date_received": None,
                         "income_gbp": 50.0})
    case_log = f.case_log(("SC000001", "2018-02-01", "concern_received", None))
    frames = []
    for frame in (register, returns, case_log):
        dates = {c: "datetime64[ns]" for c in frame.columns if frame[c].dtype.kind == "M"}
        frames.append(frame.astype({"charity_number": "string", **dates}))
    return tuple(frames)


def test_records_round_trip_to_the_same_canonical_tables():
    register, returns, case_log = _mini_world()
    records = records_from_tables(register, returns, case_log)
    assert set(records) == {"SC000001", "SC000002"}
    assert records["SC000001"]["returns"][0]["year_end"] == "2015-03-31"
    assert records["SC000002"]["returns"][0]["date_received"] is None
    back_register, back_returns, back_case_log = tables_from_records(list(records.values()))
    columns = list(back_register.columns)
    pd.testing.assert_frame_equal(back_register[columns[:8]], register[columns[:8]], check_dtype=False)
    assert back_register["purposes"].tolist() == register["purposes"].tolist()
    pd.testing.assert_frame_equal(back_returns, returns[back_returns.columns], check_dtype=False)
    assert back_returns["year_end"].dtype == "datetime64[ns]"
    assert back_case_log["event"].tolist() == ["concern_received"]


def test_fingerprint_depends_on_the_facts_not_their_form():
    register, returns, case_log = _mini_world()
    record = records_from_tables(register, returns, case_log)["SC000001"]
    as_typed = charity_record(
        {**register.iloc[0].to_dict(), "registered_date": pd.Timestamp("2000-01-01").date()},
        reversed(returns.loc[returns["charity_number"] == "SC000001"].to_dict("records")),
        case_log.to_dict("records"),
    )
    assert fingerprint(as_typed) == fingerprint(record)
    changed = copy.deepcopy(record)
    changed["returns"][-1]["income_gbp"] += 1
    assert fingerprint(changed) != fingerprint(record)


_TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=12)  # no lone surrogates: not UTF-8
_VALUE = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | _TEXT
_RECORD_LIKE = st.recursive(_VALUE, lambda inner: st.lists(inner, max_size=4)
                            | st.dictionaries(_TEXT, inner, max_size=4), max_leaves=30)


@settings(max_examples=400, deadline=None)
@given(record=st.dictionaries(_TEXT, _RECORD_LIKE, max_size=6))
def test_fingerprint_is_the_sha256_of_the_documented_json(record):
    """However it is written, the fingerprint is the one its docstring defines (anyone can recompute
    a stored input_sha256), for any numbers, text and nesting: tiny floats, huge integers, any script."""
    documented = json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    assert fingerprint(record) == hashlib.sha256(documented).hexdigest()


@pytest.mark.parametrize("number", [1e-05, 4.4e-06, -6.3e-08, 1e-4, 1e16, 1.5e-300, -0.0, 2**70])
def test_fingerprint_of_numbers_written_differently_by_fast_writers(number):
    record = {"returns": [{"income_gbp": number, "note": "e-mail 0.0000"}]}
    documented = json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    assert fingerprint(record) == hashlib.sha256(documented).hexdigest()


def test_a_record_cannot_hold_an_infinite_number():
    with pytest.raises(ValueError, match="finite"):
        charity_record({"charity_number": "SC000001"}, [{"year_end": "2020-03-31", "income_gbp": float("inf")}])


def test_the_service_reads_each_stored_charity_back_as_the_same_record(tables):
    """Every charity in the data passes the service's request schema, and the record the service
    makes of it is the library's record, so its fingerprint matches the stored list's."""
    records = records_from_tables(tables.register, tables.returns, tables.case_log)
    for number, record in records.items():
        assert record_of(CharityRecord.model_validate(record)) == record, number


def test_each_stored_charity_as_the_files_write_it_is_read_as_the_same_record(tables):
    """What lets POST /score answer a record written as the files write it by its fingerprint: renamed and
    re-dated, it is the stored record, and the schema reads the two alike."""
    records = records_from_tables(tables.register, tables.returns, tables.case_log)
    nested = 0
    for number, record in records.items():
        in_files = as_the_files_write(record)
        assert "Charity Number" in in_files and "charity_number" not in in_files
        nested += any("Year End" in r for r in in_files["returns"])
        assert as_the_library_writes(in_files) == record, number
        assert CharityRecord.model_validate(in_files) == CharityRecord.model_validate(record), number
    assert nested > len(records) / 2  # the returns were written as the files write them too


def test_a_record_naming_a_field_twice_is_left_to_validation():
    both = {"Charity Number": "SC000001", "charity_number": "SC000002"}
    assert as_the_library_writes(both) is None
    assert as_the_library_writes({"returns": [both]}) is None
    # Only a date written exactly dd/mm/yyyy is re-dated; any other text is left for validation to read.
    assert as_the_library_writes({"Registered Date": "31/02/2020", "ceased_date": "1/2/2020"}) == {
        "registered_date": "2020-02-31", "ceased_date": "1/2/2020"}


def test_rank_percentiles_match_the_list_for_its_own_members():
    rng = np.random.default_rng(3)
    features = pd.DataFrame({"charity_number": [f"SC{i:06d}" for i in range(200)], "charity_name": "x",
                             "main_operating_location": "Fife", "income_band": "up to 25k",
                             "constitutional_form": "Other", "geographical_spread": "x", "as_of": AS_OF})
    scores = rng.random(200)
    ranked = rank_charities(features, scores, 10, "m", "1")
    np.testing.assert_allclose(percentile_among(ranked["score"].to_numpy(), scores), ranked["rank_percentile"])
    assert percentile_among(np.array([2.0, -1.0]), scores).tolist() == [100.0, 0.0]


def test_a_charity_scored_alone_gets_its_score_and_reasons_in_the_full_list(champion, tables):
    made = ranked_lists(champion, tables.register, tables.returns, tables.case_log, AS_OF,
                        support.CAPACITIES, "m", "1", n_reasons=3)
    ranked, reasons = made.ranked, made.reasons
    triage = ranked.loc[ranked["review_list"] == "triage"]
    picks = ranked["charity_number"].iloc[[0, 7, len(ranked) // 2]].tolist() + [triage["charity_number"].iloc[0]]
    records = records_from_tables(tables.register, tables.returns, tables.case_log, picks)
    scored = score_records(champion, [records[n] for n in picks], AS_OF)
    expected = ranked.set_index("charity_number").loc[picks, "score"].to_numpy()
    np.testing.assert_allclose(scored.scores["score"], expected, rtol=1e-12)
    assert scored.scores["charity_number"].tolist() == picks
    assert scored.scores["review_list"].tolist() == ["proactive"] * 3 + ["triage"]
    for record in (0, 3):
        alone = scored.reasons.loc[scored.reasons["record"] == record].drop(columns="record").reset_index(drop=True)
        in_list = reasons.loc[reasons["charity_number"] == picks[record]].reset_index(drop=True)
        assert len(alone) > 0
        pd.testing.assert_frame_equal(alone, in_list[alone.columns], check_dtype=False)


def test_every_charity_on_the_register_is_on_one_list_or_on_neither_with_why(champion, tables):
    lists = ranked_lists(champion, tables.register, tables.returns, tables.case_log, AS_OF, support.CAPACITIES,
                         "m", "1", n_reasons=3)
    on_register = set(population(tables.register, AS_OF)["charity_number"])
    listed, off = lists.ranked["charity_number"], lists.not_listed["charity_number"]
    assert listed.is_unique and off.is_unique and not set(listed) & set(off)
    assert set(listed) | set(off) == on_register
    assert set(lists.not_listed["review_list"]) == {UNDER_INQUIRY, RECENTLY_INQUIRED}
    assert (lists.not_listed["why"] == lists.not_listed["review_list"].map(WHY_ON_LIST)).all()
    for name, capacity in support.CAPACITIES.items():
        members = lists.ranked.loc[lists.ranked["review_list"] == name]
        assert members["rank"].tolist() == list(range(1, len(members) + 1))
        assert int(members["within_capacity"].sum()) == capacity
    # A charity on neither list gets the score, list and reasons it gets when scored alone.
    picks = off.iloc[:3].tolist()
    records = records_from_tables(tables.register, tables.returns, tables.case_log, picks)
    alone = score_records(champion, [records[n] for n in picks], AS_OF)
    expected = lists.not_listed.set_index("charity_number").loc[picks]
    np.testing.assert_allclose(alone.scores["score"], expected["score"], rtol=1e-12)
    assert alone.scores["review_list"].tolist() == expected["review_list"].tolist()
    assert set(lists.reasons["charity_number"]) >= set(picks) | {listed.iloc[0]}


def on_register(tables, i: int) -> str:
    """The i-th charity on the register at AS_OF."""
    return population(tables.register, AS_OF)["charity_number"].iloc[i]


def test_two_versions_of_one_charity_are_scored_apart(champion, tables):
    number = on_register(tables, 10)
    record = records_from_tables(tables.register, tables.returns, tables.case_log, [number])[number]
    overdue = copy.deepcopy(record)
    overdue["returns"].append({**overdue["returns"][-1], "year_end": "2020-12-31", "date_received": None})
    scored = score_records(champion, [record, overdue], AS_OF)
    assert scored.scores["charity_number"].tolist() == [number, number]
    assert scored.scores["score"].iloc[0] != scored.scores["score"].iloc[1]
    assert set(scored.reasons["record"]) == {0, 1}


def test_a_charity_not_on_the_register_at_the_date_gets_no_score(champion, tables):
    number = on_register(tables, 0)
    record = records_from_tables(tables.register, tables.returns, tables.case_log, [number])[number]
    record["registered_date"] = "2022-06-01"
    scored = score_records(champion, [record], AS_OF)
    assert not scored.scores["in_population"].iloc[0]
    assert np.isnan(scored.scores["score"].iloc[0])
    assert scored.reasons.empty


def test_a_new_concern_moves_a_charity_to_triage_and_no_factor_is_compared_across_the_lists(champion, tables):
    number = on_register(tables, 20)
    register = tables.register.loc[tables.register["charity_number"] == number]
    returns = tables.returns.loc[tables.returns["charity_number"] == number]
    concern = pd.DataFrame({"charity_number": pd.array([number], dtype="string"),
                            "date": pd.to_datetime(["2021-06-01"]),
                            "event": pd.array(["concern_received"], dtype="string"),
                            "outcome": pd.array([pd.NA], dtype="string")})
    changes = changes_between(champion, register, returns, concern, pd.Timestamp("2020-12-31"), AS_OF, n=30)
    # two models, two questions: a factor's contribution to one is not a change in the other
    assert changes.scores[["list_before", "list_now", "model_before", "model_now"]].iloc[0].tolist() == [
        "proactive", "triage", "proactive", "triage"]
    assert changes.factors.empty
    assert 0 < changes.scores["score_now"].iloc[0] < 1 and 0 < changes.scores["score_before"].iloc[0] < 1
    # the same concern a year earlier too: triage at both dates, and its factors are compared
    earlier = pd.concat([concern.assign(date=pd.to_datetime(["2020-06-01"])), concern], ignore_index=True)
    stayed = changes_between(champion, register, returns, earlier, pd.Timestamp("2020-12-31"), AS_OF, n=30)
    assert stayed.scores[["list_before", "list_now"]].iloc[0].tolist() == ["triage", "triage"]
    assert "concerns" in set(stayed.factors["factor"])
    # under an open inquiry then (on neither list, so scored by the proactive model), proactive now: one
    # model at both dates, and its factors are compared
    inquired = pd.DataFrame({"charity_number": pd.array([number] * 3, dtype="string"),
                             "date": pd.to_datetime(["2020-10-01", "2020-11-01", "2021-03-01"]),
                             "event": pd.array(["concern_received", "inquiry_opened", "inquiry_closed"], dtype="string"),
                             "outcome": pd.array([pd.NA, pd.NA, "no_action"], dtype="string")})
    closed = changes_between(champion, register, returns, inquired, pd.Timestamp("2020-12-31"), AS_OF, n=30)
    assert closed.scores[["list_before", "list_now", "model_before", "model_now"]].iloc[0].tolist() == [
        "under inquiry", "proactive", "proactive", "proactive"]
    assert {"concerns", "inquiries"} & set(closed.factors["factor"])
