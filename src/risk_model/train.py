"""Fit and compare each review list's candidates under temporal validation, then refit the champions.

Pure: frames and a typed config in, a `TrainingResult` out. MLflow is touched by `tracking`.

Every charity-year on the register goes into the panel with the list it was on (`lists`). Each
list has candidates: a model of the grid trained on one of the list's label definitions, on the
list's own charity-years, or, for `substantiated_given_inquiry`, on every charity-year with an
inquiry opened in its window (the inspected population). Labels for a fold's training are
censored at the fold's test date (`labels`). The champion of each list is the candidate with the
best mean of the list's selection metric over every fold but the latest; the latest fold, which
played no part in that choice, gives the figures quoted as expected performance, and the
champion's scores are calibrated on it. The champions are refitted on every as-of date and put
together in one `models.ReviewLists`.

On a simulated world the truth (`truth.Truth`) also judges every candidate, beside references no
model can pass or that a regulator already has: the ranking by true risk, a full-information
learner (the grid's tree model trained on the truth for every charity), the regulator's own
complaint-led inquiries, and random choice. The truth never reaches a registered model.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from risk_model.config import ExperimentConfig, ModelSpec, SamplingConfig
from risk_model.evaluate import ranking_metrics, selected, summarise_folds
from risk_model.features import GROUP_ATTRIBUTES, build_features, population, prepare_returns
from risk_model.ingest.parsing import is_in
from risk_model.labels import build_labels, cases
from risk_model.lists.membership import PROACTIVE, REVIEW_LISTS, TRIAGE, review_list
from risk_model.models import ReviewLists, build_pipeline, model_inputs, platt_calibration
from risk_model.partitions import PARTITION_CHARITIES
from risk_model.splits import TemporalFold, as_of_month_day, labelled_as_of_dates, temporal_folds
from risk_model.truth import Truth

Progress = Callable[[str], None]
# Fits with at least this many negatives keep only `sampling.fit_negative_rate` of them: plenty
# remain to learn from, and small fits (the inspected population) are left whole.
FIT_SAMPLING_FROM = 20_000
INSPECTED = "substantiated_given_inquiry"
# Reference lists drawn from the truth or the case log, never registered.
TRUE_RISK, FULL_INFORMATION, REGULATOR, RANDOM = "true_risk", "full_information", "regulator", "random"
REFERENCES: tuple[str, ...] = (TRUE_RISK, FULL_INFORMATION, REGULATOR, RANDOM)


@dataclass(frozen=True)
class Candidate:
    """A model of the grid trained for one list on one label definition."""

    review_list: str
    spec: ModelSpec
    label: str

    @property
    def name(self) -> str:
        return f"{self.spec.name} on {self.label}"


@dataclass(frozen=True)
class TrainingResult:
    """Everything a training run produced, ready to be logged."""

    fold_metrics: pd.DataFrame  # one row per (list, model, fold): label metrics on the list's target
    summary: pd.DataFrame  # one row per (list, model): selection-fold means and spreads, holdout figures
    predictions: pd.DataFrame  # out of fold: list, model, fold, charity, as_of, score, labels, truth, attributes
    champions: dict[str, str]  # list -> champion candidate name
    final_model: ReviewLists
    folds: tuple[TemporalFold, ...]
    panel_counts: pd.DataFrame  # per as-of date: population, on each list, left out, cases, censored
    extract_date: pd.Timestamp
    training_as_of: tuple[pd.Timestamp, ...]
    capacities: dict[str, int]  # reviews a year each list is sized to
    truth_source: str | None = None
    notes: tuple[str, ...] = ()  # what training had to decide that the reader should know


def infer_extract_date(register: pd.DataFrame, returns: pd.DataFrame, case_log: pd.DataFrame) -> pd.Timestamp:
    """The latest date the data know of: a proxy for when they were extracted."""
    candidates = [
        register["registered_date"].max(), register["ceased_date"].max(),
        returns["date_received"].max(), case_log["date"].max(),
    ]
    return pd.Timestamp(max(c for c in candidates if pd.notna(c))).normalize()


def profile_recorded(register: pd.DataFrame) -> np.ndarray:
    """Whether each register entry records its profile (a form or a purpose).

    OSCR's former-charities file lacks the profile of most older removals, so a blank profile in
    the past marks a charity that was later removed: such charity-years are left out of training,
    never given a feature that says so.
    """
    return (register["constitutional_form"].notna() | register["purposes"].map(len).gt(0)).to_numpy()


def build_panel(
    register: pd.DataFrame,
    returns: pd.DataFrame,
    case_log: pd.DataFrame,
    as_of_dates: list[pd.Timestamp],
    horizon_months: int,
    progress: Progress | None = None,
    sampling: SamplingConfig = SamplingConfig(),
    seed: int = 0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Features of every charity-year on the register with a recorded profile, and the list each is on.

    With `sampling` below 1, proactive charity-years without a case opened in their window are
    kept at that rate (seeded); every other charity-year is kept.
    """
    prepared = prepare_returns(returns)
    case_table = cases(case_log)
    frames, counts = [], []
    for as_of in as_of_dates:
        if progress:
            progress(f"features as of {as_of.date()}")
        on_register = population(register, as_of)
        with_profile = on_register.loc[profile_recorded(on_register)]
        features = build_features(with_profile, prepared, case_log, as_of)
        on_list = review_list(features)
        end = as_of + pd.DateOffset(months=horizon_months)
        opened = case_table.loc[case_table["opened"].ge(as_of) & case_table["opened"].lt(end), "charity_number"]
        with_case = is_in(features["charity_number"], pd.Index(opened.unique()))
        keep = np.ones(len(features), dtype=bool)
        if sampling.negative_rate < 1:
            draw = np.random.default_rng([seed, as_of.toordinal()]).random(len(features))
            keep = (on_list.to_numpy() != PROACTIVE) | with_case | (draw < sampling.negative_rate)
        counts.append({
            "as_of": as_of, "population": len(on_register), "excluded_no_profile": len(on_register) - len(features),
            **{f"on_{name}_list": int((on_list == name).sum()) for name in REVIEW_LISTS},
            "under_inquiry": int((on_list == "under inquiry").sum()),
            "recently_inquired": int((on_list == "recently inquired").sum()),
            "with_case_in_window": int(with_case.sum()), "negatives_sampled_out": int((~keep).sum()),
        })
        frames.append(features.loc[keep].assign(review_list=on_list.loc[keep].to_numpy()))
    return pd.concat(frames, ignore_index=True), pd.DataFrame(counts)


