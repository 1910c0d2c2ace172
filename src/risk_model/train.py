"""Fit and compare each review list's candidates under temporal validation, then refit the champions.

Pure: frames and a typed config in, a `TrainingResult` out. MLflow is touched by `tracking`.

Every charity-year on the register goes into the panel (`panel`). Each list's candidates
(`selection`) learn from the list's own charity-years, or, for `substantiated_given_inquiry`,
from every charity-year with an inquiry opened in its window (the inspected population). Labels
for a fold's training are censored at the fold's test date. The champion of each list, chosen on
every fold but the latest (`selection`), has its scores calibrated on the latest fold. The
champions are refitted on every as-of date and put together in one `models.ReviewLists`.

On a simulated world the truth (`truth.Truth`) also judges every candidate, beside references no
model can pass or that a regulator already has: the ranking by true risk, a full-information
learner (the grid's tree model trained on the truth for every charity), the regulator's own
complaint-led inquiries, and random choice. The truth never reaches a registered model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score
from sklearn.pipeline import Pipeline

from risk_model.config import ExperimentConfig, ModelSpec
from risk_model.evaluate import ranking_metrics
from risk_model.features import GROUP_ATTRIBUTES
from risk_model.ingest.tables import infer_extract_date
from risk_model.labels import cases
from risk_model.lists.membership import REVIEW_LISTS, TRIAGE
from risk_model.models import ReviewLists, build_pipeline, platt_calibration, score
from risk_model.panel import ListInputs, Progress, build_panel, list_inputs, panel_days_to_first_inquiry, panel_labels
from risk_model.selection import Candidate, candidates, candidates_in_order, choose_champions, summarise
from risk_model.splits import TemporalFold, as_of_month_day, labelled_as_of_dates, temporal_folds
from risk_model.truth import Truth

# Fits with at least this many negatives keep only `sampling.fit_negative_rate` of them: plenty
# remain to learn from, and small fits (the inspected population) are left whole.
FIT_SAMPLING_FROM = 20_000
INSPECTED = "substantiated_given_inquiry"
# Reference lists drawn from the truth or the case log, never registered.
TRUE_RISK, FULL_INFORMATION, REGULATOR, RANDOM = "true_risk", "full_information", "regulator", "random"
REFERENCES: tuple[str, ...] = (TRUE_RISK, FULL_INFORMATION, REGULATOR, RANDOM)


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


def _training_rows(panel: pd.DataFrame, rows: np.ndarray, candidate: Candidate, label: pd.Series) -> np.ndarray:
    """Of the panel's `rows`, those a candidate learns from: its list's own charity-years (for the
    inspected label, every charity-year with an inquiry in its window), with a known label.
    `label` holds a label (or NaN) for every panel row."""
    known = ~np.isnan(label.to_numpy()[rows])
    if candidate.label == INSPECTED:
        return rows[known]
    return rows[known & (panel["review_list"].to_numpy()[rows] == candidate.review_list)]


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


def evaluated_on(panel: pd.DataFrame, rows: np.ndarray, name: str, opened_days: np.ndarray) -> np.ndarray:
    """Which of the panel's `rows` a list is judged on: the proactive list on its own charities; the
    triage list on the inquiries the regulator opened in the window, the queue it has to order."""
    if name == TRIAGE:
        return ~np.isnan(opened_days[rows])
    return panel["review_list"].to_numpy()[rows] == name


def cross_validate(
    panel: pd.DataFrame,
    case_table: pd.DataFrame,
    inputs_of: dict[str, ListInputs],
    returns: pd.DataFrame,
    folds: list[TemporalFold],
    config: ExperimentConfig,
    extract_date: pd.Timestamp,
    truth: Truth | None = None,
    progress: Progress | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-fold label metrics and out-of-fold predictions (with the truth, where known) for every
    candidate of every list, and the references, each list reading its own inputs (`list_inputs`)."""
    horizon = config.label.horizon_months
    grid = candidates(config)
    definitions = sorted({c.label for c in grid} | {getattr(config.lists, n).labels[0] for n in REVIEW_LISTS}
                         | {INSPECTED})
    judged = truth.judge(panel, case_table, horizon) if truth is not None else None
    opened_days = panel_days_to_first_inquiry(panel, case_table, horizon)
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
            inputs = inputs_of[name]
            test_inputs = inputs.frame.iloc[inputs.at(test)]
            scored: dict[str, tuple[str, np.ndarray]] = {}
            for candidate in (c for c in grid if c.review_list == name):
                if progress:
                    progress(f"{fold.name}: {name} {candidate.name}")
                label = work.train_labels[candidate.label]
                fit_rows = _training_rows(panel, train, candidate, label)
                y_fit = label.to_numpy()[fit_rows]
                fitted = _fit(candidate.spec, config.seed, inputs.frame, inputs.at(fit_rows), y_fit,
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
    known = ~np.isnan(y)
    y, scores = y[known], np.asarray(scores)[known]
    return float(average_precision_score(y, scores)) if 0 < y.sum() < len(y) else float("nan")


def _references(panel, inputs: ListInputs, judged, work: _Fold, name: str, config: ExperimentConfig,
                progress) -> dict:
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
        fitted = _fit(spec, config.seed, inputs.frame, inputs.at(fit_rows), judged["misconduct"].to_numpy()[fit_rows],
                      config.sampling.fit_negative_rate, work.fold.test_as_of.year)
        if fitted is not None:
            out[FULL_INFORMATION] = ("truth", score(fitted, inputs.frame.iloc[inputs.at(test)]))
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
    inputs_of = list_inputs(panel, case_log, horizon)
    fold_metrics, predictions = cross_validate(panel, case_table, inputs_of, returns, folds, config, extract_date,
                                               truth, progress)
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
            fitted = _fit(chosen.spec, config.seed, inputs_of[name].frame, inputs_of[name].at(fit_rows),
                          label.to_numpy()[fit_rows],
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
