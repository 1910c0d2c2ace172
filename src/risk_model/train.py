"""Fit and compare the model grid under temporal validation, then refit on every closed window.

Pure: frames and a typed config in, a `TrainingResult` out. MLflow is touched by `tracking`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from risk_model.config import ExperimentConfig, LabelConfig, SamplingConfig
from risk_model.evaluate import precision_curve, ranking_metrics, summarise_folds
from risk_model.features import (
    GROUP_ATTRIBUTES, build_features, open_inquiries, population, prepare_returns,
)
from risk_model.labels import build_labels
from risk_model.models import build_pipeline, model_inputs
from risk_model.parsing import is_in
from risk_model.partitions import PARTITION_CHARITIES
from risk_model.splits import TemporalFold, labelled_as_of_dates, temporal_folds

Progress = Callable[[str], None]


@dataclass(frozen=True)
class TrainingResult:
    """Everything a training run produced, ready to be logged."""

    fold_metrics: pd.DataFrame  # one row per (model, fold)
    summary: pd.DataFrame  # one row per model: fold means and spreads, lift, oracle ratio
    predictions: pd.DataFrame  # out of fold: model, fold, charity_number, as_of, score, label, group attributes
    final_models: dict[str, Pipeline]
    champion: str
    folds: tuple[TemporalFold, ...]
    panel_counts: pd.DataFrame  # per as-of date: charities, excluded, labelled, positives
    extract_date: pd.Timestamp
    training_as_of: tuple[pd.Timestamp, ...]


def infer_extract_date(register: pd.DataFrame, returns: pd.DataFrame, case_log: pd.DataFrame) -> pd.Timestamp:
    """The latest date the data know of: a proxy for when they were extracted."""
    candidates = [
        register["registered_date"].max(), register["ceased_date"].max(),
        returns["date_received"].max(), case_log["date"].max(),
    ]
    return pd.Timestamp(max(c for c in candidates if pd.notna(c))).normalize()


def build_panel(
    register: pd.DataFrame,
    returns: pd.DataFrame,
    case_log: pd.DataFrame,
    as_of_dates: list[pd.Timestamp],
    label: LabelConfig,
    extract_date: pd.Timestamp,
    progress: Progress | None = None,
    sampling: SamplingConfig = SamplingConfig(),
    seed: int = 0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Features and labels stacked over as-of dates, with a count of who was left out and why.

    Labels come first, so that features are built only for the charity-years the panel keeps:
    the labelled ones, less a seeded random share of the negatives when `sampling` asks for it.
    """
    prepared = prepare_returns(returns)
    frames, counts = [], []
    for as_of in as_of_dates:
        if progress:
            progress(f"features as of {as_of.date()}")
        numbers = population(register, as_of)["charity_number"].sort_values(kind="stable")
        n_population = len(numbers)
        if label.exclude_open_inquiries:
            numbers = numbers.loc[~numbers.isin(open_inquiries(case_log, as_of))]
        labels = build_labels(numbers, case_log, returns, as_of, label, extract_date).to_numpy()
        labelled = ~np.isnan(labels)
        keep = labelled.copy()
        if sampling.negative_rate < 1:
            draw = np.random.default_rng([seed, as_of.toordinal()]).random(len(labels))
            keep &= (labels == 1) | (draw < sampling.negative_rate)
        kept = pd.Series(labels[keep], index=pd.Index(numbers.to_numpy()[keep], name="charity_number"))
        chosen = register.loc[is_in(register["charity_number"], kept.index)]
        features = build_features(chosen, prepared, case_log, as_of)
        counts.append({
            "as_of": as_of, "population": n_population,
            "excluded_open_inquiry": n_population - len(numbers),
            "excluded_no_label": int((~labelled).sum()),
            "labelled": int(labelled.sum()), "positives": int(np.nansum(labels)),
            "negatives_sampled_out": int((labelled & ~keep).sum()),
        })
        frames.append(features.assign(label=kept.reindex(features["charity_number"]).to_numpy()))
    panel = pd.concat(frames, ignore_index=True)
    return panel, pd.DataFrame(counts)


def _fit(spec, seed: int, frame: pd.DataFrame) -> Pipeline:
    pipeline = build_pipeline(spec, seed)
    return pipeline.fit(model_inputs(frame), frame["label"].to_numpy())


def score(pipeline: Pipeline, features: pd.DataFrame, batch_rows: int = PARTITION_CHARITIES) -> np.ndarray:
    """Probability of the positive label for each row of a feature frame, `batch_rows` at a time."""
    if len(features) <= batch_rows:
        return pipeline.predict_proba(model_inputs(features))[:, 1]
    return np.concatenate([
        pipeline.predict_proba(model_inputs(features.iloc[start:start + batch_rows]))[:, 1]
        for start in range(0, len(features), batch_rows)
    ])