def panel_labels(panel: pd.DataFrame, case_table: pd.DataFrame, returns: pd.DataFrame, definition: str,
                 horizon_months: int, known_by: pd.Timestamp, rows: np.ndarray | None = None) -> pd.Series:
    """The label of each panel row among `rows` (default all) with outcomes known by `known_by`, NaN
    elsewhere: a series as long as the panel."""
    rows = np.arange(len(panel)) if rows is None else np.asarray(rows)
    out = np.full(len(panel), np.nan)
    as_of = panel["as_of"].to_numpy()[rows]
    numbers = panel["charity_number"].to_numpy(dtype=object)
    for date in np.unique(as_of):
        at = rows[as_of == date]
        out[at] = build_labels(pd.Series(numbers[at]), case_table, returns, pd.Timestamp(date), definition,
                               horizon_months, known_by).to_numpy()
    return pd.Series(out, index=panel.index)


def candidates(config: ExperimentConfig) -> list[Candidate]:
    """Every list's candidates: each grid model on each of the list's labels (rules on the target only)."""
    out = []
    for name in REVIEW_LISTS:
        labels = getattr(config.lists, name).labels
        for spec in config.models:
            for label in (labels[:1] if spec.kind in {"rule", "queue"} else labels):
                out.append(Candidate(name, spec, label))
    return out


def _training_rows(panel: pd.DataFrame, rows: np.ndarray, candidate: Candidate, label: pd.Series) -> np.ndarray:
    """Of the panel's `rows`, those a candidate learns from: its list's own charity-years (for the
    inspected label, every charity-year with an inquiry in its window), with a known label.
    `label` holds a label (or NaN) for every panel row."""
    known = ~np.isnan(label.to_numpy()[rows])
    if candidate.label == INSPECTED:
        return rows[known]
    return rows[known & (panel["review_list"].to_numpy()[rows] == candidate.review_list)]


