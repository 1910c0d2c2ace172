"""The estimators of the model grid that scikit-learn and LightGBM do not provide as they are.

The transparent baselines (`RiskIndicatorRule`, a regulator's published risk indicators in
points, and `ConcernQueue`, complaints worked in turn), logistic regression that remembers its
training means (for per-feature contributions), LightGBM as it is and constrained to rise with
the risk indicators, and the column renaming LightGBM needs. Each final estimator says through
`explainable()` whether it has exact log-odds contributions. Each follows scikit-learn's estimator
contract: `__init__` only stores parameters and `fit` changes none of them. How they are put
into pipelines is `models`'.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
from lightgbm import LGBMClassifier
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin
from sklearn.linear_model import LogisticRegression
from sklearn.utils.validation import check_is_fitted

# The baseline's indicators: (name, feature, threshold, points). A charity scores the points of
# each indicator at or above its threshold, in the spirit of a regulator's published risk
# indicators: a recent concern counts double, as it is the regulator's most direct signal.
RULE_INDICATORS: tuple[tuple[str, str, float, int], ...] = (
    ("a concern was received in the last 12 months", "concerns_last_12m", 1.0, 2),
    ("a return is overdue", "returns_outstanding", 1.0, 1),
    ("spending exceeded income in each of the last 3 returns", "spend_over_income_last3", 3.0, 1),
)


def _share(values: np.ndarray, half: float) -> np.ndarray:
    """values / (values + half) for non-negative values: 0 at 0, 1/2 at `half`, towards 1 beyond."""
    values = np.clip(np.nan_to_num(values, nan=0.0), 0, None)
    return values / (values + half)


class RiskIndicatorRule(ClassifierMixin, BaseEstimator):
    """Points for each risk indicator met; the probability is the training outcome rate per points total.

    Ties within a points total are broken by how far each indicator is met (days the oldest
    return is overdue, how far spending exceeded income, how many concerns), each put on [0, 1)
    by a fixed scale, so a charity gets the same score alone as in any batch and the ranking is
    complete. The tie-break never moves a charity past a higher points total.
    """

    def __init__(self, indicators: tuple[tuple[str, str, float, int], ...] = RULE_INDICATORS,
                 prior_weight: float = 1.0):
        self.indicators = indicators
        self.prior_weight = prior_weight

    def indicator_points(self, X: pd.DataFrame) -> pd.DataFrame:
        """Points each row scores for each indicator (columns: the indicators' features), 0 where unmet."""
        return pd.DataFrame({feature: points * (X[feature].fillna(0).to_numpy(dtype=float) >= threshold)
                             for _, feature, threshold, points in self.indicators}, index=X.index, dtype=float)

    def indicator_names(self) -> dict[str, str]:
        """Each indicator's feature and what it says, e.g. 'a return is overdue'."""
        return {feature: name for name, feature, _, _ in self.indicators}

    def points(self, X: pd.DataFrame) -> np.ndarray:
        """Points each row scores: the sum of the points of the indicators it meets."""
        return self.indicator_points(X).to_numpy().sum(axis=1)

    def score_at(self, points: np.ndarray) -> np.ndarray:
        """The probability a points total gives before the tie-break within it: the score of a charity
        meeting its indicators only just."""
        points = np.asarray(points, dtype=float)
        return np.clip(self.rate_by_points_[points.astype(int)] + self.step_ * points, 0.0, 1.0)

    def tie_break(self, X: pd.DataFrame) -> np.ndarray:
        """How strongly the indicators are met, in [0, 1): a fixed-scale mean of their continuous versions."""
        overdue = _share(X["days_overdue_oldest_outstanding"].to_numpy(dtype=float), 180.0)
        overspend = _share(X["spend_over_income_ratio_latest"].to_numpy(dtype=float) - 1.0, 0.25)
        concerns = _share(X["concerns_last_12m"].to_numpy(dtype=float), 1.0)
        return (overdue + overspend + concerns) / 3.0

    def fit(self, X: pd.DataFrame, y, sample_weight=None) -> "RiskIndicatorRule":
        y = np.asarray(y, dtype=float)
        w = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, dtype=float)
        self.classes_ = np.array([0.0, 1.0])
        points = self.points(X)
        base_rate = float(np.average(y, weights=w)) if len(y) else 0.0
        rates = []
        for p in range(int(self._max_points()) + 1):
            in_group = points == p
            # Shrink each group's rate toward the overall rate so empty groups stay sensible.
            rates.append(((w * y)[in_group].sum() + self.prior_weight * base_rate)
                         / (w[in_group].sum() + self.prior_weight))
        # A rule is monotone by design: more indicators met never lowers the score.
        self.rate_by_points_ = np.maximum.accumulate(np.asarray(rates))
        gaps = np.diff(self.rate_by_points_)
        smallest = gaps[gaps > 0].min() if (gaps > 0).any() else 1e-6
        # One step of the points total (and the tie-break within it) stays below the smallest gap
        # between rates, so the order is points first, then the tie-break.
        self.step_ = float(min(smallest, 1e-3)) / (2.0 * (self._max_points() + 1))
        self.feature_names_in_ = np.asarray(list(X.columns), dtype=object)
        return self

    def _max_points(self) -> float:
        return float(sum(i[3] for i in self.indicators))

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        check_is_fitted(self, "rate_by_points_")
        points = self.points(X)
        order = self.step_ * (points + self.tie_break(X))
        positive = np.clip(self.rate_by_points_[points.astype(int)] + order, 0.0, 1.0)
        return np.column_stack([1.0 - positive, positive])

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(float)

    def explainable(self) -> bool:
        """No log-odds contributions: a rule explains itself by the indicators it counts."""
        return False


