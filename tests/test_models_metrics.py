"""Unit tests for metrics, the rule baseline, the model grid and the ranked list."""

import numpy as np
import pandas as pd
import pytest

from risk_model.config import ExperimentConfig, ModelSpec, load_config
from risk_model.estimators import ConcernQueue, RiskIndicatorRule
from risk_model.evaluate import (
    brier_skill,
    calibration_table,
    k_from_percent,
    precision_at_k,
    precision_curve,
    ranking_metrics,
    recall_at_k,
)
from risk_model.features import CATEGORICAL_FEATURES, NUMERIC_FEATURES
from risk_model.lists.rank import rank_charities
from risk_model.models import (
    ReviewLists,
    build_pipeline,
    model_inputs,
    platt_calibration,
    raw_log_odds,
)


def test_precision_and_recall_at_k_by_hand():
    y = [1, 0, 1, 0, 0, 1]
    s = [0.9, 0.8, 0.7, 0.1, 0.2, 0.05]
    assert precision_at_k(y, s, 2) == 0.5
    assert precision_at_k(y, s, 3) == pytest.approx(2 / 3)
    assert recall_at_k(y, s, 3) == pytest.approx(2 / 3)
    assert recall_at_k(y, s, 6) == 1.0
    assert precision_at_k(y, s, 100) == 0.5  # k beyond the list: the whole list


def test_ties_break_by_position():
    y = [0, 1, 0]
    assert precision_at_k(y, [0.5, 0.5, 0.5], 1) == 0.0
    assert precision_at_k(y, [0.5, 0.5, 0.1], 2) == 0.5


def test_ranking_metrics_keys_and_values():
    m = ranking_metrics([1, 0, 0, 0], [0.9, 0.1, 0.2, 0.3], capacity_k=1, k_percent=50)
    assert m["precision_at_k"] == 1.0
    assert m["precision_at_k_pct"] == 0.5
    assert m["auc_roc"] == 1.0
    assert m["brier"] == pytest.approx(((0.1) ** 2 + 0.1 ** 2 + 0.2 ** 2 + 0.3 ** 2) / 4)
    # against always giving the base rate, 0.25: a Brier of 0.25 * 0.75
    assert m["brier_skill"] == pytest.approx(1 - m["brier"] / (0.25 * 0.75))


def test_brier_skill_is_zero_for_the_base_rate_one_when_perfect_and_undefined_without_both_labels():
    y = np.array([1, 0, 0, 0, 0, 0, 0, 0, 0, 0])
    assert ranking_metrics(y, np.full(10, 0.1), 1, 10)["brier_skill"] == pytest.approx(0.0)
    assert ranking_metrics(y, y.astype(float), 1, 10)["brier_skill"] == pytest.approx(1.0)
    assert ranking_metrics(y, np.full(10, 0.5), 1, 10)["brier_skill"] < 0
    assert np.isnan(brier_skill(0.0, 0.0))
    assert k_from_percent(25_000, 1.0) == 250


def test_precision_curve_and_calibration():
    curve = precision_curve([1, 1, 0, 0], [0.9, 0.8, 0.7, 0.1], np.array([1, 2, 4]))
    assert curve["precision"].tolist() == [1.0, 1.0, 0.5]
    table = calibration_table([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9], n_bins=2)
    assert table["observed_rate"].tolist() == [0.0, 1.0]


def _frame(n=400, seed=0):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({c: rng.random(n) for c in NUMERIC_FEATURES})
    for c in CATEGORICAL_FEATURES:
        frame[c] = rng.choice(["A", "CIO (Charitable Incorporated Organisation, E&W)", "Unknown"], n)
    frame["returns_outstanding"] = rng.integers(0, 3, n).astype(float)
    frame["income_latest_gbp"] = np.where(rng.random(n) < 0.1, np.nan, rng.lognormal(9, 2, n))
    y = (rng.random(n) < 0.05 + 0.3 * (frame["returns_outstanding"] > 0)).astype(float)
    return frame, y


def test_rule_baseline_is_monotone_in_indicators():
    frame, y = _frame()
    rule = RiskIndicatorRule().fit(frame, y)
    assert np.all(np.diff(rule.rate_by_points_) >= 0)
    more = frame.assign(returns_outstanding=1.0, spend_over_income_last3=3.0)
    fewer = frame.assign(returns_outstanding=0.0, spend_over_income_last3=0.0)
    assert np.all(rule.predict_proba(more)[:, 1] >= rule.predict_proba(fewer)[:, 1])