def score(pipeline, features: pd.DataFrame, batch_rows: int = PARTITION_CHARITIES) -> np.ndarray:
    """Probability of the positive label for each row of a feature frame, `batch_rows` at a time."""
    if len(features) <= batch_rows:
        return pipeline.predict_proba(model_inputs(features))[:, 1]
    return np.concatenate([
        pipeline.predict_proba(model_inputs(features.iloc[start:start + batch_rows]))[:, 1]
        for start in range(0, len(features), batch_rows)
    ])


def _fit(spec: ModelSpec, seed: int, inputs: pd.DataFrame, rows: np.ndarray, y: np.ndarray,
         negative_rate: float = 1.0, draw: int = 0) -> Pipeline | None:
    """The spec fitted on `inputs`' rows `rows` with labels y (negatives kept at `negative_rate`, seeded
    by `draw`, and weighted back); None when they hold one class only (nothing to learn)."""
    y = np.asarray(y, dtype=float)
    if spec.kind not in {"rule", "queue"} and (len(y) < 2 or y.min() == y.max()):
        return None
    weight = np.ones(len(y))
    if negative_rate < 1 and (y == 0).sum() >= FIT_SAMPLING_FROM:
        keep = (y == 1) | (np.random.default_rng([seed, draw]).random(len(y)) < negative_rate)
        rows, y, weight = rows[keep], y[keep], np.where(y[keep] == 1, 1.0, 1.0 / negative_rate)
    return build_pipeline(spec, seed).fit(inputs.iloc[rows], y, model__sample_weight=weight)


def _full_information_spec(config: ExperimentConfig) -> ModelSpec | None:
    """The grid's tree model (else its linear one): what the full-information learner is made of."""
    for kind in ("lightgbm", "logistic"):
        for spec in config.models:
            if spec.kind == kind:
                return spec
    return None


def capacity_of(config: ExperimentConfig, name: str, panel_counts: pd.DataFrame | None = None,
                inquired_per_window: list[int] | None = None) -> int:
    """Reviews a year a list is sized to: its configured capacity, else the regulator's own median pace."""
    configured = getattr(config.lists, name).capacity
    if configured is not None:
        return int(configured)
    return max(1, int(np.median(inquired_per_window))) if inquired_per_window else 1


@dataclass
class _Fold:
    """One fold's rows, labels and truth, worked out once for every candidate."""

    fold: TemporalFold
    train: np.ndarray
    test: dict[str, np.ndarray]  # list -> panel rows of the test date on that list
    train_labels: dict[str, pd.Series]
    test_labels: dict[str, pd.Series]
    opened_days: dict[str, np.ndarray]  # list -> days from the test date to the first inquiry opened in
    # each test row's window (NaN: none opened)
    train_opened: np.ndarray  # the same for the training rows

    def inquired(self, name: str) -> np.ndarray:
        return ~np.isnan(self.opened_days[name])


def panel_days_to_first_inquiry(panel: pd.DataFrame, case_table: pd.DataFrame, horizon_months: int) -> np.ndarray:
    """Days from each panel row's as-of date to the first inquiry opened into the charity in its
    window (NaN: none opened)."""
    out = np.full(len(panel), np.nan)
    for as_of, group in panel.groupby("as_of", sort=False):
        start, end = pd.Timestamp(as_of), pd.Timestamp(as_of) + pd.DateOffset(months=horizon_months)
        opened = case_table.loc[case_table["opened"].ge(start) & case_table["opened"].lt(end)]
        first = opened.groupby("charity_number")["opened"].min().reindex(group["charity_number"].to_numpy())
        out[panel.index.get_indexer(group.index)] = (first - start).dt.days.to_numpy(dtype=float)
    return out


def evaluated_on(panel: pd.DataFrame, rows: np.ndarray, name: str, opened_days: np.ndarray) -> np.ndarray:
    """Which of the panel's `rows` a list is judged on: the proactive list on its own charities; the
    triage list on the inquiries the regulator opened in the window, the queue it has to order."""
    if name == TRIAGE:
        return ~np.isnan(opened_days[rows])
    return panel["review_list"].to_numpy()[rows] == name


