"""What the pages read from MLflow: each version's training run, and per review list its champion,
metrics by fold, plots, out-of-fold predictions, findings against the truth and bias audit.

Runs never change once finished, so what is read from one is cached by its id.
"""

from __future__ import annotations

import io
import json
import math
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from risk_model.evaluate import pooled_precision_curve, ranking_order, wilson_interval
from risk_model.findings import TARGET_LABEL
from risk_model.lists.membership import LIST_TITLES, REVIEW_LISTS, WHY_ON_LIST
from risk_model.tracking import store
from risk_model.train import REFERENCES
from serve.internal.registry import training_run_id
from serve.settings import Settings

PLOTS: dict[str, str] = {f"{kind}_{name}": f"plots/{kind}_{name}.png"
                         for name in REVIEW_LISTS for kind in ("precision_at_k", "calibration")}
FOLD_COLUMNS = ("precision_at_k", "recall_at_k", "auc_pr", "auc_roc", "base_rate", "brier", "brier_skill")
# The regulator's labels each list is judged on, in words (`labels` defines them).
LABEL_WORDS: dict[str, str] = {
    "substantiated": "an inquiry opened within the year ended in guidance or regulatory action",
    "substantiated_given_inquiry": "an inquiry opened within the year ended in guidance or regulatory action",
    "regulatory_action": "an inquiry opened within the year ended in regulatory action",
    "late_return": "the first return due within the year was late",
}
LABEL_NOTES: dict[str, str] = {
    "substantiated_given_inquiry": "only charities inquired into carry this label",
}
TRUTH_PERIODS = {"selection": "folds that chose", "holdout": "held out"}


def tracking_uri(settings: Settings) -> str:
    return store.resolve_tracking_uri(settings.tracking(), settings.store_dir)


def target_label(review_list: str, lists: dict | None = None) -> str:
    """The label definition a list's candidates are compared on: the run's own (`review_lists.json`
    "targets"), else the default experiment's (`findings.TARGET_LABEL`)."""
    column = (lists or {}).get("targets", {}).get(review_list) or TARGET_LABEL[review_list]
    return column.removeprefix("label_")


@dataclass(frozen=True)
class Label:
    """A list's target label, and what it means in words."""

    name: str
    words: str
    note: str | None


def label_of(review_list: str, lists: dict | None = None) -> Label:
    name = target_label(review_list, lists)
    return Label(name, LABEL_WORDS.get(name, name), LABEL_NOTES.get(name))


@dataclass(frozen=True)
class TrainingRun:
    """The parent training run a registered version came from."""

    run_id: str
    experiment_id: str


@lru_cache(maxsize=64)
def training_run(uri: str, run_id: str | None) -> TrainingRun | None:
    """A training run, if it can be found."""
    if not run_id:
        return None
    try:
        run = MlflowClient(tracking_uri=uri).get_run(run_id)
    except MlflowException:
        return None
    return TrainingRun(run.info.run_id, run.info.experiment_id)


@lru_cache(maxsize=64)
def version_training_run(uri: str, registered_model: str, version: str) -> TrainingRun | None:
    """The training run a registered version's review lists came from."""
    client = MlflowClient(tracking_uri=uri)
    try:
        found = client.get_model_version(registered_model, version)
    except MlflowException:
        return None
    return training_run(uri, training_run_id(client, found))


def _artifact(uri: str, run_id: str, path: str) -> bytes | None:
    with tempfile.TemporaryDirectory() as tmp:
        try:
            local = MlflowClient(tracking_uri=uri).download_artifacts(run_id, path, tmp)
        except (MlflowException, OSError):
            return None
        return Path(local).read_bytes()


def _csv(uri: str, run_id: str, path: str) -> pd.DataFrame | None:
    raw = _artifact(uri, run_id, path)
    return None if raw is None else pd.read_csv(io.BytesIO(raw))


@lru_cache(maxsize=32)
def plot_png(uri: str, run_id: str, name: str) -> bytes | None:
    """One of a training run's plots, as PNG bytes."""
    return _artifact(uri, run_id, PLOTS[name])


@lru_cache(maxsize=16)
def review_lists(uri: str, run_id: str) -> dict | None:
    """The run's `review_lists.json`: each list's champion and capacity, and the held-out fold."""
    raw = _artifact(uri, run_id, "review_lists.json")
    return None if raw is None else json.loads(raw)


@lru_cache(maxsize=8)
def fold_metrics(uri: str, run_id: str) -> pd.DataFrame | None:
    """The training run's label metrics per list, model and temporal fold (`fold_metrics.csv`)."""
    return _csv(uri, run_id, "fold_metrics.csv")


