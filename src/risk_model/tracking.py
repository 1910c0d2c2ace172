"""MLflow at the edge: where runs go, what each run records, and which model is champion.

A training job is one parent run (config, data fingerprint, ingest accounts, comparison table
and plots) with one child run per model (its fold metrics and its fitted Pipeline). The best
model by the configured metric is registered and given the champion alias.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from mlflow.models import infer_signature
from mlflow.tracking import MlflowClient

from risk_model.config import ExperimentConfig, TrackingConfig
from risk_model.models import model_inputs
from risk_model.train import TrainingResult, pooled_precision_curve

DEFAULT_STORE_DIR = Path("mlruns")
# Types the project's pipelines contain, trusted when a model is loaded back with skops.
TRUSTED_TYPES: list[str] = [
    "risk_model.models.RiskIndicatorRule",
    "risk_model.models.signed_log1p",
    "risk_model.models.SafeColumnNames",
    "risk_model.models.CentredLogisticRegression",
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


@dataclass(frozen=True)
class LoggedTraining:
    """Identifiers of what a training job wrote to MLflow."""

    parent_run_id: str
    model_run_ids: dict[str, str]
    registered_model: str
    champion_version: str


def _flat_params(config: ExperimentConfig) -> dict[str, str]:
    flat = pd.json_normalize(config.model_dump(mode="json", exclude={"models"}), sep=".").iloc[0].to_dict()
    return {k: str(v) for k, v in flat.items()}


def _plot_precision_curve(result: TrainingResult, path: Path, capacity_k: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ks = np.unique(np.linspace(1, max(capacity_k * 4, 10), 80).astype(int))
    curve = pooled_precision_curve(result.predictions, ks)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for model, group in curve.groupby("model", sort=False):
        style = "--" if model == "true_risk" else "-"
        ax.plot(group["k"], group["precision"], style, label=model)
    ax.axvline(capacity_k, color="grey", lw=0.8, ls=":", label=f"capacity k={capacity_k}")
    ax.set_xlabel("k (charities reviewed, top of the list)")
    ax.set_ylabel("precision at k (mean over temporal folds)")
    ax.set_title("Precision at k")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _plot_calibration(predictions: pd.DataFrame, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from risk_model.evaluate import calibration_table

    fig, ax = plt.subplots(figsize=(5.5, 5))
    top = 0.0
    for model, group in predictions.groupby("model", sort=False):
        if model == "true_risk":
            continue
        table = calibration_table(group["label"], group["score"], n_bins=10)
        ax.plot(table["mean_predicted"], table["observed_rate"], "o-", label=model)
        top = max(top, table["mean_predicted"].max(), table["observed_rate"].max())
    ax.plot([0, top], [0, top], color="grey", lw=0.8, ls=":")
    ax.set_xlabel("mean predicted probability (decile)")
    ax.set_ylabel("observed outcome rate")
    ax.set_title("Calibration, out of fold")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _log_frame(frame: pd.DataFrame, name: str, tmp: Path, artifact_path: str | None = None) -> None:
    path = tmp / name
    frame.to_csv(path, index=False)
    mlflow.log_artifact(str(path), artifact_path=artifact_path)


def log_training(
    result: TrainingResult,
    config: ExperimentConfig,
    data_fingerprint: dict[str, str],
    ingest_accounts: pd.DataFrame,
    rejections: pd.DataFrame,
    example_features: pd.DataFrame,
    data_dir: str,
) -> LoggedTraining:
    """Log a training job to the active experiment and register its champion."""
    client = MlflowClient()
    with mlflow.start_run(run_name=f"train {config.label.definition}") as parent, tempfile.TemporaryDirectory() as td:
        tmp = Path(td)
        mlflow.set_tags({
            "job": "train", "champion_model": result.champion, "label.definition": config.label.definition,
            "data_dir": data_dir, "extract_date": str(result.extract_date.date()),
        })
        mlflow.log_params(_flat_params(config) | {"config_hash": config.config_hash(),
                                                   "models": ",".join(s.name for s in config.models)})
        (tmp / "experiment.json").write_text(json.dumps(config.model_dump(mode="json"), indent=2))
        mlflow.log_artifact(str(tmp / "experiment.json"))
        mlflow.log_dict(data_fingerprint, "data_fingerprint.json")
        _log_frame(ingest_accounts, "ingest_accounts.csv", tmp)
        _log_frame(rejections, "rejections.csv", tmp)
        _log_frame(result.panel_counts, "panel_counts.csv", tmp)
        _log_frame(result.fold_metrics, "fold_metrics.csv", tmp)
        _log_frame(result.summary.reset_index(), "model_comparison.csv", tmp)
        _plot_precision_curve(result, tmp / "precision_at_k.png", config.evaluation.capacity_k)
        _plot_calibration(result.predictions, tmp / "calibration.png")
        mlflow.log_artifact(str(tmp / "precision_at_k.png"), artifact_path="plots")
        mlflow.log_artifact(str(tmp / "calibration.png"), artifact_path="plots")
        for model, row in result.summary.iterrows():
            mlflow.log_metrics({f"{model}.{k}": float(v) for k, v in row.items() if np.isfinite(v)})

        inputs = model_inputs(example_features)
        example = inputs.head(5)
        model_run_ids, model_uris = {}, {}
        for spec in config.models:
            pipeline = result.final_models[spec.name]
            with mlflow.start_run(run_name=spec.name, nested=True) as child:
                mlflow.set_tags({"job": "train", "model": spec.name, "kind": spec.kind,
                                 "champion": str(spec.name == result.champion).lower()})
                mlflow.log_params({f"model.{k}": str(v) for k, v in spec.params.items()} | {"seed": config.seed})
                for _, fold in result.fold_metrics.query("model == @spec.name").iterrows():
                    step = int(pd.Timestamp(fold["test_as_of"]).year)
                    mlflow.log_metrics({k: float(fold[k]) for k in ("precision_at_k", "recall_at_k", "auc_pr",
                                                                   "auc_roc", "brier") if np.isfinite(fold[k])}, step=step)
                summary = result.summary.loc[spec.name]
                mlflow.log_metrics({k: float(v) for k, v in summary.items() if np.isfinite(v)})
                signature = infer_signature(example, pipeline.predict_proba(example)[:, 1])
                info = mlflow.sklearn.log_model(
                    pipeline, name="model", signature=signature, input_example=example,
                    pyfunc_predict_fn="predict_proba", serialization_format="skops",
                    skops_trusted_types=TRUSTED_TYPES,
                )
                model_run_ids[spec.name] = child.info.run_id
                model_uris[spec.name] = info.model_uri

        version = mlflow.register_model(f"runs:/{model_run_ids[result.champion]}/model",
                                        config.tracking.registered_model)
        champion_summary = result.summary.loc[result.champion]
        client.set_registered_model_alias(config.tracking.registered_model, config.tracking.champion_alias,
                                          version.version)
        for key in ("precision_at_k_mean", "auc_pr_mean", "auc_roc_mean", "brier_mean"):
            client.set_model_version_tag(config.tracking.registered_model, version.version, key,
                                         f"{champion_summary[key]:.6f}")
        client.set_model_version_tag(config.tracking.registered_model, version.version, "model", result.champion)
        client.set_model_version_tag(config.tracking.registered_model, version.version, "parent_run_id",
                                     parent.info.run_id)
        mlflow.set_tag("registered_version", version.version)
    return LoggedTraining(parent.info.run_id, model_run_ids, config.tracking.registered_model, str(version.version))


def load_champion(config: TrackingConfig):
    """The champion Pipeline and its model version, from the registry."""
    client = MlflowClient()
    version = client.get_model_version_by_alias(config.registered_model, config.champion_alias)
    pipeline = mlflow.sklearn.load_model(f"models:/{config.registered_model}@{config.champion_alias}")
    return pipeline, version