def cross_validate(
    panel: pd.DataFrame,
    folds: list[TemporalFold],
    config: ExperimentConfig,
    oracle: Callable[[pd.DataFrame], np.ndarray] | None = None,
    progress: Progress | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-fold metrics and out-of-fold predictions for every model in the grid."""
    rows, predictions = [], []
    for fold in folds:
        train = panel.loc[panel["as_of"].isin(fold.train_as_of)]
        test = panel.loc[panel["as_of"].eq(fold.test_as_of)]
        candidates: dict[str, np.ndarray] = {}
        for spec in config.models:
            if progress:
                progress(f"{fold.name}: {spec.name}")
            candidates[spec.name] = score(_fit(spec, config.seed, train), test)
        if oracle is not None:
            candidates["true_risk"] = oracle(test)
        for name, scores in candidates.items():
            metrics = ranking_metrics(test["label"], scores, config.evaluation.capacity_k,
                                      config.evaluation.k_percent)
            rows.append({"model": name, "fold": fold.name, "test_as_of": fold.test_as_of,
                         "train_rows": len(train), **metrics})
            predictions.append(pd.DataFrame({
                "model": name, "fold": fold.name, "charity_number": test["charity_number"].to_numpy(),
                "as_of": fold.test_as_of, "score": scores, "label": test["label"].to_numpy(),
                **{attribute: test[attribute].to_numpy() for attribute in GROUP_ATTRIBUTES},
            }))
    return pd.DataFrame(rows), pd.concat(predictions, ignore_index=True)


def summarise(fold_metrics: pd.DataFrame, config: ExperimentConfig) -> pd.DataFrame:
    """One row per model: fold means and spreads, lift over the baseline, ratio to true risk."""
    summary = pd.DataFrame({
        name: summarise_folds(group.drop(columns=["fold", "test_as_of", "model"]))
        for name, group in fold_metrics.groupby("model", sort=False)
    }).T
    metric = "precision_at_k_mean"
    baseline = config.evaluation.baseline_model
    if baseline in summary.index and summary.loc[baseline, metric] > 0:
        summary["lift_over_baseline"] = summary[metric] / summary.loc[baseline, metric]
    if "true_risk" in summary.index and summary.loc["true_risk", metric] > 0:
        summary["ratio_to_true_risk"] = summary[metric] / summary.loc["true_risk", metric]
    summary.index.name = "model"
    return summary


def choose_champion(summary: pd.DataFrame, config: ExperimentConfig) -> str:
    """The grid model with the best mean of the selection metric (ties: the earlier in the grid)."""
    metric = f"{config.evaluation.selection_metric}_mean"
    if metric not in summary.columns:
        raise ValueError(f"selection metric {config.evaluation.selection_metric!r} is not computed")
    grid = [spec.name for spec in config.models]
    values = summary.loc[grid, metric]
    return str(values.idxmax()) if values.notna().any() else grid[0]


def run_training(
    register: pd.DataFrame,
    returns: pd.DataFrame,
    case_log: pd.DataFrame,
    config: ExperimentConfig,
    oracle: Callable[[pd.DataFrame], np.ndarray] | None = None,
    progress: Progress | None = None,
) -> TrainingResult:
    """Temporal cross-validation of the grid, champion choice, and refit on all closed windows."""
    if not config.models:
        raise ValueError("the experiment configuration lists no models")
    extract_date = (
        pd.Timestamp(config.extract_date) if config.extract_date else infer_extract_date(register, returns, case_log)
    )
    as_of_dates = labelled_as_of_dates(config.splits, config.label, extract_date, register["registered_date"].min())
    folds = temporal_folds(as_of_dates, config.splits.n_folds, config.label.horizon_months)
    panel, counts = build_panel(register, returns, case_log, as_of_dates, config.label, extract_date, progress,
                                config.sampling, config.seed)
    fold_metrics, predictions = cross_validate(panel, folds, config, oracle, progress)
    summary = summarise(fold_metrics, config)
    champion = choose_champion(summary, config)
    final_models = {}
    for spec in config.models:
        if progress:
            progress(f"final fit: {spec.name}")
        final_models[spec.name] = _fit(spec, config.seed, panel)
    return TrainingResult(
        fold_metrics=fold_metrics, summary=summary, predictions=predictions, final_models=final_models,
        champion=champion, folds=tuple(folds), panel_counts=counts, extract_date=extract_date,
        training_as_of=tuple(as_of_dates),
    )


def pooled_precision_curve(predictions: pd.DataFrame, ks: np.ndarray) -> pd.DataFrame:
    """Precision@k curve per model, averaged over folds."""
    curves = []
    for (model, fold), group in predictions.groupby(["model", "fold"], sort=False):
        curve = precision_curve(group["label"], group["score"], ks).assign(model=model, fold=fold)
        curves.append(curve)
    stacked = pd.concat(curves, ignore_index=True)
    return stacked.groupby(["model", "k"], sort=False)[["precision", "recall"]].mean().reset_index()
