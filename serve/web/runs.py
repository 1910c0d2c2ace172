"""What the model page reads from MLflow: each version's training run, its fold metrics, plots and audit.

Runs never change once finished, so what is read from one is cached by its id.
"""

from __future__ import annotations

import io
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from risk_model import tracking
from risk_model.train import pooled_precision_curve
from serve.settings import Settings

PLOTS = {"precision_at_k": "plots/precision_at_k.png", "calibration": "plots/calibration.png"}
FOLD_COLUMNS = ("precision_at_k", "recall_at_k", "auc_pr", "auc_roc", "brier")


def tracking_uri(settings: Settings) -> str:
    return tracking.resolve_tracking_uri(settings.tracking(), settings.store_dir)


@dataclass(frozen=True)
class TrainingRun:
    """The parent training run a registered version came from."""

    run_id: str
    experiment_id: str


@lru_cache(maxsize=64)
def training_run(uri: str, model_run_id: str | None) -> TrainingRun | None:
    """The training run that holds a version's model run (its MLflow parent), if it can be found."""
    if not model_run_id:
        return None
    client = MlflowClient(tracking_uri=uri)
    try:
        parent_id = client.get_run(model_run_id).data.tags.get("mlflow.parentRunId")
        if not parent_id:
            return None
        parent = client.get_run(parent_id)
    except MlflowException:
        return None
    return TrainingRun(parent.info.run_id, parent.info.experiment_id)


@lru_cache(maxsize=64)
def version_run_id(uri: str, registered_model: str, version: str) -> str | None:
    """The model run a registered version was made from."""
    try:
        return MlflowClient(tracking_uri=uri).get_model_version(registered_model, version).run_id
    except MlflowException:
        return None


def _artifact(uri: str, run_id: str, path: str) -> bytes | None:
    with tempfile.TemporaryDirectory() as tmp:
        try:
            local = MlflowClient(tracking_uri=uri).download_artifacts(run_id, path, tmp)
        except (MlflowException, OSError):
            return None
        return Path(local).read_bytes()


@lru_cache(maxsize=32)
def plot_png(uri: str, run_id: str, name: str) -> bytes | None:
    """One of a training run's plots, as PNG bytes."""
    return _artifact(uri, run_id, PLOTS[name])


@lru_cache(maxsize=8)
def fold_metrics(uri: str, run_id: str) -> pd.DataFrame | None:
    """The training run's metrics per model and temporal fold (`fold_metrics.csv`)."""
    raw = _artifact(uri, run_id, "fold_metrics.csv")
    if raw is None:
        return None
    return pd.read_csv(io.BytesIO(raw))


@lru_cache(maxsize=4)
def predictions(uri: str, run_id: str) -> pd.DataFrame | None:
    """The training run's out-of-fold predictions (`predictions.parquet`)."""
    raw = _artifact(uri, run_id, "predictions.parquet")
    if raw is None:
        return None
    return pd.read_parquet(io.BytesIO(raw))


def folds_of(uri: str, run: TrainingRun | None, model: str | None) -> list[dict]:
    """One model's metrics on each temporal fold, oldest first."""
    frame = fold_metrics(uri, run.run_id) if run is not None else None
    if frame is None or model is None:
        return []
    mine = frame[frame["model"] == model].sort_values("test_as_of")
    columns = ["test_as_of", *[c for c in FOLD_COLUMNS if c in mine.columns]]
    return mine[columns].to_dict("records")


@dataclass(frozen=True)
class Expectation:
    """Positives expected among the top k, from the model's out-of-fold precision at k."""

    k: int
    precision: float
    expected: float
    folds: int


def expected_positives(uri: str, run: TrainingRun | None, model: str, k: int) -> Expectation | None:
    """Mean precision at k over the validation folds (the library's own curve), times k."""
    frame = predictions(uri, run.run_id) if run is not None else None
    if frame is None:
        return None
    mine = frame[frame["model"] == model]
    if mine.empty:
        return None
    curve = pooled_precision_curve(mine, np.array([k]))
    precision = float(curve["precision"].iloc[0])
    return Expectation(k=k, precision=precision, expected=precision * k, folds=int(mine["fold"].nunique()))


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


def run_link(base_url: str, experiment_id: str, run_id: str) -> str:
    return f"{base_url.rstrip('/')}/#/experiments/{experiment_id}/runs/{run_id}"
