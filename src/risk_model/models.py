"""The model grid: a transparent rule baseline, logistic regression and LightGBM.

Each model is one sklearn Pipeline that takes the feature frame from `features.build_features`
(named columns, categories as strings, NaN for missing) and returns probabilities, so the
fitted preprocessing travels with the model into MLflow and into the scoring service.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
from lightgbm import LGBMClassifier
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler
from sklearn.utils.validation import check_is_fitted

from risk_model.config import ModelSpec
from risk_model.features import CATEGORICAL_FEATURES, MONEY_FEATURES, NUMERIC_FEATURES

# The baseline's indicators: (name, feature, threshold, points). A charity scores the points of
# each indicator at or above its threshold, in the spirit of a regulator's published risk
# indicators: a recent concern counts double, as it is the regulator's most direct signal.
RULE_INDICATORS: tuple[tuple[str, str, float, int], ...] = (
    ("a concern was received in the last 12 months", "concerns_last_12m", 1.0, 2),
    ("a return is overdue", "returns_outstanding", 1.0, 1),
    ("spending exceeded income in each of the last 3 returns", "spend_over_income_last3", 3.0, 1),
)


class RiskIndicatorRule(ClassifierMixin, BaseEstimator):
    """Points for each risk indicator met; the probability is the training outcome rate per points total.

    Ties within a points total are broken by the days the oldest return is overdue, so the
    ranking is complete and deterministic.
    """

    def __init__(self, indicators: tuple[tuple[str, str, float, int], ...] = RULE_INDICATORS,
                 prior_weight: float = 1.0):
        self.indicators = indicators
        self.prior_weight = prior_weight

    def points(self, X: pd.DataFrame) -> np.ndarray:
        """Points each row scores: the sum of the points of the indicators it meets."""
        total = np.zeros(len(X))
        for _, feature, threshold, points in self.indicators:
            total += points * (X[feature].fillna(0).to_numpy(dtype=float) >= threshold)
        return total

    def fit(self, X: pd.DataFrame, y) -> "RiskIndicatorRule":
        y = np.asarray(y, dtype=float)
        self.classes_ = np.array([0.0, 1.0])
        points = self.points(X)
        base_rate = y.mean() if len(y) else 0.0
        rates = []
        for p in range(int(sum(i[3] for i in self.indicators)) + 1):
            in_group = points == p
            # Shrink each group's rate toward the overall rate so empty groups stay sensible.
            rates.append((y[in_group].sum() + self.prior_weight * base_rate) / (in_group.sum() + self.prior_weight))
        # A rule is monotone by design: more indicators met never lowers the score.
        self.rate_by_points_ = np.maximum.accumulate(np.asarray(rates))
        self.feature_names_in_ = np.asarray(list(X.columns), dtype=object)
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        check_is_fitted(self, "rate_by_points_")
        points = self.points(X).astype(int)
        overdue = X["days_overdue_oldest_outstanding"].fillna(0).to_numpy(dtype=float)
        tie_break = 1e-6 * (overdue / (overdue.max() + 1.0) if len(overdue) else overdue)
        positive = np.clip(self.rate_by_points_[points] + tie_break, 0.0, 1.0)
        return np.column_stack([1.0 - positive, positive])

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(float)


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
        self.feature_means_ = np.asarray(X, dtype=float).mean(axis=0)
        return self


# Risk indicators that may only raise a tree model's score as they grow: a case officer must
# never read "a second overdue return lowered this charity's risk".
MONOTONE_INCREASING: tuple[str, ...] = (
    "returns_outstanding", "days_overdue_oldest_outstanding", "returns_late", "late_share_last3_due",
    "spend_over_income_last3", "concerns_prior", "concerns_last_12m", "regulatory_actions_prior",
)


class MonotoneLGBMClassifier(LGBMClassifier):
    """LightGBM constrained to be non-decreasing in each of MONOTONE_INCREASING."""

    def fit(self, X, y, **kwargs):
        increasing = {"num_" + name for name in MONOTONE_INCREASING}
        self.set_params(monotone_constraints=[1 if c in increasing else 0 for c in X.columns])
        return super().fit(X, y, **kwargs)


def signed_log1p(values):
    """log(1 + |x|) with the sign of x: money spans six orders of magnitude."""
    return np.sign(values) * np.log1p(np.abs(values))


def _encoder() -> OneHotEncoder:
    # A category unseen in training (a new form, a misspelt area) scores as none of the known ones.
    return OneHotEncoder(handle_unknown="ignore", sparse_output=False)


def _linear_preprocessing() -> ColumnTransformer:
    other_numeric = [c for c in NUMERIC_FEATURES if c not in MONEY_FEATURES]
    money = make_pipeline(
        FunctionTransformer(signed_log1p, feature_names_out="one-to-one"),
        SimpleImputer(strategy="median", add_indicator=False, keep_empty_features=True),
        StandardScaler(),
    )
    # Mean imputation: every gap already has its own missing__* flag, and a median over
    # hundreds of thousands of rows costs more than the fit itself.
    numeric = make_pipeline(SimpleImputer(strategy="mean", keep_empty_features=True), StandardScaler())
    return ColumnTransformer(
        [
            ("money", money, list(MONEY_FEATURES)),
            ("num", numeric, other_numeric),
            ("cat", _encoder(), list(CATEGORICAL_FEATURES)),
        ],
        verbose_feature_names_out=True,
    )


def _tree_preprocessing() -> ColumnTransformer:
    return ColumnTransformer(
        [
            ("num", "passthrough", list(NUMERIC_FEATURES)),
            ("cat", _encoder(), list(CATEGORICAL_FEATURES)),
        ],
        verbose_feature_names_out=True,
    )


def build_pipeline(spec: ModelSpec, seed: int) -> Pipeline:
    """An unfitted Pipeline for one entry of the model grid, seeded."""
    params = dict(spec.params)
    if spec.kind == "rule":
        return Pipeline([("model", RiskIndicatorRule(**params))])
    if spec.kind == "logistic":
        model = CentredLogisticRegression(random_state=seed, **params)
        pipeline = Pipeline([("preprocess", _linear_preprocessing()), ("model", model)])
    elif spec.kind == "lightgbm":
        monotone = bool(params.pop("monotone_risk_indicators", True))
        model = (MonotoneLGBMClassifier if monotone else LGBMClassifier)(random_state=seed, n_jobs=2, verbose=-1, deterministic=True,
                               force_row_wise=True, **params)
        pipeline = Pipeline([("preprocess", _tree_preprocessing()), ("names", SafeColumnNames()), ("model", model)])
    else:  # pragma: no cover - pydantic restricts the values
        raise ValueError(f"unknown model kind {spec.kind!r}")
    return pipeline.set_output(transform="pandas")


def model_inputs(features: pd.DataFrame) -> pd.DataFrame:
    """The columns every pipeline reads, in a fixed order."""
    return features[list(NUMERIC_FEATURES) + list(CATEGORICAL_FEATURES)]