def cross_validate(
    panel: pd.DataFrame,
    case_table: pd.DataFrame,
    returns: pd.DataFrame,
    folds: list[TemporalFold],
    config: ExperimentConfig,
    extract_date: pd.Timestamp,
    truth: Truth | None = None,
    progress: Progress | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-fold label metrics and out-of-fold predictions (with the truth, where known) for every
    candidate of every list, and the references."""
    horizon = config.label.horizon_months
    grid = candidates(config)
    definitions = sorted({c.label for c in grid} | {getattr(config.lists, n).labels[0] for n in REVIEW_LISTS}
                         | {INSPECTED})
    judged = truth.judge(panel, case_table, horizon) if truth is not None else None
    opened_days = panel_days_to_first_inquiry(panel, case_table, horizon)
    inputs = model_inputs(panel).copy()  # one consolidated block to slice, not the whole panel
    as_of = panel["as_of"].to_numpy()
    rows, predictions = [], []
    for fold in folds:
        train = np.flatnonzero(np.isin(as_of, np.array(fold.train_as_of, dtype="datetime64[ns]")))
        test_all = np.flatnonzero(as_of == np.datetime64(fold.test_as_of, "ns"))
        test = {name: test_all[evaluated_on(panel, test_all, name, opened_days)] for name in REVIEW_LISTS}
        work = _Fold(
            fold=fold, train=train, test=test,
            train_labels={d: panel_labels(panel, case_table, returns, d, horizon, fold.test_as_of, train)
                          for d in definitions},
            test_labels={d: panel_labels(panel, case_table, returns, d, horizon, extract_date, test_all)
                         for d in definitions},
            opened_days={name: opened_days[test[name]] for name in REVIEW_LISTS},
            train_opened=opened_days[train],
        )
        for name in REVIEW_LISTS:
            test = work.test[name]
            if not len(test):
                continue
            target = getattr(config.lists, name).labels[0]
            test_inputs = inputs.iloc[test]
            scored: dict[str, tuple[str, np.ndarray]] = {}
            for candidate in (c for c in grid if c.review_list == name):
                if progress:
                    progress(f"{fold.name}: {name} {candidate.name}")
                label = work.train_labels[candidate.label]
                fit_rows = _training_rows(panel, train, candidate, label)
                y_fit = label.to_numpy()[fit_rows]
                fitted = _fit(candidate.spec, config.seed, inputs, fit_rows, y_fit,
                              config.sampling.fit_negative_rate, fold.test_as_of.year)
                base = float(np.nanmean(y_fit)) if len(fit_rows) else 0.0
                scores = score(fitted, test_inputs) if fitted is not None else np.full(len(test), base)
                scored[candidate.name] = (candidate.label, scores)
            if judged is not None:
                scored.update(_references(panel, inputs, judged, work, name, config, progress))
            y = work.test_labels[target].to_numpy()[test]
            k = min(capacity_of(config, name, inquired_per_window=[int(work.inquired(name).sum())]), len(test))
            for model, (label_definition, scores) in scored.items():
                metrics = ranking_metrics(np.nan_to_num(y, nan=0.0), scores, k, config.evaluation.k_percent)
                metrics["auc_pr"] = _auc_pr_known(y, scores)
                rows.append({"review_list": name, "model": model, "label_definition": label_definition,
                             "fold": fold.name, "test_as_of": fold.test_as_of, "train_rows": len(train),
                             "capacity": k, "inquired_in_window": int(work.inquired(name).sum()), **metrics})
                predictions.append(_prediction_frame(panel, test, name, model, label_definition, fold, scores,
                                                     work, judged))
    return pd.DataFrame(rows), pd.concat(predictions, ignore_index=True)


def _auc_pr_known(y: np.ndarray, scores: np.ndarray) -> float:
    """Average precision over the rows whose label is known (NaN where it is not defined)."""
    from sklearn.metrics import average_precision_score

    known = ~np.isnan(y)
    y, scores = y[known], np.asarray(scores)[known]
    return float(average_precision_score(y, scores)) if 0 < y.sum() < len(y) else float("nan")


def _references(panel, inputs, judged, work: _Fold, name: str, config: ExperimentConfig, progress) -> dict:
    """Scores of the reference lists on one list's test rows (simulated worlds only)."""
    test = work.test[name]
    truth = judged.iloc[test]
    out = {TRUE_RISK: ("truth", truth["true_risk"].to_numpy())}
    spec = _full_information_spec(config)
    if spec is not None:
        if progress:
            progress(f"{work.fold.name}: {name} full-information learner")
        if name == TRIAGE:
            fit_rows = work.train[~np.isnan(work.train_opened)]
        else:
            fit_rows = work.train[panel["review_list"].to_numpy()[work.train] == name]
        fitted = _fit(spec, config.seed, inputs, fit_rows, judged["misconduct"].to_numpy()[fit_rows],
                      config.sampling.fit_negative_rate, work.fold.test_as_of.year)
        if fitted is not None:
            out[FULL_INFORMATION] = ("truth", score(fitted, inputs.iloc[test]))
    # The regulator's own order: the charities it opened an inquiry into during the window, in the
    # order it opened them; the rest after.
    days = work.opened_days[name]
    out[REGULATOR] = ("case log", np.where(np.isnan(days), 0.0, 1.0 - np.nan_to_num(days) / 100_000.0))
    return out


def _prediction_frame(panel, test, name, model, label_definition, fold, scores, work: _Fold, judged):
    rows = panel.iloc[test]
    frame = pd.DataFrame({
        "review_list": name, "model": model, "label_definition": label_definition, "fold": fold.name,
        "charity_number": rows["charity_number"].to_numpy(), "as_of": fold.test_as_of,
        "score": np.asarray(scores, dtype=float), "days_to_first_inquiry": work.opened_days[name],
        **{f"label_{d}": work.test_labels[d].to_numpy()[test] for d in work.test_labels},
        **{attribute: rows[attribute].to_numpy() for attribute in GROUP_ATTRIBUTES},
    })
    if judged is not None:
        truth = judged.iloc[test]
        for column in truth.columns:
            frame[column] = truth[column].to_numpy()
    return frame


def summarise(fold_metrics: pd.DataFrame, folds: list[TemporalFold]) -> pd.DataFrame:
    """One row per (list, model): means and spreads over the selection folds (every fold but the
    latest), and the latest fold's own figures (`holdout_*`)."""
    holdout = folds[-1].name
    out = []
    for (name, model), group in fold_metrics.groupby(["review_list", "model"], sort=False):
        choosing = group.loc[group["fold"] != holdout]
        latest = group.loc[group["fold"] == holdout]
        row = {"review_list": name, "model": model, "label_definition": group["label_definition"].iloc[0],
               **summarise_folds(choosing.drop(columns=["fold", "test_as_of", "review_list", "model",
                                                        "label_definition"]))}
        if len(latest):
            for column in ("precision_at_k", "recall_at_k", "auc_pr", "auc_roc", "brier", "positives", "n"):
                row[f"holdout_{column}"] = float(latest[column].iloc[0])
        out.append(row)
    return pd.DataFrame(out).set_index(["review_list", "model"])


def candidates_in_order(summary: pd.DataFrame, config: ExperimentConfig, name: str) -> list[str]:
    """A list's candidates, best mean selection metric over the selection folds first (ties: the
    earlier in the grid; a candidate never scored last); references are never candidates."""
    metric = f"{getattr(config.lists, name).selection_metric}_mean"
    grid = [c.name for c in candidates(config) if c.review_list == name]
    values = pd.Series([summary[metric].get((name, g), np.nan) if metric in summary else np.nan for g in grid],
                       index=grid, dtype=float)
    return list(values.sort_values(ascending=False, kind="stable", na_position="last").index)


def choose_champions(summary: pd.DataFrame, config: ExperimentConfig) -> dict[str, str]:
    """Per list, the candidate with the best mean selection metric over the selection folds."""
    return {name: candidates_in_order(summary, config, name)[0] for name in REVIEW_LISTS}


def run_training(
    register: pd.DataFrame,
    returns: pd.DataFrame,
    case_log: pd.DataFrame,
    config: ExperimentConfig,
    truth: Truth | None = None,
    progress: Progress | None = None,
) -> TrainingResult:
    """Temporal cross-validation of every list's candidates, champion choice, calibration, refit."""
    if not config.models:
        raise ValueError("the experiment configuration lists no models")
    extract_date = (
        pd.Timestamp(config.extract_date) if config.extract_date else infer_extract_date(register, returns, case_log)
    )
    horizon = config.label.horizon_months
    as_of_dates = labelled_as_of_dates(config.splits, config.label, extract_date, register["registered_date"].min())
    folds = temporal_folds(as_of_dates, config.splits.n_folds, config.label, extract_date)
    panel, counts = build_panel(register, returns, case_log, as_of_dates, horizon, progress, config.sampling,
                                config.seed)
    case_table = cases(case_log)
    fold_metrics, predictions = cross_validate(panel, case_table, returns, folds, config, extract_date, truth,
                                               progress)
    summary = summarise(fold_metrics, folds)
    champions = choose_champions(summary, config)
    grid = {(c.review_list, c.name): c for c in candidates(config)}
    inquired = fold_metrics.drop_duplicates(["review_list", "fold"])
    capacities = {name: capacity_of(config, name, inquired_per_window=inquired.loc[
        inquired["review_list"] == name, "inquired_in_window"].tolist()) for name in REVIEW_LISTS}
    pipelines, calibration = {}, {}
    every_row = np.arange(len(panel))
    notes = []
    for name in REVIEW_LISTS:
        fitted = None
        for candidate in candidates_in_order(summary, config, name):
            chosen = grid[(name, candidate)]
            if progress:
                progress(f"final fit: {name} {chosen.name}")
            label = panel_labels(panel, case_table, returns, chosen.label, horizon, extract_date)
            fit_rows = _training_rows(panel, every_row, chosen, label)
            fitted = _fit(chosen.spec, config.seed, model_inputs(panel), fit_rows, label.to_numpy()[fit_rows],
                          config.sampling.fit_negative_rate, extract_date.year)
            if fitted is not None:
                break
            notes.append(f"the {name} list's {candidate!r} could not be refitted (one class only in its labels)")
        if fitted is None:
            raise ValueError(f"no candidate of the {name} list could be fitted: its labels hold one class only, so "
                             "the data hold too few cases to train on")
        if chosen.name != champions[name]:
            notes.append(f"the {name} list's champion is {chosen.name!r} instead")
            champions[name] = chosen.name
        pipelines[name] = fitted
        calibration[name] = _latest_fold_calibration(predictions, name, chosen.name, folds[-1].name,
                                                     getattr(config.lists, name).labels[0],
                                                     config.sampling.negative_rate)
    return TrainingResult(
        fold_metrics=fold_metrics, summary=summary, predictions=predictions, champions=champions,
        final_model=ReviewLists(pipelines, calibration, capacities, as_of_month_day(config.splits, extract_date),
                                dict(champions)),
        folds=tuple(folds), panel_counts=counts,
        extract_date=extract_date, training_as_of=tuple(as_of_dates), capacities=capacities,
        truth_source=truth.source if truth is not None else None, notes=tuple(notes),
    )


def _latest_fold_calibration(predictions: pd.DataFrame, name: str, model: str, fold: str, target: str,
                             negative_rate: float) -> tuple[float, float]:
    """Platt scaling of a champion's log-odds on the latest fold's out-of-fold scores and target labels."""
    rows = predictions.loc[(predictions["review_list"] == name) & (predictions["model"] == model)
                           & (predictions["fold"] == fold)]
    y = rows[f"label_{target}"].to_numpy()
    known = ~np.isnan(y)
    p = np.clip(rows["score"].to_numpy()[known], 1e-12, 1 - 1e-12)
    # Sampled-out negatives count 1 / rate times, so the calibration is the whole register's.
    weight = np.where(y[known] == 1, 1.0, 1.0 / negative_rate)
    return platt_calibration(np.log(p / (1 - p)), y[known], weight)


def champion_rows(predictions: pd.DataFrame, champions: dict[str, str]) -> pd.DataFrame:
    """The out-of-fold rows of each list's champion."""
    keep = np.zeros(len(predictions), dtype=bool)
    for name, model in champions.items():
        keep |= (predictions["review_list"] == name).to_numpy() & (predictions["model"] == model).to_numpy()
    return predictions.loc[keep].reset_index(drop=True)


def top_of_list(predictions: pd.DataFrame, k: int) -> np.ndarray:
    """Whether each row is among its fold's k highest scores (rows of one list and one model)."""
    mask = np.zeros(len(predictions), dtype=bool)
    for _, group in predictions.groupby("fold", sort=False):
        mask[predictions.index.get_indexer(group.index)] = selected(group["score"].to_numpy(), k)
    return mask
