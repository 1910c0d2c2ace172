"""Unit tests for metrics, the rule baseline, the model grid and the ranked list."""

import numpy as np
import pandas as pd
import pytest

from risk_model.config import ExperimentConfig, ModelSpec, load_config
from risk_model.evaluate import (calibration_table, k_from_percent, precision_at_k, precision_curve,
                                 ranking_metrics, recall_at_k)
from risk_model.features import CATEGORICAL_FEATURES, NUMERIC_FEATURES
from risk_model.models import RiskIndicatorRule, build_pipeline, model_inputs
from risk_model.rank import rank_charities


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
    bad = tmp_path / "bad.yaml"
    bad.write_text("config_version: 1\nlabel: {horizon_months: 0}\n")
    with pytest.raises(ValueError, match="bad.yaml"):
        load_config(bad)
    assert load_config().config_hash() == load_config().config_hash()
