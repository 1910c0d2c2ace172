"""Every estimator of the grid keeps scikit-learn's contract: `fit` changes no parameter, a
charity's score does not depend on the batch it is scored in, and LightGBM never lowers a score
as a risk indicator grows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from risk_model.ccni.snapshot import MONEY_FEATURES, feature_columns, snapshot_pipeline
from risk_model.config import ModelSpec
from risk_model.estimators import MONOTONE_INCREASING
from risk_model.features import build_features
from risk_model.lists.explain import explain, explainable
from risk_model.models import build_pipeline, model_inputs

SPECS = {
    "rule": ModelSpec(name="rule", kind="rule"),
    "queue": ModelSpec(name="queue", kind="queue"),
    "logistic": ModelSpec(name="logistic", kind="logistic", params={"C": 0.1, "max_iter": 500}),
    "lightgbm": ModelSpec(name="lightgbm", kind="lightgbm", params={"n_estimators": 40, "num_leaves": 7}),
}


@pytest.fixture(scope="module")
def panel(small_world):
    """Features of the small world's register at one date, and an outcome that depends on them."""
    features = build_features(small_world.register, small_world.returns, small_world.case_log,
                              pd.Timestamp("2019-12-31"))
    inputs = model_inputs(features).reset_index(drop=True)
    rng = np.random.default_rng(0)
    signal = (inputs["returns_outstanding"].fillna(0) > 0) | (inputs["concerns_last_12m"].fillna(0) > 0)
    y = ((rng.random(len(inputs)) < np.where(signal, 0.4, 0.05))).astype(float)
    return inputs, y


@pytest.fixture(scope="module", params=list(SPECS))
def fitted(request, panel):
    inputs, y = panel
    unfitted = build_pipeline(SPECS[request.param], seed=3)
    before = {name: clone(step).get_params(deep=False) for name, step in unfitted.steps}
    return request.param, unfitted.fit(inputs, y), before


def test_fit_changes_no_parameter(fitted):
    kind, pipeline, before = fitted
    after = {name: step.get_params(deep=False) for name, step in pipeline.steps}
    assert after.keys() == before.keys()
    for name in before:
        changed = {k for k in before[name] if repr(before[name][k]) != repr(after[name][k])}
        assert not changed, f"{kind}: fit changed {name}'s {sorted(changed)}"


def test_a_charity_scores_the_same_alone_as_in_any_batch(fitted, panel):
    kind, pipeline, _ = fitted
    inputs, _ = panel
    whole = pipeline.predict_proba(inputs)[:, 1]
    rng = np.random.default_rng(1)
    shuffled = rng.permutation(len(inputs))
    # equal to 12 significant digits: a matrix product may sum in another order in another batch
    # (1e-16), but nothing of the batch may reach the score (the rule's old tie-break moved it by 1e-6)
    same = {"rtol": 1e-12, "atol": 0}
    np.testing.assert_allclose(pipeline.predict_proba(inputs.iloc[shuffled])[:, 1], whole[shuffled], **same)
    half = shuffled[: len(inputs) // 2]
    np.testing.assert_allclose(pipeline.predict_proba(inputs.iloc[half])[:, 1], whole[half], **same)
    # the highest-scored charities carry the tie-breaks that once depended on the batch
    for row in np.argsort(-whole)[:5].tolist() + rng.choice(len(inputs), 5, replace=False).tolist():
        alone = pipeline.predict_proba(inputs.iloc[[row]])[:, 1][0]
        assert alone == pytest.approx(whole[row], rel=1e-12, abs=0), f"{kind}: row {row} scores {alone!r} alone and {whole[row]!r} in the batch"


def test_lightgbm_never_lowers_a_score_as_a_risk_indicator_grows(panel):
    inputs, y = panel
    pipeline = build_pipeline(SPECS["lightgbm"], seed=3).fit(inputs, y)
    model = pipeline[-1]
    assert sum(model.monotone_constraints_) == len(MONOTONE_INCREASING)
    rows = inputs.sample(200, random_state=2)
    for feature in MONOTONE_INCREASING:
        top = float(np.nanmax(inputs[feature])) + 2
        grid = np.linspace(0, top, 12)
        scores = np.column_stack([pipeline.predict_proba(rows.assign(**{feature: value}))[:, 1] for value in grid])
        drops = np.diff(scores, axis=1).min()
        assert drops >= -1e-12, f"the score fell by {-drops:.2e} as {feature} grew"


def test_without_the_constraint_lightgbm_is_free_to_lower_a_score(panel):
    """The check above can fail: fitted to an outcome that falls as returns go outstanding, the
    unconstrained model lowers scores, and the constrained one cannot."""
    inputs, _ = panel
    y = (inputs["returns_outstanding"].fillna(0) == 0).astype(float).to_numpy()
    rows = inputs.sample(200, random_state=2)
    grid = np.arange(0, 5)
    for monotone, falls in ((False, True), (True, False)):
        spec = ModelSpec(name="lgb", kind="lightgbm",
                         params={"n_estimators": 40, "num_leaves": 7, "monotone_risk_indicators": monotone})
        pipeline = build_pipeline(spec, seed=3).fit(inputs, y)
        scores = np.column_stack([pipeline.predict_proba(rows.assign(returns_outstanding=v))[:, 1] for v in grid])
        assert (np.diff(scores, axis=1).min() < -1e-3) == falls


def test_each_estimator_says_whether_it_can_be_explained_and_explain_agrees(fitted, panel):
    kind, pipeline, _ = fitted
    inputs, _ = panel
    assert explainable(pipeline) is (kind in ("logistic", "lightgbm"))
    if explainable(pipeline):
        contributions = explain(pipeline, inputs.head(20))
        np.testing.assert_allclose(contributions.base_value_log_odds + contributions.columns.sum(axis=1),
                                   contributions.raw_score_log_odds, atol=1e-6)
    else:
        with pytest.raises(ValueError, match="no log-odds contributions"):
            explain(pipeline, inputs.head(20))


@pytest.mark.parametrize("kind", ["logistic", "lightgbm"])
def test_a_snapshot_register_gets_the_main_pipeline_on_its_own_columns(kind):
    spec = SPECS[kind]
    pipeline = snapshot_pipeline(spec, seed=3, year_end=False)
    register = build_pipeline(spec, seed=3)
    assert [type(step).__name__ for _, step in pipeline.steps] == [type(s).__name__ for _, s in register.steps]
    read = [c for _, _, columns in pipeline.named_steps["preprocess"].transformers for c in columns]
    assert sorted(read) == sorted(feature_columns(year_end=False))
    if kind == "logistic":
        logged = dict((name, cols) for name, _, cols in pipeline.named_steps["preprocess"].transformers)["log"]
        assert tuple(logged) == MONEY_FEATURES
