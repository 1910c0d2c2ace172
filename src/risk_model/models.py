"""The model grid: transparent rule baselines, logistic regression and LightGBM, and the one
artefact that carries a review list's model per list.

Each model is one sklearn Pipeline that takes the feature frame from `features.build_features`
(named columns, categories as strings, NaN for missing) and returns probabilities, so the
fitted preprocessing travels with the model into MLflow and into the scoring service.
`ReviewLists` holds the fitted pipeline of each list and scores every charity with the model of
the list it is on, its log-odds rescaled by the calibration fitted on the latest fold.
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
from sklearn.model_selection import KFold
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler, TargetEncoder
from sklearn.utils.validation import check_is_fitted

from risk_model.config import ModelSpec
from risk_model.features import (
    CATEGORICAL_FEATURES,
    CHANGE_FEATURES,
    FILING_FEATURES,
    GOVERNANCE_FEATURES,
    HISTORY_FEATURES,
    MONEY_FEATURES,
    NUMERIC_FEATURES,
)
from risk_model.lists.membership import PROACTIVE, REVIEW_LISTS, review_list

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

    def points(self, X: pd.DataFrame) -> np.ndarray:
        """Points each row scores: the sum of the points of the indicators it meets."""
        total = np.zeros(len(X))
        for _, feature, threshold, points in self.indicators:
            total += points * (X[feature].fillna(0).to_numpy(dtype=float) >= threshold)
        return total

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


QUEUE_RECENT_DAYS = 90


class ConcernQueue(RiskIndicatorRule):
    """A regulator working its complaints in turn: a concern in the last 90 days first, then the
    indicator points, the most recent concern first within a points total."""

    def points(self, X: pd.DataFrame) -> np.ndarray:
        recent = X["days_since_last_concern"].fillna(np.inf).to_numpy(dtype=float) <= QUEUE_RECENT_DAYS
        return super().points(X) + (super()._max_points() + 1) * recent

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


# Risk indicators that may only raise a tree model's score as they grow: a case officer must
# never read "a second overdue return lowered this charity's risk".
MONOTONE_INCREASING: tuple[str, ...] = (
    "returns_outstanding", "days_overdue_oldest_outstanding", "returns_late", "late_share_last3_due",
    "spend_over_income_last3", "concerns_prior", "concerns_last_12m", "regulatory_actions_prior",
)


class MonotoneLGBMClassifier(LGBMClassifier):
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


def signed_log1p(values):
    """log(1 + |x|) with the sign of x: money spans six orders of magnitude."""
    return np.sign(values) * np.log1p(np.abs(values))


def _encoder() -> OneHotEncoder:
    # A category unseen in training (a new form, a misspelt area) scores as none of the known ones.
    return OneHotEncoder(handle_unknown="ignore", sparse_output=False)


# Counts, days, money, ratios and changes span orders of magnitude: a linear model reads them on
# the signed log scale, where one outlying charity does not set the slope for all.
_BOUNDED = {"late_share_last3_due", "age_under_5", "open_concern", "open_inquiry", "year_end_changed_latest"}
LOG_SCALED: tuple[str, ...] = tuple(
    c for c in (MONEY_FEATURES + ("spend_over_income_ratio_latest", "age_years") + CHANGE_FEATURES
                + GOVERNANCE_FEATURES + FILING_FEATURES + HISTORY_FEATURES)
    if c not in _BOUNDED
)


def _linear_preprocessing(seed: int) -> ColumnTransformer:
    plain = [c for c in NUMERIC_FEATURES if c not in LOG_SCALED]
    # Mean imputation, with a missing flag for every column that had a gap in training.
    logged = make_pipeline(
        FunctionTransformer(signed_log1p, feature_names_out="one-to-one"),
        SimpleImputer(strategy="mean", add_indicator=True, keep_empty_features=True),
        StandardScaler(),
    )
    numeric = make_pipeline(SimpleImputer(strategy="mean", add_indicator=True, keep_empty_features=True),
                            StandardScaler())
    # A category's effect is its training outcome rate shrunk towards the overall rate (fitted out
    # of fold), one column per field: a handful of charities in a small area cannot buy the
    # largest coefficient, as one-hot dummies could.
    folds = KFold(5, shuffle=True, random_state=seed)
    categories = make_pipeline(TargetEncoder(target_type="binary", cv=folds), StandardScaler())
    return ColumnTransformer(
        [("log", logged, list(LOG_SCALED)), ("num", numeric, plain), ("cat", categories, list(CATEGORICAL_FEATURES))],
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
    params = spec.params.estimator_kwargs()
    if spec.kind == "rule":
        return Pipeline([("model", RiskIndicatorRule(**params))])
    if spec.kind == "queue":
        return Pipeline([("model", ConcernQueue(**params))])
    if spec.kind == "logistic":
        model = CentredLogisticRegression(random_state=seed, **params)
        pipeline = Pipeline([("preprocess", _linear_preprocessing(seed)), ("model", model)])
    elif spec.kind == "lightgbm":
        estimator = MonotoneLGBMClassifier if spec.params.monotone_risk_indicators else LGBMClassifier
        model = estimator(random_state=seed, verbose=-1, deterministic=True, force_row_wise=True, **params)
        pipeline = Pipeline([("preprocess", _tree_preprocessing()), ("names", SafeColumnNames()), ("model", model)])
    else:  # pragma: no cover - pydantic restricts the values
        raise ValueError(f"unknown model kind {spec.kind!r}")
    return pipeline.set_output(transform="pandas")


def raw_log_odds(pipeline: Pipeline, features: pd.DataFrame) -> np.ndarray:
    """A pipeline's score on the log-odds scale (its own raw score where it has one)."""
    inputs = model_inputs(features)
    model = pipeline[-1]
    if hasattr(model, "booster_"):
        return model.predict(pipeline[:-1].transform(inputs), raw_score=True)
    if isinstance(model, LogisticRegression):
        return model.decision_function(pipeline[:-1].transform(inputs))
    p = np.clip(pipeline.predict_proba(inputs)[:, 1], 1e-12, 1 - 1e-12)
    return np.log(p / (1 - p))


