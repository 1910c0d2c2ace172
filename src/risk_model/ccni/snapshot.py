"""Features, models and baselines for a register known only as one snapshot (CCNI's export).

A snapshot has no history: each charity's latest financials, when it registered, what it says it
does, and the year end of the last documents the regulator holds. Features are measured at the
extract date:

- finance: income, spending and its three parts, spending over income, "no figures reported"
  (income and spending both zero);
- profile: years on the register, company number and website present, the three category lists
  one-hot ("does__", "helps__", "works__") with the number of items in each;
- year end: days from "Date for financial year ending" to the extract date. It partly restates
  the label (a charity in default has older accounts on file), so every model is built with and
  without it, and "oldest year end first" is itself one of the baselines.

Missing values stay NaN; the pipelines are the main grid's (`models.build_pipeline`), reading these
columns instead of a register's, so they fill gaps, scale and explain as the main pipeline does.
The same function builds the features for training and for scoring a file the model has never seen.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from risk_model.config import ModelSpec
from risk_model.ingest.adapters.ccni import MONEY
from risk_model.ingest.adapters.ccni_vocab import LISTS
from risk_model.models import ModelColumns, build_pipeline, score

MONEY_FEATURES: tuple[str, ...] = tuple(MONEY.values())
FINANCE_FEATURES: tuple[str, ...] = MONEY_FEATURES + ("spending_over_income", "no_figures_reported")
LIST_COUNTS: dict[str, str] = {"purposes": "n_purposes", "beneficiaries": "n_beneficiaries",
                               "activities": "n_activities"}
MULTI_HOT_FEATURES: tuple[str, ...] = tuple(
    prefix + short for prefix, vocabulary in LISTS.values() for short in vocabulary.values()
)
PROFILE_FEATURES: tuple[str, ...] = (
    ("age_years", "has_company_number", "has_website") + tuple(LIST_COUNTS.values()) + MULTI_HOT_FEATURES
)
YEAR_END_FEATURE = "year_end_days_before_extract"
FEATURE_COLUMNS: tuple[str, ...] = FINANCE_FEATURES + PROFILE_FEATURES + (YEAR_END_FEATURE,)
CONTEXT_COLUMNS: tuple[str, ...] = (
    "charity_number", "charity_name", "status", "label_role", "label", "registered_date", "year_end",
)
VARIANTS: dict[str, bool] = {"with_year_end": True, "without_year_end": False}
# Spending over income is capped: a charity with £1 income and £5,000 spending is "far over", not 5,000.
RATIO_CAP = 10.0


def feature_columns(year_end: bool) -> list[str]:
    """The columns a model reads, with or without the year-end feature."""
    return [c for c in FEATURE_COLUMNS if year_end or c != YEAR_END_FEATURE]


def build_snapshot_features(snapshot: pd.DataFrame, extract_date: pd.Timestamp) -> pd.DataFrame:
    """One row per charity of the snapshot: context columns, then FEATURE_COLUMNS (all numeric)."""
    extract_date = pd.Timestamp(extract_date)
    income, spending = snapshot["income_gbp"], snapshot["spending_gbp"]
    ratio = (spending / income.where(income > 0)).clip(upper=RATIO_CAP)
    columns = {name: snapshot[name].astype("float64") for name in MONEY_FEATURES}
    columns["spending_over_income"] = ratio
    columns["no_figures_reported"] = (income.eq(0) & spending.eq(0)).astype("float64")
    columns["age_years"] = (extract_date - snapshot["registered_date"]).dt.days / 365.25
    columns["has_company_number"] = snapshot["company_number"].notna().astype("float64")
    columns["has_website"] = snapshot["website_listed"].astype("float64")
    for list_column, count_name in LIST_COUNTS.items():
        columns[count_name] = snapshot[list_column].map(len).astype("float64")
    for list_column, (prefix, vocabulary) in LISTS.items():
        members = snapshot[list_column].map(set)
        for item, short in vocabulary.items():
            columns[prefix + short] = members.map(lambda held, item=item: item in held).astype("float64")
    columns[YEAR_END_FEATURE] = (extract_date - snapshot["year_end"]).dt.days.astype("float64")
    features = pd.DataFrame(columns, index=snapshot.index)
    return pd.concat([snapshot[list(CONTEXT_COLUMNS)], features[list(FEATURE_COLUMNS)]], axis=1)


def snapshot_columns(year_end: bool) -> ModelColumns:
    """The snapshot's columns as a pipeline reads them: money on the signed log scale, no categories."""
    return ModelColumns(numeric=tuple(feature_columns(year_end)), log_scaled=MONEY_FEATURES)


def snapshot_pipeline(spec: ModelSpec, seed: int, year_end: bool) -> Pipeline:
    """An unfitted, seeded pipeline of the main grid (`models.build_pipeline`) reading the snapshot's
    features, with or without the year end."""
    return build_pipeline(spec, seed, snapshot_columns(year_end))


def model_inputs(features: pd.DataFrame, pipeline: Pipeline | None = None, year_end: bool = True) -> pd.DataFrame:
    """The columns a pipeline reads: those it was fitted on, else those of the variant."""
    return features[list(pipeline.feature_names_in_) if pipeline is not None else feature_columns(year_end)]


def score_snapshot(pipeline: Pipeline, features: pd.DataFrame) -> np.ndarray:
    """Probability of the positive label (in default or late) for each row."""
    return score(pipeline, features)


# --- baselines ----------------------------------------------------------------------------------
# Scores that need no fitting. Higher means reviewed first; ties keep the rows' order.


def random_order(features: pd.DataFrame, seed: int) -> np.ndarray:
    """A seeded random order: what a list built without looking achieves."""
    return np.random.default_rng(seed).random(len(features))


def largest_income_first(features: pd.DataFrame, seed: int) -> np.ndarray:
    """Largest income first (unknown income last)."""
    return features["income_gbp"].fillna(-np.inf).to_numpy(dtype=float)


def oldest_year_end_first(features: pd.DataFrame, seed: int) -> np.ndarray:
    """Oldest financial year end on file first: the regulator's rule of thumb.

    A charity with no year end on file at all has never filed, and comes first."""
    return features[YEAR_END_FEATURE].fillna(np.inf).to_numpy(dtype=float)


BASELINES = {
    "random": random_order,
    "largest_income_first": largest_income_first,
    "oldest_year_end_first": oldest_year_end_first,
}