def test_rule_ties_break_by_how_far_the_indicators_are_met_the_same_alone_as_in_a_batch():
    frame, y = _frame()
    frame = frame.assign(concerns_last_12m=0.0, spend_over_income_last3=0.0, returns_outstanding=1.0,
                         days_overdue_oldest_outstanding=np.linspace(1, 400, len(frame)))
    rule = RiskIndicatorRule().fit(frame, y)
    batch = rule.predict_proba(frame)[:, 1]
    alone = np.array([rule.predict_proba(frame.iloc[[i]])[0, 1] for i in range(0, len(frame), 37)])
    np.testing.assert_array_equal(batch[::37], alone)
    # one points total, so the order within it follows the days overdue
    assert np.all(np.diff(batch[np.argsort(frame["days_overdue_oldest_outstanding"].to_numpy())]) > 0)
    # and a higher points total always comes first
    more = frame.assign(spend_over_income_last3=3.0, days_overdue_oldest_outstanding=1.0)
    assert rule.predict_proba(more)[:, 1].min() > batch.max()


def test_concern_queue_puts_a_recent_concern_first_then_the_points():
    frame, y = _frame()
    frame = frame.assign(days_since_last_concern=np.nan, returns_outstanding=0.0, spend_over_income_last3=0.0,
                         concerns_last_12m=0.0)
    frame.loc[:9, "days_since_last_concern"] = np.arange(10) * 8.0  # concerns 0-72 days ago
    frame.loc[10:, "returns_outstanding"] = 1.0
    queue = ConcernQueue().fit(frame, y)
    scores = queue.predict_proba(frame)[:, 1]
    assert scores[:10].min() > scores[10:].max()
    assert np.all(np.diff(scores[:10]) < 0)  # the most recent concern first


def test_logistic_regression_flags_gaps_and_gives_each_category_one_shrunk_column():
    frame, y = _frame(n=2_000)
    frame["main_operating_location"] = np.random.default_rng(3).choice([f"area {i}" for i in range(30)], len(frame))
    spec = next(s for s in load_config().models if s.kind == "logistic")
    pipeline = build_pipeline(spec, seed=1).fit(model_inputs(frame), y)
    names = list(pipeline[:-1].get_feature_names_out())
    assert "log__missingindicator_income_latest_gbp" in names
    assert [n for n in names if "main_operating_location" in n] == ["cat__main_operating_location"]
    encoded = pipeline[:-1].transform(model_inputs(frame))
    effect = np.abs(pipeline[-1].coef_[0]) * encoded.std().to_numpy()
    ranked = [names[i] for i in np.argsort(-effect)]
    # y follows overdue returns; thirty areas of noise must not buy the largest effects
    assert ranked[0].endswith("returns_outstanding")
    assert "cat__main_operating_location" not in ranked[:5]
    # no class weights: the mean score is close to the outcome rate
    assert abs(pipeline.predict_proba(model_inputs(frame))[:, 1].mean() - y.mean()) < 0.02


def test_platt_calibration_recovers_a_known_slope_and_intercept():
    rng = np.random.default_rng(0)
    raw = rng.normal(-2, 1.5, 40_000)
    y = (rng.random(len(raw)) < 1 / (1 + np.exp(-(0.5 * raw - 1.0)))).astype(float)
    slope, intercept = platt_calibration(raw, y)
    assert slope == pytest.approx(0.5, abs=0.05) and intercept == pytest.approx(-1.0, abs=0.1)
    assert platt_calibration(raw, np.zeros(len(raw))) == (1.0, 0.0)


def test_calibration_never_reverses_a_list():
    """A fold whose outcomes fall as scores rise (a small, noisy fold) must not turn the list upside
    down: the slope stays 1 and only the level is matched to the fold's outcome rate."""
    rng = np.random.default_rng(1)
    raw = rng.normal(-2, 1, 3_000)
    y = (rng.random(len(raw)) < 1 / (1 + np.exp(-(-0.8 * raw - 4.0)))).astype(float)
    slope, intercept = platt_calibration(raw, y)
    assert slope == 1.0
    assert np.mean(1 / (1 + np.exp(-(raw + intercept)))) == pytest.approx(y.mean(), rel=1e-6)


