"""Snapshot features, models, explanations and scoring of an unseen file, on seeded CCNI-format data."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from risk_model.ccni.reasons import RANKED_COLUMNS, SNAPSHOT_FACTORS, score_extract, snapshot_contributions
from risk_model.ccni.snapshot import (
    BASELINES,
    FEATURE_COLUMNS,
    YEAR_END_FEATURE,
    build_snapshot_features,
    feature_columns,
    model_inputs,
    score_snapshot,
)
from risk_model.ccni.validation import (
    SnapshotConfig,
    beats_every_baseline,
    compare,
    cross_validate,
    labelled_rows,
    run_snapshot_benchmark,
)
from risk_model.config import ModelSpec
from risk_model.ingest.adapters.ccni import read
from risk_model.lists.points import negligible, steps_from
from tests.support.ccni import row, synthetic_rows, write

SMALL = SnapshotConfig(
    seed=5, n_folds=3,
    models=(ModelSpec(name="logistic", kind="logistic", params={"C": 0.3, "max_iter": 2000}),
            ModelSpec(name="lightgbm", kind="lightgbm", params={"n_estimators": 60, "num_leaves": 7,
                                                                "min_child_samples": 10})),
)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ccni")
    extract = read(write(folder / "charity-register-2020-06-30.csv", synthetic_rows(600, seed=1)))
    features = build_snapshot_features(extract.snapshot, extract.extract_date)
    return extract, features, run_snapshot_benchmark(features, SMALL)


@pytest.fixture(scope="module")
def unseen(tmp_path_factory):
    folder = tmp_path_factory.mktemp("unseen")
    rows = synthetic_rows(250, seed=2, first_number=300001)
    return read(write(folder / "charity-register-2020-06-30.csv", rows))


def test_features_are_measured_at_the_extract_date(tmp_path):
    extract = read(write(tmp_path / "charity-register-2020-06-30.csv", [
        row(100001, **{"Date registered": "30/06/2010", "Date for financial year ending": "31 March 2019",
                       "Total income": "0", "Total spending": "0", "Company number": "12345",
                       "What the charity does": "The advancement of education,The advancement of religion"}),
        row(100002, **{"Total income": "1000", "Total spending": "500000", "Website": "n/a"}),
    ]))
    features = build_snapshot_features(extract.snapshot, extract.extract_date).set_index("charity_number")
    first, second = features.loc["100001"], features.loc["100002"]
    assert first[YEAR_END_FEATURE] == (pd.Timestamp("2020-06-30") - pd.Timestamp("2019-03-31")).days == 457
    assert first["age_years"] == pytest.approx(10.0, abs=0.01)
    assert first["no_figures_reported"] == 1 and second["no_figures_reported"] == 0
    assert np.isnan(first["spending_over_income"]) and second["spending_over_income"] == 10.0
    assert first["has_company_number"] == 1 and second["has_company_number"] == 0
    assert first["has_website"] == 1 and second["has_website"] == 0
    assert first["does__education"] == 1 and first["does__religion"] == 1 and first["n_purposes"] == 2
    assert second["does__religion"] == 0
    assert YEAR_END_FEATURE not in feature_columns(year_end=False)
    assert feature_columns(year_end=True) == list(FEATURE_COLUMNS)


def test_baselines_order_as_their_rules_say():
    features = pd.DataFrame({"income_gbp": [10.0, np.nan, 500.0], YEAR_END_FEATURE: [100.0, 900.0, np.nan]})
    assert np.argsort(-BASELINES["largest_income_first"](features, 0), kind="stable").tolist() == [2, 0, 1]
    # No year end on file at all comes first: nothing has ever been filed.
    assert np.argsort(-BASELINES["oldest_year_end_first"](features, 0), kind="stable").tolist() == [2, 1, 0]
    assert np.array_equal(BASELINES["random"](features, 3), BASELINES["random"](features, 3))


def test_folds_are_stratified_and_every_model_is_compared(trained):
    _, features, result = trained
    labelled = labelled_rows(features)
    rate = labelled["label"].mean()
    folds = result.fold_metrics
    assert set(folds["fold"]) == {1, 2, 3}
    assert (folds["base_rate"] - rate).abs().max() < 0.02
    assert (folds["k"] == np.ceil(folds["n"] * 0.10)).all()
    expected = {("random", "baseline"), ("largest_income_first", "baseline"), ("oldest_year_end_first", "baseline"),
                *[(m, v) for m in ("logistic", "lightgbm") for v in ("with_year_end", "without_year_end")]}
    assert set(zip(result.comparison["model"], result.comparison["variant"])) == expected
    assert result.comparison.loc[result.comparison["variant"].eq("baseline"), "brier_mean"].isna().all()
    assert result.labelled == len(labelled) and result.positives == int(labelled["label"].sum())
    assert len(result.final_models) == 4


def test_cross_validation_is_reproducible(trained):
    _, features, result = trained
    again, _ = cross_validate(features, SMALL)
    pd.testing.assert_frame_equal(compare(again), result.comparison)


def test_models_learn_the_planted_signal(trained):
    _, _, result = trained
    champion = result.champions["with_year_end"]
    assert beats_every_baseline(result.comparison, champion, "with_year_end")
    table = result.comparison.set_index(["model", "variant"])
    assert table.loc[(champion, "with_year_end"), "auc_roc_mean"] > 0.75


@pytest.mark.parametrize("key", [("logistic", "with_year_end"), ("lightgbm", "with_year_end"),
                                 ("logistic", "without_year_end"), ("lightgbm", "without_year_end")])
def test_contributions_add_up_to_the_raw_score(trained, key):
    _, features, result = trained
    pipeline = result.final_models[key]
    rows = features.head(80)
    contributions = snapshot_contributions(pipeline, rows)
    p = score_snapshot(pipeline, rows)
    log_odds = np.log(p / (1 - p))
    assert np.allclose(contributions.base_value_log_odds + contributions.by_factor.sum(axis=1), log_odds, atol=1e-6)
    assert np.allclose(contributions.raw_score_log_odds, log_odds, atol=1e-6)
    assert list(contributions.by_factor.columns) == [f.id for f in SNAPSHOT_FACTORS]
    if key[1] == "without_year_end":
        assert (contributions.by_factor["year_end"] == 0).all()


def test_model_without_year_end_ignores_it_and_names_never_count(trained):
    _, features, result = trained
    rows = features.head(50)
    shifted = rows.assign(**{YEAR_END_FEATURE: rows[YEAR_END_FEATURE] + 2000, "charity_name": "Renamed"})
    without = result.final_models[("lightgbm", "without_year_end")]
    assert np.array_equal(score_snapshot(without, rows), score_snapshot(without, shifted))
    with_year_end = result.final_models[("lightgbm", "with_year_end")]
    renamed = rows.assign(charity_name="Another Name")
    assert np.array_equal(score_snapshot(with_year_end, rows), score_snapshot(with_year_end, renamed))
    assert list(model_inputs(rows, without).columns) == feature_columns(year_end=False)


def test_scoring_an_unseen_file_gives_a_complete_ranked_list_with_reasons(trained, unseen):
    _, _, result = trained
    pipeline = result.final_models[("lightgbm", "with_year_end")]
    scored = score_extract(pipeline, unseen, n_reasons=3, model="lightgbm", variant="with_year_end")
    ranked, snapshot = scored.ranked, unseen.snapshot
    eligible = set(snapshot.loc[snapshot["label_role"].ne("excluded"), "charity_number"])
    assert list(ranked.columns) == list(RANKED_COLUMNS)
    assert set(ranked["charity_number"]) == eligible and ranked["charity_number"].is_unique
    assert ranked["rank"].tolist() == list(range(1, len(eligible) + 1))
    assert ranked["score"].is_monotonic_decreasing and ranked["score"].between(0, 1).all()
    assert ranked["risk_band"].iloc[0] == "very high" and ranked["risk_band"].iloc[-1] == "low"
    assert (ranked["reasons_up"].notna() | ranked["reasons_down"].notna()).all()
    reasons = scored.reasons
    assert set(reasons["charity_number"]) == eligible
    assert reasons.groupby(["charity_number", "direction"]).size().max() <= 3
    assert reasons["sentence"].str.len().gt(10).all()
    assert reasons["source"].str.startswith("charity-register-2020-06-30.csv, row ").all()
    assert (reasons.loc[reasons["direction"].eq("up"), "contribution_log_odds"] > 0).all()
    assert (reasons.loc[reasons["direction"].eq("down"), "contribution_log_odds"] < 0).all()
    left_off = snapshot.loc[snapshot["label_role"].eq("excluded"), "charity_number"]
    assert set(scored.excluded["charity_number"]) == set(left_off)
    assert scored.excluded["exclusion"].notna().all()
    # The list is the same however the file's rows are ordered.
    shuffled = replace(unseen, snapshot=snapshot.sample(frac=1, random_state=0))
    again = score_extract(pipeline, shuffled, n_reasons=3, model="lightgbm", variant="with_year_end").ranked
    pd.testing.assert_frame_equal(again, ranked)


def test_reason_sentences_quote_the_charity_own_entry(trained, tmp_path):
    _, _, result = trained
    extract = read(write(tmp_path / "charity-register-2020-06-30.csv", [
        row(200001, **{"Total income": "0", "Total spending": "0", "Date for financial year ending": "31 March 2016",
                       "Website": ""}),
        row(200002, **{"Total income": "250000", "Total spending": "200000", "Company number": "NI601234"}),
    ]))
    pipeline = result.final_models[("logistic", "with_year_end")]
    scored = score_extract(pipeline, extract, n_reasons=11)
    sentences = scored.reasons.set_index(["charity_number", "factor"])["sentence"]
    assert sentences[("200001", "year_end")].startswith(
        "Latest financial year end on file is 31 Mar 2016, 1,552 days before the extract date: ")
    # 200001's year end takes its chance to 99%: what is added after it (no figures, no website) moves it by
    # under half a point, so it is no reason.
    assert ("200001", "figures_reported") not in sentences.index and ("200001", "website") not in sentences.index
    assert sentences[("200002", "spending")].startswith(
        "Spending of £200,000 against income of £250,000 (80% of income): charities spending like this score ")
    assert sentences[("200002", "company")].startswith("Company number NI601234 on the register: ")
    # Every sentence says which way it pushes; none is a negligible push.
    assert sentences.str.contains(r"score (?:higher|lower)$|the score$").all(), sentences.tolist()
    base = snapshot_contributions(pipeline, build_snapshot_features(extract.snapshot, extract.extract_date))
    bases = pd.Series(base.base_value_log_odds, index=["200001", "200002"])
    assert not negligible(*steps_from(scored.reasons, bases)).any()
    assert scored.ranked.loc[0, "charity_number"] == "200001"
