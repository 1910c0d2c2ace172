"""Cross-validation of snapshot models against three baselines, then the final fits.

A snapshot has one date, so there is no "train on the past, test on the future": the folds are
stratified K-fold (each fold keeps the label's share), with a fixed seed. That measures how well
a register's fields reproduce the regulator's current status, not how well they foresee a
future one, and every run says so (``VALIDATION`` and ``VALIDATION_NOTE``).

Pure: frames and a typed config in, a ``SnapshotResult`` out. MLflow is touched by
``ccni.tracking``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import Pipeline

from risk_model.ccni.snapshot import BASELINES, VARIANTS, model_inputs, score_snapshot, snapshot_pipeline
from risk_model.config import (
    DEFAULT_SEED,
    ConfigError,
    ModelSpec,
    TrackingConfig,
    read_config_mapping,
    validation_problems,
    version_field,
)
from risk_model.evaluate import k_from_percent, ranking_metrics
from risk_model.ingest.adapters import ADAPTERS

VALIDATION = "stratified_kfold_single_snapshot"
VALIDATION_NOTE = (
    "single snapshot: folds are stratified by label, not temporal; the metrics measure how well the "
    "register's fields reproduce the regulator's current status, not how well they predict a future one"
)
CONFIG_VERSION = 1
SnapshotConfigVersion = version_field(CONFIG_VERSION)
METRICS: tuple[str, ...] = ("precision_at_k_pct", "recall_at_k_pct", "auc_pr", "auc_roc", "brier")
DEFAULT_MODELS: tuple[ModelSpec, ...] = (
    ModelSpec(name="logistic", kind="logistic", params={"C": 0.3, "max_iter": 3000}),
    ModelSpec(name="lightgbm", kind="lightgbm", params={
        "n_estimators": 300, "learning_rate": 0.03, "num_leaves": 15, "min_child_samples": 20,
        "subsample": 0.8, "subsample_freq": 1, "colsample_bytree": 0.8,
        # One thread: on a few thousand rows, threads only add waiting, worst on a busy machine.
        # No risk indicator of a register is among a snapshot's columns to constrain.
        "n_jobs": 1, "monotone_risk_indicators": False}),
)

Progress = Callable[[str], None]


class SnapshotConfig(BaseModel):
    """A snapshot benchmark: folds, the share of the list reviewed, the models, and where runs go."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    config_version: SnapshotConfigVersion = CONFIG_VERSION
    dataset: str = Field("ccni", description="Adapter that reads the export (risk_model.ingest.adapters.ADAPTERS).")
    seed: int = DEFAULT_SEED
    n_folds: int = Field(5, ge=2)
    k_percent: float = Field(10.0, gt=0, le=100, description="Share of the list reviewed: precision at k%.")
    extract_date: date | None = Field(None, description="None: from the file name, else the latest registration.")
    models: tuple[ModelSpec, ...] = DEFAULT_MODELS
    tracking: TrackingConfig = TrackingConfig(experiment="ccni-benchmark", registered_model="ccni-risk")

    @field_validator("dataset")
    @classmethod
    def _known_dataset(cls, value: str) -> str:
        if value not in ADAPTERS:
            raise ValueError(f"unknown dataset {value!r}; known: {', '.join(sorted(ADAPTERS))}")
        return value

    @field_validator("models")
    @classmethod
    def _learned_models(cls, value: tuple[ModelSpec, ...]) -> tuple[ModelSpec, ...]:
        names = [m.name for m in value]
        if not value or len(set(names)) != len(names) or any(m.kind == "rule" for m in value):
            raise ValueError(f"models must be one or more uniquely named logistic or lightgbm models, got {names}")
        if set(names) & set(BASELINES):
            raise ValueError(f"model names must differ from the baselines {', '.join(BASELINES)}")
        return value


def load_snapshot_config(path: Path | None = None) -> SnapshotConfig:
    """A snapshot benchmark configuration from YAML; without a path, the defaults."""
    if path is None:
        return SnapshotConfig()
    raw = read_config_mapping(None, str(path), what="snapshot configuration")
    try:
        return SnapshotConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"{path}: invalid snapshot configuration: {validation_problems(exc)}") from exc


@dataclass(frozen=True)
class SnapshotResult:
    """What a snapshot benchmark produced, ready to print and log."""

    fold_metrics: pd.DataFrame  # one row per (model, variant, fold)
    comparison: pd.DataFrame  # one row per (model, variant): fold means and spreads
    predictions: pd.DataFrame  # out of fold: model, variant, fold, charity_number, score, label
    final_models: dict[tuple[str, str], Pipeline]  # (model, variant) -> fitted on every labelled row
    champions: dict[str, str]  # variant -> the model with the best mean precision at k%
    labelled: int
    positives: int


def labelled_rows(features: pd.DataFrame) -> pd.DataFrame:
    """Charities with a label (in default, late, or up to date), in charity-number order."""
    return features.loc[features["label"].notna()].sort_values("charity_number", kind="stable").reset_index(drop=True)


def fold_scores(train: pd.DataFrame, test: pd.DataFrame, config: SnapshotConfig, fold: int) -> dict:
    """Scores on the test rows from every baseline and every (model, variant) fitted on the train rows."""
    scores = {(name, "baseline"): rule(test, config.seed + fold) for name, rule in BASELINES.items()}
    for variant, year_end in VARIANTS.items():
        for spec in config.models:
            pipeline = snapshot_pipeline(spec, config.seed, year_end)
            pipeline.fit(model_inputs(train, year_end=year_end), train["label"].to_numpy())
            scores[(spec.name, variant)] = score_snapshot(pipeline, test)
    return scores