def platt_calibration(log_odds: np.ndarray, y: np.ndarray, weight: np.ndarray | None = None) -> tuple[float, float]:
    """(slope, intercept) of p = sigmoid(slope * log_odds + intercept) fitted to 0/1 outcomes.

    Calibration rescales scores; it must never reverse a list. Where the fitted slope is not
    positive (a fold too small or too noisy to tell), the slope stays 1 and only the intercept is
    fitted, so the scores keep their order and match the fold's outcome rate; (1, 0) when the
    outcomes hold one class only.
    """
    y = np.asarray(y, dtype=float)
    log_odds = np.asarray(log_odds, dtype=float)
    if len(y) < 2 or y.min() == y.max():
        return 1.0, 0.0
    fit = LogisticRegression(C=1e6, max_iter=1000).fit(log_odds.reshape(-1, 1), y, sample_weight=weight)
    slope, intercept = float(fit.coef_[0, 0]), float(fit.intercept_[0])
    if slope > 0:
        return slope, intercept
    return 1.0, _intercept_only(log_odds, y, np.ones(len(y)) if weight is None else np.asarray(weight, dtype=float))


def _intercept_only(log_odds: np.ndarray, y: np.ndarray, weight: np.ndarray) -> float:
    """The shift b for which the weighted mean of sigmoid(log_odds + b) equals the weighted outcome rate."""
    target = float(np.average(y, weights=weight))
    low, high = -50.0, 50.0
    for _ in range(200):
        middle = (low + high) / 2
        rate = float(np.average(1 / (1 + np.exp(-(log_odds + middle))), weights=weight))
        low, high = (middle, high) if rate < target else (low, middle)
    return (low + high) / 2


class ReviewLists(ClassifierMixin, BaseEstimator):
    """Every charity scored by the fitted pipeline of the review list it is on, calibrated.

    `pipelines` maps each list of `lists.REVIEW_LISTS` to a pipeline `train` fitted on that list's
    own population and label; `calibration` maps it to the (slope, intercept) applied to the
    pipeline's log-odds, fitted on the latest fold; `capacities` to the reviews a year the list is
    sized to, `as_of_month_day` is where in the year training placed its as-of dates, so that
    whoever scores with the artefact sizes and dates lists as training did, and `champions`
    names the candidate each list's pipeline is. Like sklearn's
    FrozenEstimator, it is built from fitted parts and `fit` leaves them as they are. A charity on
    neither list (under an open inquiry, or its recent concern already inquired into) is scored
    by the proactive model.
    """

    def __init__(self, pipelines: dict, calibration: dict | None = None, capacities: dict | None = None,
                 as_of_month_day: str | None = None, champions: dict | None = None):
        self.pipelines = pipelines
        self.calibration = calibration
        self.capacities = capacities
        self.as_of_month_day = as_of_month_day
        self.champions = champions

    def fit(self, X=None, y=None, **fit_params) -> "ReviewLists":
        return self

    def __sklearn_is_fitted__(self) -> bool:
        return True

    @property
    def classes_(self) -> np.ndarray:
        return np.array([0.0, 1.0])

    def scoring_list(self, X: pd.DataFrame) -> np.ndarray:
        """Whose model scores each row: its own list's, or the proactive model's when it is on neither."""
        on = review_list(X).to_numpy()
        return np.where(np.isin(on, REVIEW_LISTS), on, PROACTIVE)

    def slope_intercept(self, name: str) -> tuple[float, float]:
        slope, intercept = (self.calibration or {}).get(name, (1.0, 0.0))
        return float(slope), float(intercept)

    def log_odds(self, X: pd.DataFrame) -> np.ndarray:
        """Calibrated log-odds of each row under its list's model."""
        by = self.scoring_list(X)
        out = np.zeros(len(X))
        for name in REVIEW_LISTS:
            rows = np.flatnonzero(by == name)
            if len(rows):
                slope, intercept = self.slope_intercept(name)
                out[rows] = slope * raw_log_odds(self.pipelines[name], X.iloc[rows]) + intercept
        return out

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        positive = 1.0 / (1.0 + np.exp(-self.log_odds(X)))
        return np.column_stack([1.0 - positive, positive])

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(float)


def model_inputs(features: pd.DataFrame) -> pd.DataFrame:
    """The columns every pipeline reads, in a fixed order."""
    return features[list(NUMERIC_FEATURES) + list(CATEGORICAL_FEATURES)]
