"""Exact per-charity contributions, in log-odds, summed to regulator-facing factors.

For LightGBM the contributions are the tree SHAP values LightGBM computes itself
(`pred_contrib=True`, the same values as shap.TreeExplainer, far faster). For logistic
regression they are exact too: coef * (x - training mean) on the model's encoded inputs, with
the base value at the training mean. Either way, for every charity,

    base_value_log_odds + sum(contributions) == the model's raw score (log-odds),

which `tests/test_explain.py` asserts to 1e-6. A rule baseline has no such contributions, but its
reasons are its points: `reason_contributions` gives each indicator met the step it makes, in
log-odds, from the score at no points to the score at the points met so far (indicators in the
rule's order), so the steps add up to its score but for the tie-break within a points total. A `models.ReviewLists` explains each charity by
its own list's model; the calibration fitted on the latest fold is affine in the log-odds
(slope * raw + intercept), so the contributions are multiplied by the slope and the base value
becomes slope * base + intercept: still exact, now on the calibrated score's scale.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from risk_model.domain.factors import FACTORS, Factor, factor_of
from risk_model.estimators import CentredLogisticRegression, RiskIndicatorRule
from risk_model.lists.membership import REVIEW_LISTS
from risk_model.models import ReviewLists, model_inputs


@dataclass(frozen=True)
class Contributions:
    """Per-row contributions of each encoded model column, and the base value, in log-odds."""

    columns: pd.DataFrame  # index aligned with the features passed in
    base_value_log_odds: np.ndarray  # per row: rows explained by different models have different bases
    raw_score_log_odds: np.ndarray
    # Rows scored by a rule: the points each factor's indicators scored (NaN for rows of other models).
    rule_points: pd.DataFrame | None = None

    def by_factor(self) -> pd.DataFrame:
        """Contributions summed to factors (columns in FACTORS order)."""
        return sum_to_factors(self.columns)


def encoded_inputs(pipeline: Pipeline, features: pd.DataFrame) -> pd.DataFrame:
    """The model's own input columns: the columns the pipeline was fitted on (any register's
    features, the CCNI snapshot's included), after its preprocessing."""
    return pipeline[:-1].transform(model_inputs(features, pipeline))


def explainable(model) -> bool:
    """Whether a model has exact log-odds contributions: what its final estimator's (or, for the
    review lists, every list's) `explainable()` says; an estimator without the method has none."""
    final = model if isinstance(model, ReviewLists) else model[-1]
    method = getattr(final, "explainable", None)
    return bool(method()) if callable(method) else False


def explain(pipeline, features: pd.DataFrame) -> Contributions:
    """Exact contributions of each encoded column to each row's raw score."""
    if isinstance(pipeline, ReviewLists):
        return _explain_by_list(pipeline, features)
    model = pipeline[-1]
    if not explainable(pipeline):
        raise ValueError(
            f"{type(model).__name__} has no log-odds contributions; explanations need a logistic "
            "regression or LightGBM model (the rule baseline explains itself by its indicators)"
        )
    encoded = encoded_inputs(pipeline, features)
    if hasattr(model, "booster_"):
        names = list(pipeline.named_steps["names"].names_in_) if "names" in pipeline.named_steps else list(encoded.columns)
        raw = model.booster_.predict(encoded.to_numpy(dtype=float), pred_contrib=True)
        columns = pd.DataFrame(raw[:, :-1], index=features.index, columns=names)
        base = raw[:, -1]
        score = raw.sum(axis=1)
    elif isinstance(model, CentredLogisticRegression):
        values = encoded.to_numpy(dtype=float)
        coef = model.coef_[0]
        columns = pd.DataFrame((values - model.feature_means_) * coef, index=features.index,
                               columns=list(encoded.columns))
        base = np.full(len(values), float(model.intercept_[0] + coef @ model.feature_means_))
        score = model.decision_function(encoded)
    else:  # pragma: no cover - explainable() is true only for the two kinds above
        raise ValueError(f"{type(model).__name__} says it is explainable but has no contributions here")
    return Contributions(columns=columns, base_value_log_odds=np.asarray(base, dtype=float),
                         raw_score_log_odds=np.asarray(score))