@lru_cache(maxsize=8)
def model_comparison(uri: str, run_id: str) -> pd.DataFrame | None:
    """Per list and model, the means over the folds that chose and the held-out fold's figures."""
    return _csv(uri, run_id, "model_comparison.csv")


@lru_cache(maxsize=8)
def findings(uri: str, run_id: str) -> pd.DataFrame | None:
    """On a simulated world, each list's models and references judged against the truth."""
    return _csv(uri, run_id, "truth/findings.csv")


@lru_cache(maxsize=4)
def predictions(uri: str, run_id: str) -> pd.DataFrame | None:
    """The training run's out-of-fold predictions (`predictions.parquet`)."""
    raw = _artifact(uri, run_id, "predictions.parquet")
    if raw is None:
        return None
    return pd.read_parquet(io.BytesIO(raw))


def _records(frame: pd.DataFrame) -> list[dict]:
    """Rows as dicts, NaN as None (the templates show a dash)."""
    return [{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()}
            for row in frame.to_dict("records")]


def candidates_of(uri: str, run: TrainingRun | None, review_list: str) -> list[dict]:
    """A list's candidates on the regulator's labels: means over the folds that chose the champion,
    and the held-out latest fold's figures (references, drawn from the truth or the case log, left out)."""
    frame = model_comparison(uri, run.run_id) if run is not None else None
    if frame is None:
        return []
    mine = frame.loc[(frame["review_list"] == review_list) & ~frame["model"].isin(REFERENCES)]
    return _records(mine)


def folds_of(uri: str, run: TrainingRun | None, review_list: str, model: str | None,
             holdout_fold: str | None) -> list[dict]:
    """One list's model on each temporal fold, oldest first, with the part the fold played."""
    frame = fold_metrics(uri, run.run_id) if run is not None else None
    if frame is None or model is None:
        return []
    mine = frame.loc[(frame["review_list"] == review_list) & (frame["model"] == model)].sort_values("test_as_of")
    columns = ["fold", "test_as_of", *[c for c in FOLD_COLUMNS if c in mine.columns]]
    return [row | {"period": "held out" if row["fold"] == holdout_fold else "chose the champion"}
            for row in _records(mine[columns])]


def truth_of(uri: str, run: TrainingRun | None, review_list: str, champion: str | None) -> list[dict]:
    """On a simulated world: the list's champion and the references against the truth, on the folds
    that chose and on the held-out one, with 95% intervals. None of them is put as a ratio to another."""
    frame = findings(uri, run.run_id) if run is not None else None
    if frame is None or champion is None:
        return []
    shown = frame.loc[(frame["review_list"] == review_list) & frame["period"].isin(TRUTH_PERIODS)
                      & ((frame["model"] == champion) | frame["model"].isin(REFERENCES))]
    order = {name: i for i, name in enumerate((champion, *REFERENCES))}
    shown = shown.assign(_order=shown["model"].map(order), _period=shown["period"].map(list(TRUTH_PERIODS).index))
    shown = shown.sort_values(["_order", "_period"], kind="stable").drop(columns=["_order", "_period"])
    return [row | {"is_champion": row["model"] == champion, "period_words": TRUTH_PERIODS[row["period"]]}
            for row in _records(shown)]


@dataclass(frozen=True)
class Expectation:
    """Label positives among a list's top k, from its champion's out-of-fold predictions."""

    review_list: str
    k: int
    label: str
    precision: float
    expected: float
    folds: int
    smallest_fold: int  # charities on the list in its smallest validation fold
    hits: int = 0  # positives in the top k, summed over the folds
    slots: int = 0  # rows in the top k, summed over the folds
    interval: tuple[float, float] = (math.nan, math.nan)  # 95% Wilson interval of hits / slots


def _top_k_hits(mine: pd.DataFrame, outcome: str, k: int) -> tuple[int, int]:
    """Positives and rows in each fold's top k, summed over the folds."""
    hits = slots = 0
    for _, fold in mine.groupby("fold", sort=False):
        top = fold.iloc[ranking_order(fold["score"].to_numpy())[:k]]
        hits += int(np.nan_to_num(top[outcome].to_numpy(dtype=float)).sum())
        slots += len(top)
    return hits, slots


