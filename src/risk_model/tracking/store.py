"""Where runs go and how they are read back: the tracking URI, the experiment, the champion model
loaded from the registry (with the types skops may trust), a run's tables and its model card
refreshed from them. Logging a training run is `tracking.runs`.
"""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path

import mlflow
import pandas as pd
from mlflow.tracking import MlflowClient

from risk_model.config import ExperimentConfig, TrackingConfig
from risk_model.tracking.model_card import RunRecords, bias_summary, markdown_to_html, render_markdown

DEFAULT_STORE_DIR = Path("mlruns")
# Types the project's pipelines contain, trusted when a model is loaded back with skops.
TRUSTED_TYPES: list[str] = [
    "risk_model.estimators.RiskIndicatorRule",
    "risk_model.estimators.ConcernQueue",
    "risk_model.models.ReviewLists",
    "sklearn.model_selection._split.KFold",
    "risk_model.models.signed_log1p",
    "risk_model.estimators.SafeColumnNames",
    "risk_model.estimators.CentredLogisticRegression",
    "risk_model.estimators.MonotoneLGBMClassifier",
    "risk_model.estimators.ExplainedLGBMClassifier",
    "lightgbm.basic.Booster",
    "lightgbm.sklearn.LGBMClassifier",
    "collections.OrderedDict",
    "collections.defaultdict",
    "builtins.slice",
    "numpy.ndarray",
    "numpy.dtype",
]


def resolve_tracking_uri(config: TrackingConfig, store_dir: Path = DEFAULT_STORE_DIR) -> str:
    """Config first, then $MLFLOW_TRACKING_URI, else a SQLite store under `store_dir`."""
    if config.tracking_uri:
        return config.tracking_uri
    if os.environ.get("MLFLOW_TRACKING_URI"):
        return os.environ["MLFLOW_TRACKING_URI"]
    store_dir = Path(store_dir).resolve()
    store_dir.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{store_dir / 'mlflow.db'}"


def use_tracking(config: TrackingConfig, store_dir: Path = DEFAULT_STORE_DIR) -> str:
    """Point MLflow at the configured store and experiment; returns the experiment id."""
    uri = resolve_tracking_uri(config, store_dir)
    mlflow.set_tracking_uri(uri)
    experiment = mlflow.get_experiment_by_name(config.experiment)
    if experiment is not None:
        mlflow.set_experiment(config.experiment)
        return experiment.experiment_id
    artifact_location = None
    if uri.startswith("sqlite:///"):
        artifact_location = (Path(uri.removeprefix("sqlite:///")).parent / "artifacts").as_uri()
    experiment_id = mlflow.create_experiment(config.experiment, artifact_location=artifact_location)
    mlflow.set_experiment(config.experiment)
    return experiment_id


def load_champion(config: TrackingConfig):
    """The champion Pipeline and its model version, from the registry."""
    client = MlflowClient()
    version = client.get_model_version_by_alias(config.registered_model, config.champion_alias)
    # Load the version the alias named a moment ago, so model and version cannot disagree.
    pipeline = mlflow.sklearn.load_model(f"models:/{config.registered_model}/{version.version}")
    return pipeline, version


def read_run_records(run_id: str) -> RunRecords:
    """A training run's tables, read back from its artifacts (what its model card is made from)."""
    run = MlflowClient().get_run(run_id)

    def frame(path: str) -> pd.DataFrame:
        return pd.read_csv(io.StringIO(mlflow.artifacts.load_text(f"runs:/{run_id}/{path}")))

    def optional(path: str) -> pd.DataFrame | None:
        try:
            return frame(path)
        except Exception:  # a run on a real regulator's data has no truth
            return None

    config = ExperimentConfig.model_validate(mlflow.artifacts.load_dict(f"runs:/{run_id}/experiment.json"))
    lists = mlflow.artifacts.load_dict(f"runs:/{run_id}/review_lists.json")
    predictions = pd.read_parquet(mlflow.artifacts.download_artifacts(run_id=run_id,
                                                                      artifact_path="predictions.parquet"))
    return RunRecords(
        config=config, champions=lists["champions"], capacities=lists["capacities"],
        calibration={k: tuple(v) for k, v in lists["calibration"].items()},
        fold_metrics=frame("fold_metrics.csv"), summary=frame("model_comparison.csv").set_index(["review_list", "model"]),
        predictions=predictions, panel_counts=frame("panel_counts.csv").assign(as_of=lambda f: pd.to_datetime(f["as_of"])),
        extract_date=pd.Timestamp(run.data.tags["extract_date"]), findings=optional("truth/findings.csv"),
        differences=optional("truth/differences.csv"),
        truth_source=None if run.data.tags.get("truth", "none").startswith("none") else run.data.tags["truth"])


def refresh_model_card(run_id: str, bias: pd.DataFrame | None) -> str | None:
    """Re-render a training run's model card from its own artifacts, adding a bias-audit summary,
    and log it over the old one (and as the registered version's description)."""
    client = MlflowClient()
    run = client.get_run(run_id)
    version = run.data.tags.get("registered_version")
    if version is None:
        return None
    records = read_run_records(run_id)
    try:
        manifest = mlflow.artifacts.load_dict(f"runs:/{run_id}/manifest.json")
    except Exception:  # runs from before manifests were recorded
        manifest = None
    card = render_markdown(model_name=records.config.tracking.registered_model, version=version, run_id=run_id,
                           records=records, manifest=manifest,
                           bias_summary=bias_summary(bias) if bias is not None else None)
    with tempfile.TemporaryDirectory() as td:
        (Path(td) / "model_card.md").write_text(card)
        (Path(td) / "model_card.html").write_text(markdown_to_html(card, f"{records.config.tracking.registered_model} v{version}"))
        client.log_artifact(run_id, str(Path(td) / "model_card.md"))
        client.log_artifact(run_id, str(Path(td) / "model_card.html"))
    client.update_model_version(records.config.tracking.registered_model, version,
                                description=card.split("## Intended use")[0].strip())
    return card