def _explain_by_list(model: ReviewLists, features: pd.DataFrame, each=explain) -> Contributions:
    """Each row explained by the model of its list (`each`: how one list's pipeline is explained), on the
    calibrated log-odds scale."""
    by = model.scoring_list(features)
    parts, points, base, score = [], [], np.zeros(len(features)), np.zeros(len(features))
    for name in REVIEW_LISTS:
        rows = np.flatnonzero(by == name)
        if not len(rows):
            continue
        slope, intercept = model.slope_intercept(name)
        part = each(model.pipelines[name], features.iloc[rows])
        parts.append(part.columns * slope)
        if part.rule_points is not None:
            points.append(part.rule_points)
        base[rows] = slope * part.base_value_log_odds + intercept
        score[rows] = slope * part.raw_score_log_odds + intercept
    columns = pd.concat(parts).fillna(0.0).reindex(features.index) if parts else pd.DataFrame(index=features.index)
    rule_points = pd.concat(points).reindex(features.index) if points else None
    return Contributions(columns=columns, base_value_log_odds=base, raw_score_log_odds=score, rule_points=rule_points)


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=float), 1e-12, 1 - 1e-12)
    return np.log(p / (1 - p))


def _rule_steps(pipeline, features: pd.DataFrame) -> Contributions:
    """A rule's indicators met, each as its step in log-odds from the score at the points met before it."""
    rule = pipeline[-1]
    inputs = model_inputs(features, pipeline)
    met = rule.indicator_points(inputs)
    cumulative = met.cumsum(axis=1).to_numpy()
    reached = _logit(rule.score_at(np.column_stack([np.zeros(len(met)), cumulative])))
    columns = pd.DataFrame(np.diff(reached, axis=1), index=features.index, columns=list(met.columns))
    return Contributions(columns=columns, base_value_log_odds=reached[:, 0],
                         raw_score_log_odds=_logit(rule.predict_proba(inputs)[:, 1]),
                         rule_points=sum_to_factors(met.set_axis(features.index)))


def has_reasons(model) -> bool:
    """Whether reasons can be given for a model's scores: exact contributions, or a rule's points (for the
    review lists, every list's model)."""
    pipelines = model.pipelines.values() if isinstance(model, ReviewLists) else [model]
    return all(explainable(p) or isinstance(p[-1], RiskIndicatorRule) for p in pipelines)


def reason_contributions(model, features: pd.DataFrame) -> Contributions:
    """The contributions a charity's reasons are given from: exact ones (`explain`), or a rule's steps."""
    def each(pipeline, rows: pd.DataFrame) -> Contributions:
        return _rule_steps(pipeline, rows) if isinstance(pipeline[-1], RiskIndicatorRule) else explain(pipeline, rows)
    return _explain_by_list(model, features, each) if isinstance(model, ReviewLists) else each(model, features)


def base_values(model) -> dict[str, float]:
    """Each review list's base value in log-odds (a single pipeline's under every list's name): the same
    for every charity its model scores, as the waterfall starts from it."""
    def one(pipeline) -> float:
        final = pipeline[-1]
        if isinstance(final, RiskIndicatorRule):
            return float(_logit(final.score_at(np.zeros(1)))[0])
        if hasattr(final, "booster_"):
            # Tree SHAP's bias term is the model's expected value: the same whatever the row.
            return float(final.booster_.predict(np.zeros((1, final.booster_.num_feature())), pred_contrib=True)[0, -1])
        if isinstance(final, CentredLogisticRegression):
            return float(final.intercept_[0] + final.coef_[0] @ final.feature_means_)
        raise ValueError(f"{type(final).__name__} has no base value")
    if not isinstance(model, ReviewLists):
        return dict.fromkeys(REVIEW_LISTS, one(model))
    out = {}
    for name in REVIEW_LISTS:
        slope, intercept = model.slope_intercept(name)
        out[name] = slope * one(model.pipelines[name]) + intercept
    return out