def expected_positives(uri: str, run: TrainingRun | None, review_list: str, model: str | None,
                       k: int) -> Expectation | None:
    """Mean precision at k of the list's champion over the temporal folds, on the list's own target
    label (the library's own curve; a fold whose list is shorter than k counts its whole list), times
    k: what the top k held in validation, on the regulator's labels."""
    frame = predictions(uri, run.run_id) if run is not None else None
    if frame is None or model is None:
        return None
    mine = frame.loc[(frame["review_list"] == review_list) & (frame["model"] == model)]
    lists = review_lists(uri, run.run_id)
    outcome = f"label_{target_label(review_list, lists)}"
    if mine.empty or outcome not in mine.columns:
        return None
    curve = pooled_precision_curve(mine, np.array([k]), outcome=outcome)
    precision = float(curve["precision"].iloc[0])
    hits, slots = _top_k_hits(mine, outcome, k)
    return Expectation(review_list=review_list, k=k, label=target_label(review_list, lists), precision=precision,
                       expected=precision * k, folds=int(mine["fold"].nunique()),
                       smallest_fold=int(mine.groupby("fold").size().min()), hits=hits, slots=slots,
                       interval=wilson_interval(hits, slots))


# The list page's filters the out-of-fold predictions carry: each filter's column there.
PREDICTED_FILTERS: dict[str, str] = {"local_authority": "main_operating_location", "income_band": "income_band",
                                     "constitutional_form": "constitutional_form"}


@dataclass(frozen=True)
class FilteredExpectation:
    """What the rows of a list's top k matching filters held in validation: means over the temporal folds."""

    k: int
    matching: float
    expected: float
    folds: int
    hits: int = 0  # positives among the matching rows, summed over the folds
    slots: int = 0  # matching rows, summed over the folds
    interval: tuple[float, float] = (math.nan, math.nan)  # 95% Wilson interval of hits / slots


def filtered_positives(uri: str, run: TrainingRun | None, review_list: str, model: str | None, k: int,
                       filters: dict[str, str]) -> FilteredExpectation | None:
    """On each temporal fold, the champion's top k out of fold narrowed to the rows whose attributes equal
    `filters` (keys of PREDICTED_FILTERS): how many, and the positives of the list's target label among them,
    averaged over the folds. None when the run holds no such predictions."""
    frame = predictions(uri, run.run_id) if run is not None else None
    if frame is None or model is None or not filters:
        return None
    mine = frame.loc[(frame["review_list"] == review_list) & (frame["model"] == model)]
    outcome = f"label_{target_label(review_list, review_lists(uri, run.run_id))}"
    columns = {PREDICTED_FILTERS[name]: value for name, value in filters.items()}
    if mine.empty or not {outcome, *columns} <= set(mine.columns):
        return None
    matching, positives = [], []
    for _, fold in mine.groupby("fold", sort=False):
        top = fold.iloc[ranking_order(fold["score"].to_numpy())[:k]]
        hit = np.logical_and.reduce([top[column].to_numpy() == value for column, value in columns.items()])
        matching.append(int(hit.sum()))
        positives.append(float(np.nan_to_num(top[outcome].to_numpy(dtype=float))[hit].sum()))
    hits, slots = int(round(sum(positives))), sum(matching)
    return FilteredExpectation(k=k, matching=float(np.mean(matching)), expected=float(np.mean(positives)),
                               folds=len(matching), hits=hits, slots=slots, interval=wilson_interval(hits, slots))


def list_section(uri: str, run: TrainingRun | None, review_list: str, lists: dict,
                 capacities: dict[str, int]) -> dict:
    """What the models page shows of one list: its champion, label, candidates, folds and findings.
    `lists` is the run's `review_lists.json` (empty when the run cannot be found)."""
    champion = lists.get("champions", {}).get(review_list)
    folds = folds_of(uri, run, review_list, champion, lists.get("holdout_fold"))
    return {
        "name": review_list, "title": LIST_TITLES[review_list], "why": WHY_ON_LIST[review_list],
        "champion": champion, "capacity": capacities.get(review_list), "label": label_of(review_list, lists),
        "candidates": candidates_of(uri, run, review_list), "folds": folds,
        "selection_folds": sum(f["period"] != "held out" for f in folds),
        "truth": truth_of(uri, run, review_list, champion), "plots": run is not None,
    }


def audit_of(uri: str, run: TrainingRun | None) -> dict | None:
    """The bias audit child run's metrics, when the run has been audited."""
    if run is None:
        return None
    client = MlflowClient(tracking_uri=uri)
    try:
        # Read afresh: `risk-model audit` tags the training run after the service has started.
        audit_id = client.get_run(run.run_id).data.tags.get("audit_run_id")
        if not audit_id:
            return None
        audit = client.get_run(audit_id)
    except MlflowException:
        return None
    return {"run_id": audit.info.run_id, "metrics": dict(sorted(audit.data.metrics.items()))}


def run_link(base_url: str | None, experiment_id: str, run_id: str) -> str | None:
    """A run's page in the MLflow UI at `base_url`; None when no UI is configured (nothing to link to)."""
    if not base_url:
        return None
    return f"{base_url.rstrip('/')}/#/experiments/{experiment_id}/runs/{run_id}"