QUEUE_RECENT_DAYS = 90


class ConcernQueue(RiskIndicatorRule):
    """A regulator working its complaints in turn: a concern in the last 90 days first, then the
    indicator points, the most recent concern first within a points total."""

    def indicator_points(self, X: pd.DataFrame) -> pd.DataFrame:
        recent = X["days_since_last_concern"].fillna(np.inf).to_numpy(dtype=float) <= QUEUE_RECENT_DAYS
        return super().indicator_points(X).assign(days_since_last_concern=(super()._max_points() + 1) * recent)

    def indicator_names(self) -> dict[str, str]:
        return super().indicator_names() | {
            "days_since_last_concern": f"a concern was received in the last {QUEUE_RECENT_DAYS} days"}

    def _max_points(self) -> float:
        return 2.0 * super()._max_points() + 1

    def tie_break(self, X: pd.DataFrame) -> np.ndarray:
        days = X["days_since_last_concern"].to_numpy(dtype=float)
        return np.where(np.isnan(days), 0.0, 1.0 - _share(days, 30.0))


class SafeColumnNames(TransformerMixin, BaseEstimator):
    """Rename columns to letters, digits and underscores (LightGBM rejects JSON characters),
    keeping the original names in `names_in_` for explanations."""

    def fit(self, X: pd.DataFrame, y=None) -> "SafeColumnNames":
        self.names_in_ = list(X.columns)
        safe, seen = [], set()
        for name in self.names_in_:
            candidate = re.sub(r"[^0-9A-Za-z_]+", "_", str(name)).strip("_")
            while candidate in seen:
                candidate += "_"
            seen.add(candidate)
            safe.append(candidate)
        self.names_out_ = safe
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        check_is_fitted(self, "names_out_")
        return X.set_axis(self.names_out_, axis=1)

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        return np.asarray(self.names_out_, dtype=object)


class CentredLogisticRegression(LogisticRegression):
    """Logistic regression that remembers the mean of its training inputs, so a charity's
    per-feature contribution coef * (x - mean) is measured from the average charity."""

    def fit(self, X, y, sample_weight=None):
        super().fit(X, y, sample_weight=sample_weight)
        self.feature_means_ = np.average(np.asarray(X, dtype=float), axis=0, weights=sample_weight)
        return self

    def explainable(self) -> bool:
        """coef * (x - training mean) adds up exactly to the log-odds."""
        return True


# Risk indicators that may only raise a tree model's score as they grow: a case officer must
# never read "a second overdue return lowered this charity's risk".
MONOTONE_INCREASING: tuple[str, ...] = (
    "returns_outstanding", "days_overdue_oldest_outstanding", "returns_late", "late_share_last3_due",
    "spend_over_income_last3", "concerns_prior", "concerns_last_12m", "regulatory_actions_prior",
)


class ExplainedLGBMClassifier(LGBMClassifier):
    """LightGBM as it is, marked as explainable: its own tree SHAP values (`pred_contrib`) add up
    exactly to its raw score."""

    def explainable(self) -> bool:
        return True


class MonotoneLGBMClassifier(ExplainedLGBMClassifier):
    """LightGBM constrained to be non-decreasing in each of MONOTONE_INCREASING.

    The constraints depend on the columns, known only at `fit`; they are kept in the fitted
    attribute `monotone_constraints_` and handed to the booster, never written into the
    estimator's parameters (scikit-learn's contract: `fit` changes no parameter).
    """

    def fit(self, X, y, **kwargs):
        # the tree preprocessing names each numeric column "num__<feature>"
        increasing = {"num__" + name for name in MONOTONE_INCREASING}
        self.monotone_constraints_ = [1 if c in increasing else 0 for c in X.columns]
        return super().fit(X, y, **kwargs)

    def _process_params(self, stage: str) -> dict:
        # LightGBM's wrapper takes no constraints at fit; this hook (LightGBM 4.x, pinned in
        # requirements.lock) is where it assembles the booster's parameters from the estimator's.
        params = super()._process_params(stage)
        if stage == "fit":
            params["monotone_constraints"] = self.monotone_constraints_
        return params