def membership(encoded_columns: list[str]) -> np.ndarray:
    """0/1 matrix (encoded columns x FACTORS) saying which factor each column belongs to."""
    index = {f.id: i for i, f in enumerate(FACTORS)}
    matrix = np.zeros((len(encoded_columns), len(FACTORS)))
    for row, column in enumerate(encoded_columns):
        matrix[row, index[factor_of(column)]] = 1.0
    return matrix


def sum_to_factors(columns: pd.DataFrame) -> pd.DataFrame:
    """Sum encoded-column contributions into factor contributions."""
    summed = columns.to_numpy(dtype=float) @ membership(list(columns.columns))
    return pd.DataFrame(summed, index=columns.index, columns=[f.id for f in FACTORS])


def top_factors(factor_values: pd.DataFrame, n: int) -> pd.DataFrame:
    """Long frame of each row's n largest positive and n largest negative factor contributions."""
    values = factor_values.to_numpy(dtype=float)
    order = np.argsort(-values, axis=1, kind="stable")
    rows = np.arange(len(values))[:, None]
    parts = []
    for direction, picks in (("up", order[:, :n]), ("down", order[:, ::-1][:, :n])):
        chosen = values[rows, picks]
        keep = chosen > 0 if direction == "up" else chosen < 0
        r, c = np.nonzero(keep)
        parts.append(pd.DataFrame({
            "row": r, "direction": direction, "position": c + 1,
            "factor": np.asarray(factor_values.columns)[picks[r, c]],
            "contribution_log_odds": chosen[r, c],
        }))
    long = pd.concat(parts, ignore_index=True)
    long.insert(0, "index", np.asarray(factor_values.index)[long.pop("row").to_numpy()])
    return long.sort_values(["index", "direction", "position"], ascending=[True, False, True],
                            kind="stable").reset_index(drop=True)


def global_importance(factor_values: pd.DataFrame, factors: tuple[Factor, ...] = FACTORS) -> pd.DataFrame:
    """Mean |contribution| per factor over rows, largest first (`factors`: the catalogue the columns name)."""
    mean_abs = factor_values.abs().mean()
    by_id = {f.id: f for f in factors}
    frame = pd.DataFrame({
        "factor": mean_abs.index, "label": [by_id[i].label for i in mean_abs.index],
        "group": [by_id[i].group for i in mean_abs.index], "mean_abs_log_odds": mean_abs.to_numpy(),
    })
    return frame.sort_values("mean_abs_log_odds", ascending=False, kind="stable").reset_index(drop=True)


def what_changed(now: pd.DataFrame, before: pd.DataFrame, n: int) -> pd.DataFrame:
    """Per charity (index), the n factors whose contribution moved most between two as-of dates."""
    n = min(n, now.shape[1])
    common = now.index.intersection(before.index)
    delta = now.loc[common] - before.loc[common]
    values = delta.to_numpy(dtype=float)
    order = np.argsort(-np.abs(values), axis=1, kind="stable")[:, :n]
    rows = np.repeat(np.arange(len(common)), n)
    cols = order.ravel()
    frame = pd.DataFrame({
        "index": np.asarray(common)[rows], "position": np.tile(np.arange(1, n + 1), len(common)),
        "factor": np.asarray(delta.columns)[cols], "change_log_odds": values[rows, cols],
        "before_log_odds": before.loc[common].to_numpy()[rows, cols],
        "now_log_odds": now.loc[common].to_numpy()[rows, cols],
    })
    return frame.loc[frame["change_log_odds"] != 0].reset_index(drop=True)
