"""The training job, one function for `train` and `reproduce`: train and evaluate the grid, make the
champions' lists at the extract date and the manifest that hashes them, and, when recording, log
the run to MLflow and register the champion.

Reproducing a run is this job with recording off, so what `reproduce` compares with a recorded
manifest is built by the same code that built the record. Files and MLflow are touched here and
in the modules it calls, never by the stages (`train`, `evaluate`, `lists`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from mlflow.tracking import MlflowClient

from risk_model.config import ExperimentConfig
from risk_model.features import build_features, population
from risk_model.ingest.tables import IngestResult
from risk_model.tracking.manifest import training_manifest
from risk_model.tracking.runs import LoggedTraining, log_training, run_findings
from risk_model.tracking.store import DEFAULT_STORE_DIR, use_tracking
from risk_model.train import TrainingResult, run_training
from risk_model.truth import Truth

# The run's global explanations summarise at most this many charities (a stated random sample beyond).
EXPLANATION_SAMPLE = 50_000


@dataclass(frozen=True)
class TrainingJob:
    """What one training job produced: the result, the lists and manifest, the findings against the
    truth (None without an answer key) and, when it was recorded, what it wrote to MLflow."""

    result: TrainingResult
    ranked: pd.DataFrame
    manifest: dict
    judged: tuple | None = None
    logged: LoggedTraining | None = None
    explanation_sample: str = ""  # how the explained charities were chosen; "" when the whole register


def explanation_features(tables: IngestResult, as_of: pd.Timestamp, seed: int) -> tuple[pd.DataFrame, str]:
    """Features behind the run's global explanations: the register at `as_of`, or a stated sample of it."""
    on_register = population(tables.register, as_of)
    if len(on_register) <= EXPLANATION_SAMPLE:
        return build_features(on_register, tables.returns, tables.case_log, as_of), ""
    sample = on_register.sample(n=EXPLANATION_SAMPLE, random_state=seed)
    statement = (f"a random {EXPLANATION_SAMPLE:,} of the {len(on_register):,} charities on the register at "
                 f"{as_of.date()} (seed {seed})")
    return build_features(sample, tables.returns, tables.case_log, as_of), statement


def run_training_job(tables: IngestResult, experiment: ExperimentConfig, data_dir: Path, truth: Truth | None = None,
                     *, record: bool, store_dir: Path = DEFAULT_STORE_DIR,
                     progress: Callable[[str], None] | None = None) -> TrainingJob:
    """Train, evaluate and list; with `record`, log to MLflow and register the champion as well."""
    result = run_training(tables.register, tables.returns, tables.case_log, experiment, truth, progress=progress)
    ranked, manifest = training_manifest(result, tables, experiment, data_dir)
    if not record:
        return TrainingJob(result, ranked, manifest)
    judged = run_findings(result, experiment)
    use_tracking(experiment.tracking, store_dir)
    example, explained = explanation_features(tables, result.training_as_of[-1], experiment.seed)
    fingerprint = manifest["data"]["tables"] | {f"file:{k}": v for k, v in manifest["data"]["files"].items()}
    logged = log_training(result, experiment, fingerprint, tables.accounts, tables.rejections, example,
                          str(data_dir), manifest=manifest, ranking=ranked, judged=judged)
    if explained:
        MlflowClient().set_tag(logged.parent_run_id, "explanation_sample", explained)
    return TrainingJob(result, ranked, manifest, judged, logged, explained)