def _metrics(y: np.ndarray, scores: np.ndarray, k_percent: float, probabilities: bool) -> dict[str, float]:
    k = k_from_percent(len(y), k_percent)
    found = ranking_metrics(y, scores, capacity_k=k, k_percent=k_percent)
    found = {key: found[key] for key in ("n", "positives", "base_rate", *METRICS)}
    # A baseline's scores are an order, not probabilities: a Brier score would mean nothing.
    return found | {"k": float(k), "brier": found["brier"] if probabilities else float("nan")}


def cross_validate(features: pd.DataFrame, config: SnapshotConfig,
                   progress: Progress | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-fold metrics and out-of-fold scores of every baseline and model, stratified K-fold."""
    data = labelled_rows(features)
    y = data["label"].to_numpy(dtype=int)
    folds = StratifiedKFold(n_splits=config.n_folds, shuffle=True, random_state=config.seed)
    rows, predictions = [], []
    for fold, (train_at, test_at) in enumerate(folds.split(np.zeros(len(y)), y), start=1):
        if progress:
            progress(f"fold {fold} of {config.n_folds}")
        train, test = data.iloc[train_at], data.iloc[test_at]
        for (model, variant), scores in fold_scores(train, test, config, fold).items():
            metrics = _metrics(y[test_at], scores, config.k_percent, probabilities=variant != "baseline")
            rows.append({"model": model, "variant": variant, "fold": fold, "train_rows": len(train), **metrics})
            predictions.append(pd.DataFrame({
                "model": model, "variant": variant, "fold": fold,
                "charity_number": test["charity_number"].to_numpy(), "score": scores, "label": y[test_at],
            }))
    return pd.DataFrame(rows), pd.concat(predictions, ignore_index=True)


def compare(fold_metrics: pd.DataFrame) -> pd.DataFrame:
    """One row per (model, variant): mean and spread over folds, baselines first."""
    grouped = fold_metrics.groupby(["model", "variant"], sort=False)
    means = grouped[list(METRICS)].mean().add_suffix("_mean")
    spreads = grouped[list(METRICS)].std(ddof=1).add_suffix("_std")
    table = means.join(spreads).join(grouped.size().rename("folds")).reset_index()
    best_baseline = table.loc[table["variant"].eq("baseline"), "precision_at_k_pct_mean"].max()
    table["lift_over_best_baseline"] = table["precision_at_k_pct_mean"] / best_baseline
    table["uses_year_end"] = table["variant"].eq("with_year_end") | table["model"].eq("oldest_year_end_first")
    return table


def champions(comparison: pd.DataFrame, config: SnapshotConfig) -> dict[str, str]:
    """Per variant, the model with the best mean precision at k% (ties: the earlier in the config)."""
    chosen = {}
    for variant in VARIANTS:
        rows = comparison.loc[comparison["variant"].eq(variant)].set_index("model")
        values = rows.loc[[s.name for s in config.models], "precision_at_k_pct_mean"]
        chosen[variant] = str(values.idxmax()) if values.notna().any() else config.models[0].name
    return chosen


def beats_every_baseline(comparison: pd.DataFrame, model: str, variant: str) -> bool:
    """Whether a model's mean precision at k% is above every baseline's."""
    table = comparison.set_index(["model", "variant"])
    baselines = table.xs("baseline", level="variant")["precision_at_k_pct_mean"]
    return bool(table.loc[(model, variant), "precision_at_k_pct_mean"] > baselines.max())


_SUMMARY_NAMES = {
    "model": "model", "variant": "variant", "precision_at_k_pct_mean": "p@{k}%", "precision_at_k_pct_std": "sd",
    "auc_pr_mean": "AUC-PR", "auc_roc_mean": "AUC-ROC", "brier_mean": "Brier", "lift_over_best_baseline": "lift",
}


def comparison_summary(comparison: pd.DataFrame, k_percent: float) -> pd.DataFrame:
    """The comparison's headline columns under short names, as printed."""
    names = {key: value.format(k=f"{k_percent:g}") for key, value in _SUMMARY_NAMES.items()}
    return comparison[list(names)].rename(columns=names)


def run_snapshot_benchmark(features: pd.DataFrame, config: SnapshotConfig,
                           progress: Progress | None = None) -> SnapshotResult:
    """Stratified K-fold comparison of models and baselines, then every model refitted on all labelled rows."""
    data = labelled_rows(features)
    if data["label"].nunique() < 2:
        raise ValueError("the snapshot needs both labels (in default or late, and up to date) to train")
    fold_metrics, predictions = cross_validate(data, config, progress)
    comparison = compare(fold_metrics)
    final = {}
    for variant, year_end in VARIANTS.items():
        for spec in config.models:
            if progress:
                progress(f"final fit: {spec.name}, {variant.replace('_', ' ')}")
            pipeline = snapshot_pipeline(spec, config.seed, year_end)
            final[(spec.name, variant)] = pipeline.fit(model_inputs(data, year_end=year_end),
                                                       data["label"].to_numpy())
    return SnapshotResult(
        fold_metrics=fold_metrics, comparison=comparison, predictions=predictions, final_models=final,
        champions=champions(comparison, config), labelled=len(data), positives=int(data["label"].sum()),
    )
