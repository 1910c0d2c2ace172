"""The model grid as pipelines, and the one artefact that carries a review list's model per list.

Each model is one sklearn Pipeline that takes the feature frame from `features.build_features`
(named columns, categories as strings, NaN for missing) and returns probabilities, so the
fitted preprocessing travels with the model into MLflow and into the scoring service. The
project's own estimators (rule baselines, centred logistic regression, monotone LightGBM) are
`estimators`'; here they are put behind their preprocessing. `ReviewLists` holds the fitted
pipeline of each list and scores every charity with the model of the list it is on, its log-odds
rescaled by the calibration fitted on the latest fold. What a pipeline is fitted on, and when,
is decided by `train`, never here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import KFold
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler, TargetEncoder

from risk_model.config import ModelSpec
from risk_model.estimators import (
    CentredLogisticRegression,
    ConcernQueue,
    ExplainedLGBMClassifier,
    MonotoneLGBMClassifier,
    RiskIndicatorRule,
    SafeColumnNames,
)
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
from risk_model.partitions import PARTITION_CHARITIES


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


@dataclass(frozen=True)
class ModelColumns:
    """The feature columns a pipeline reads, in order: numeric ones (of which `log_scaled` are read
    on the signed log scale by a linear model), then categories. A register's features and a
    snapshot's are two of these; the pipelines built on them are the same."""

    numeric: tuple[str, ...]
    log_scaled: tuple[str, ...] = ()
    categorical: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not set(self.log_scaled) <= set(self.numeric):
            raise ValueError(f"log-scaled columns not among the numeric ones: {sorted(set(self.log_scaled) - set(self.numeric))}")

    @property
    def all(self) -> list[str]:
        return list(self.numeric) + list(self.categorical)


REGISTER_COLUMNS = ModelColumns(NUMERIC_FEATURES, LOG_SCALED, CATEGORICAL_FEATURES)


def _transformers(parts: list[tuple[str, object, list[str]]]) -> ColumnTransformer:
    # A part with no columns (a snapshot has no categories) is left out rather than fitted on nothing.
    return ColumnTransformer([part for part in parts if part[2]], verbose_feature_names_out=True)


def _linear_preprocessing(seed: int, columns: ModelColumns) -> ColumnTransformer:
    plain = [c for c in columns.numeric if c not in columns.log_scaled]
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
    return _transformers([("log", logged, list(columns.log_scaled)), ("num", numeric, plain),
                          ("cat", categories, list(columns.categorical))])


def _tree_preprocessing(columns: ModelColumns) -> ColumnTransformer:
    return _transformers([("num", "passthrough", list(columns.numeric)),
                          ("cat", _encoder(), list(columns.categorical))])


def build_pipeline(spec: ModelSpec, seed: int, columns: ModelColumns = REGISTER_COLUMNS) -> Pipeline:
    """An unfitted Pipeline for one entry of the model grid, seeded, reading `columns`."""
    params = spec.params.estimator_kwargs()
    if spec.kind in ("rule", "queue"):
        if columns != REGISTER_COLUMNS:
            raise ValueError(f"model {spec.name!r}: the {spec.kind} baseline reads a register's own features")
        return Pipeline([("model", (RiskIndicatorRule if spec.kind == "rule" else ConcernQueue)(**params))])
    if spec.kind == "logistic":
        model = CentredLogisticRegression(random_state=seed, **params)
        pipeline = Pipeline([("preprocess", _linear_preprocessing(seed, columns)), ("model", model)])
    elif spec.kind == "lightgbm":
        estimator = MonotoneLGBMClassifier if spec.params.monotone_risk_indicators else ExplainedLGBMClassifier
        model = estimator(random_state=seed, verbose=-1, deterministic=True, force_row_wise=True, **params)
        pipeline = Pipeline([("preprocess", _tree_preprocessing(columns)), ("names", SafeColumnNames()),
                             ("model", model)])
    else:  # pragma: no cover - pydantic restricts the values
        raise ValueError(f"unknown model kind {spec.kind!r}")
    return pipeline.set_output(transform="pandas")


def raw_log_odds(pipeline: Pipeline, features: pd.DataFrame) -> np.ndarray:
    """A pipeline's score on the log-odds scale (its own raw score where it has one)."""
    inputs = model_inputs(features, pipeline)
    model = pipeline[-1]
    if hasattr(model, "booster_"):
        return model.predict(pipeline[:-1].transform(inputs), raw_score=True)
    if isinstance(model, LogisticRegression):
        return model.decision_function(pipeline[:-1].transform(inputs))
    p = np.clip(pipeline.predict_proba(inputs)[:, 1], 1e-12, 1 - 1e-12)
    return np.log(p / (1 - p))


def score(pipeline, features: pd.DataFrame, batch_rows: int = PARTITION_CHARITIES) -> np.ndarray:
    """Probability of the positive label for each row of a feature frame, `batch_rows` at a time."""
    if len(features) <= batch_rows:
        return pipeline.predict_proba(model_inputs(features, pipeline))[:, 1]
    return np.concatenate([
        pipeline.predict_proba(model_inputs(features.iloc[start:start + batch_rows], pipeline))[:, 1]
        for start in range(0, len(features), batch_rows)
    ])


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

    def explainable(self) -> bool:
        """Whether every list's model has exact log-odds contributions."""
        return all(getattr(p[-1], "explainable", lambda: False)() for p in self.pipelines.values())

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


def model_inputs(features: pd.DataFrame, pipeline=None) -> pd.DataFrame:
    """The columns a pipeline reads: those it was fitted on, else a register's, in a fixed order."""
    fitted_on = getattr(pipeline, "feature_names_in_", None)
    return features[list(fitted_on) if fitted_on is not None else REGISTER_COLUMNS.all]