def test_review_lists_score_each_charity_with_its_own_lists_calibrated_model():
    frame, y = _frame(n=600)
    frame = frame.assign(open_inquiry=0.0, open_concern=(np.arange(600) % 3 == 0).astype(float),
                         concerns_last_12m=(np.arange(600) % 3 == 0).astype(float))
    spec = next(s for s in load_config().models if s.kind == "lightgbm")
    proactive = build_pipeline(spec, 1).fit(model_inputs(frame), y)
    triage = build_pipeline(next(s for s in load_config().models if s.kind == "logistic"), 1).fit(
        model_inputs(frame), y)
    model = ReviewLists({"proactive": proactive, "triage": triage}, {"proactive": (0.5, -1.0), "triage": (1.0, 0.0)},
                        {"proactive": 10, "triage": 5})
    scores = model.predict_proba(model_inputs(frame))[:, 1]
    on_triage = frame["open_concern"].to_numpy() == 1
    expected_triage = triage.predict_proba(model_inputs(frame))[:, 1]
    raw = raw_log_odds(proactive, frame)
    expected_proactive = 1 / (1 + np.exp(-(0.5 * raw - 1.0)))
    np.testing.assert_allclose(scores[on_triage], expected_triage[on_triage], rtol=1e-9)
    np.testing.assert_allclose(scores[~on_triage], expected_proactive[~on_triage], rtol=1e-9)
    # a charity scored alone gets the score it has in the batch
    assert model.predict_proba(model_inputs(frame.iloc[[3]]))[0, 1] == pytest.approx(scores[3], rel=1e-12)


@pytest.mark.parametrize("spec", load_config().models, ids=lambda s: s.name)
def test_every_grid_model_fits_and_is_deterministic(spec):
    frame, y = _frame()
    first = build_pipeline(spec, seed=7).fit(model_inputs(frame), y).predict_proba(model_inputs(frame))[:, 1]
    second = build_pipeline(spec, seed=7).fit(model_inputs(frame), y).predict_proba(model_inputs(frame))[:, 1]
    assert first.shape == (len(frame),)
    assert np.all((first >= 0) & (first <= 1))
    np.testing.assert_array_equal(first, second)


def test_unseen_category_at_scoring_does_not_fail():
    frame, y = _frame()
    pipeline = build_pipeline(ModelSpec(name="lgb", kind="lightgbm", params={"n_estimators": 10}), 1)
    pipeline.fit(model_inputs(frame), y)
    unseen = frame.assign(constitutional_form="A form never seen")
    assert np.isfinite(pipeline.predict_proba(model_inputs(unseen))[:, 1]).all()


def test_ranked_list_orders_and_bands():
    features = pd.DataFrame({
        "charity_number": ["SC000003", "SC000001", "SC000002"], "charity_name": ["c", "a", "b"],
        "main_operating_location": "Fife", "income_band": "up to 25k", "constitutional_form": "Other",
        "geographical_spread": "x", "as_of": pd.Timestamp("2025-01-01"),
    })
    ranked = rank_charities(features, np.array([0.2, 0.2, 0.9]), capacity_k=2, model="m", model_version="3")
    assert ranked["charity_number"].tolist() == ["SC000002", "SC000001", "SC000003"]
    assert ranked["rank"].tolist() == [1, 2, 3]
    assert ranked["within_capacity"].tolist() == [True, True, False]
    assert ranked["rank_percentile"].tolist() == [100.0, 50.0, 0.0]
    assert ranked["risk_band"].iloc[0] == "very high"


def test_config_rejects_unknown_version_and_duplicate_names(tmp_path):
    with pytest.raises(ValueError):
        ExperimentConfig(config_version=99)
    with pytest.raises(ValueError):
        ExperimentConfig(models=(ModelSpec(name="a", kind="rule"), ModelSpec(name="a", kind="rule")))
    with pytest.raises(ValueError, match="config_version 1 is not supported"):
        ExperimentConfig(config_version=1)
    bad = tmp_path / "bad.yaml"
    bad.write_text("config_version: 2\nlabel: {horizon_months: 0}\n")
    with pytest.raises(ValueError, match="bad.yaml"):
        load_config(bad)
    assert load_config().config_hash() == load_config().config_hash()
