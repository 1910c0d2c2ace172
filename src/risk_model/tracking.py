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

from risk_model import plots
from risk_model.config import ExperimentConfig, TrackingConfig
from risk_model.evaluate import calibration_table
from risk_model.model_card import markdown_to_html, render_markdown
from risk_model.models import model_inputs
from risk_model.train import TrainingResult, pooled_precision_curve

DEFAULT_STORE_DIR = Path("mlruns")
# Types the project's pipelines contain, trusted when a model is loaded back with skops.
TRUSTED_TYPES: list[str] = [
    "risk_model.models.RiskIndicatorRule",
    "risk_model.models.signed_log1p",
    "risk_model.models.SafeColumnNames",
    "risk_model.models.CentredLogisticRegression",
    "risk_model.models.MonotoneLGBMClassifier",
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


def _log_global_explanation(pipeline, features: pd.DataFrame, tmp: Path, top: int = 6) -> None:
    """Mean |contribution| per factor, a beeswarm summary and dependence plots of the top factors."""
    from risk_model.explain import explain, global_importance

    factor_values = explain(pipeline, features).by_factor()
    importance = global_importance(factor_values)
    _log_frame(importance, "global_importance.csv", tmp, artifact_path="explanations")
    mlflow.log_metrics({f"explain.mean_abs_log_odds.{r.factor}": float(r.mean_abs_log_odds)
                        for r in importance.itertuples()})
    leading = importance["factor"].head(15).tolist()
    plots.beeswarm_plot(factor_values, features, leading, tmp / "summary_beeswarm.png")
    mlflow.log_artifact(str(tmp / "summary_beeswarm.png"), artifact_path="explanations")
    for factor in leading[:top]:
        path = tmp / f"dependence_{factor}.png"
        plots.dependence_plot(factor_values, features, factor, path)
        mlflow.log_artifact(str(path), artifact_path="explanations")


def _log_frame(frame: pd.DataFrame, name: str, tmp: Path, artifact_path: str | None = None) -> None:
    path = tmp / name
    frame.to_csv(path, index=False)
    mlflow.log_artifact(str(path), artifact_path=artifact_path)


def sample_statement(panel_counts: pd.DataFrame, config: ExperimentConfig) -> str:
    """What the training panel holds: every labelled charity-year, or a stated sample of the negatives."""
    dropped = int(panel_counts["negatives_sampled_out"].sum())
    if not dropped:
        return "every labelled charity-year"
    kept = int(panel_counts["labelled"].sum()) - dropped
    return (f"negatives subsampled at rate {config.sampling.negative_rate:g} (seed {config.seed}): "
            f"{kept:,} of {int(panel_counts['labelled'].sum()):,} labelled charity-years kept, every positive kept")


def log_training(
    result: TrainingResult,
    config: ExperimentConfig,
    data_fingerprint: dict[str, str],
    ingest_accounts: pd.DataFrame,
    rejections: pd.DataFrame,
    example_features: pd.DataFrame,
    data_dir: str,
    manifest: dict | None = None,
    ranking: pd.DataFrame | None = None,
) -> LoggedTraining:
    """Log a training job to the active experiment and register its champion."""
    client = MlflowClient()
    with mlflow.start_run(run_name=f"train {config.label.definition}") as parent, tempfile.TemporaryDirectory() as td:
        tmp = Path(td)
        mlflow.set_tags({
            "job": "train", "champion_model": result.champion, "label.definition": config.label.definition,
            "data_dir": data_dir, "extract_date": str(result.extract_date.date()),
            "training_sample": sample_statement(result.panel_counts, config),
        })
        mlflow.log_params(_flat_params(config) | {"config_hash": config.config_hash(),
                                                   "models": ",".join(s.name for s in config.models)})
        (tmp / "experiment.json").write_text(json.dumps(config.model_dump(mode="json"), indent=2))
        mlflow.log_artifact(str(tmp / "experiment.json"))
        mlflow.log_dict(data_fingerprint, "data_fingerprint.json")
        if manifest is not None:
            mlflow.log_dict(manifest, "manifest.json")
            mlflow.set_tags({"code_commit": manifest["code"]["commit"], "code_dirty": str(manifest["code"]["dirty"]),
                             "ranking_sha256": manifest["ranking_sha256"]})
        if ranking is not None:
            ranking.to_parquet(tmp / "ranking.parquet", index=False)
            mlflow.log_artifact(str(tmp / "ranking.parquet"))
        _log_frame(ingest_accounts, "ingest_accounts.csv", tmp)
        _log_frame(rejections, "rejections.csv", tmp)
        _log_frame(result.panel_counts, "panel_counts.csv", tmp)
        _log_frame(result.fold_metrics, "fold_metrics.csv", tmp)
        result.predictions.to_parquet(tmp / "predictions.parquet", index=False)
        mlflow.log_artifact(str(tmp / "predictions.parquet"))
        _log_frame(result.summary.reset_index(), "model_comparison.csv", tmp)
        capacity_k = config.evaluation.capacity_k
        ks = np.unique(np.linspace(1, max(capacity_k * 4, 10), 80).astype(int))
        plots.precision_at_k_plot(pooled_precision_curve(result.predictions, ks), capacity_k,
                                  tmp / "precision_at_k.png")
        plots.calibration_plot({m: calibration_table(g["label"], g["score"]) for m, g in
                                result.predictions.groupby("model", sort=False) if m != "true_risk"},
                               tmp / "calibration.png")
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
                if spec.kind != "rule":
                    _log_global_explanation(pipeline, example_features, tmp)
                model_run_ids[spec.name] = child.info.run_id
                model_uris[spec.name] = info.model_uri

        version = mlflow.register_model(model_uris[result.champion], config.tracking.registered_model,
                                        tags={"run_id": model_run_ids[result.champion]})
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
        card = render_markdown(
            model_name=config.tracking.registered_model, version=str(version.version), run_id=parent.info.run_id,
            champion=result.champion, config=config, fold_metrics=result.fold_metrics, summary=result.summary,
            predictions=result.predictions, panel_counts=result.panel_counts, extract_date=result.extract_date,
            manifest=manifest)
        (tmp / "model_card.md").write_text(card)
        (tmp / "model_card.html").write_text(markdown_to_html(card, f"{config.tracking.registered_model} "
                                                                    f"v{version.version}"))
        mlflow.log_artifact(str(tmp / "model_card.md"))
        mlflow.log_artifact(str(tmp / "model_card.html"))
        client.update_model_version(config.tracking.registered_model, version.version,
                                    description=card.split("## Intended use")[0].strip())
    return LoggedTraining(parent.info.run_id, model_run_ids, config.tracking.registered_model, str(version.version))


def load_champion(config: TrackingConfig):
    """The champion Pipeline and its model version, from the registry."""
    client = MlflowClient()
    version = client.get_model_version_by_alias(config.registered_model, config.champion_alias)
    # Load the version the alias named a moment ago, so model and version cannot disagree.
    pipeline = mlflow.sklearn.load_model(f"models:/{config.registered_model}/{version.version}")
    return pipeline, version


def refresh_model_card(run_id: str, bias: pd.DataFrame | None) -> str | None:
    """Re-render a training run's model card from its own artifacts, adding a bias-audit summary,
    and log it over the old one (and as the registered version's description)."""
    import io

    from risk_model.config import ExperimentConfig
    from risk_model.model_card import bias_summary

    client = MlflowClient()
    run = client.get_run(run_id)
    version = run.data.tags.get("registered_version")
    if version is None:
        return None

    def frame(path: str) -> pd.DataFrame:
        return pd.read_csv(io.StringIO(mlflow.artifacts.load_text(f"runs:/{run_id}/{path}")))

    config = ExperimentConfig.model_validate(mlflow.artifacts.load_dict(f"runs:/{run_id}/experiment.json"))
    predictions = pd.read_parquet(mlflow.artifacts.download_artifacts(run_id=run_id,
                                                                      artifact_path="predictions.parquet"))
    panel_counts = frame("panel_counts.csv").assign(as_of=lambda f: pd.to_datetime(f["as_of"]))
    try:
        manifest = mlflow.artifacts.load_dict(f"runs:/{run_id}/manifest.json")
    except Exception:  # runs from before manifests were recorded
        manifest = None
    card = render_markdown(
        model_name=config.tracking.registered_model, version=version, run_id=run_id,
        champion=run.data.tags["champion_model"], config=config, fold_metrics=frame("fold_metrics.csv"),
        summary=frame("model_comparison.csv").set_index("model"), predictions=predictions,
        panel_counts=panel_counts, extract_date=pd.Timestamp(run.data.tags["extract_date"]), manifest=manifest,
        bias_summary=bias_summary(bias) if bias is not None else None)
    with tempfile.TemporaryDirectory() as td:
        (Path(td) / "model_card.md").write_text(card)
        (Path(td) / "model_card.html").write_text(markdown_to_html(card, f"{config.tracking.registered_model} v{version}"))
        client.log_artifact(run_id, str(Path(td) / "model_card.md"))
        client.log_artifact(run_id, str(Path(td) / "model_card.html"))
    client.update_model_version(config.tracking.registered_model, version,
                                description=card.split("## Intended use")[0].strip())
    return card
