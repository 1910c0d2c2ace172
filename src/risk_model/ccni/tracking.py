"""MLflow at the edge for snapshot benchmarks: one run per benchmark, and its models loaded back.

A run records the configuration, the data fingerprint, the adapter's account and rejections, the
label counts, every baseline's and model's fold metrics (with and without the year end), the
comparison table, and, for each variant, the best model's fitted Pipeline. The validation is
tagged ``validation = stratified_kfold_single_snapshot`` with a note saying what that means.

The variant with the year end is registered as the champion (alias ``champion``), the one
without it under ``champion-without-year-end``.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from mlflow.models import infer_signature
from mlflow.tracking import MlflowClient

from risk_model.ccni.reasons import global_importance, snapshot_contributions
from risk_model.ccni.snapshot import VARIANTS, model_inputs
from risk_model.ccni.validation import METRICS, VALIDATION, VALIDATION_NOTE, SnapshotConfig, SnapshotResult
from risk_model.config import TrackingConfig
from risk_model.export import write_csv
from risk_model.ingest.adapters import RegulatorExtract, adapter
from risk_model.ingest.tables import table_fingerprint
from risk_model.tracking.store import TRUSTED_TYPES, TrackingStoreError, champion_version, training_run

# The snapshot pipelines hold only types the project already trusts.
SNAPSHOT_TRUSTED_TYPES: list[str] = list(TRUSTED_TYPES)
# What loading a snapshot pipeline needs, pinned to the versions that fitted it. Stated rather
# than inferred: inference starts a fresh interpreter per model and cannot see risk_model itself.
_REQUIREMENTS: tuple[str, ...] = ("mlflow", "scikit-learn", "lightgbm", "skops", "numpy", "pandas")


def pip_requirements() -> list[str]:
    """Pinned requirements of a logged snapshot pipeline (risk_model itself must also be installed)."""
    return [f"{name}=={version(name)}" for name in _REQUIREMENTS]


def variant_alias(champion_alias: str, variant: str) -> str:
    """Registry alias of a variant's model: the champion alias itself for the year-end variant."""
    return champion_alias if variant == "with_year_end" else f"{champion_alias}-{variant.replace('_', '-')}"


@dataclass(frozen=True)
class LoggedSnapshot:
    """Identifiers of what a snapshot benchmark wrote to MLflow."""

    run_id: str
    model_uris: dict[str, str]  # variant -> model URI
    registered_model: str
    versions: dict[str, str]  # variant -> registered version


def _label_definition(extract: RegulatorExtract) -> str:
    return getattr(adapter(extract.dataset), "LABEL_DEFINITION", "the regulator's own status")


def _params(config: SnapshotConfig, result: SnapshotResult, extract: RegulatorExtract) -> dict[str, str]:
    flat = pd.json_normalize(config.model_dump(mode="json", exclude={"models"}), sep=".").iloc[0].to_dict()
    params = {k: str(v) for k, v in flat.items()}
    for spec in config.models:
        params[f"model.{spec.name}.kind"] = spec.kind
        params |= {f"model.{spec.name}.{k}": str(v) for k, v in spec.params.estimator_kwargs().items()}
    return params | {
        "validation": VALIDATION, "extract_date": str(extract.extract_date.date()),
        "labelled": str(result.labelled), "positives": str(result.positives),
        "rows_read": str(extract.account["rows_read"]), "rejected": str(extract.account["rejected"]),
    }


def _log_frame(frame: pd.DataFrame, name: str, tmp: Path, artifact_path: str | None = None) -> None:
    write_csv(frame, tmp / name)
    mlflow.log_artifact(str(tmp / name), artifact_path=artifact_path)


def log_snapshot_run(result: SnapshotResult, config: SnapshotConfig, extract: RegulatorExtract,
                     features: pd.DataFrame, data_fingerprint: dict[str, str], source: str) -> LoggedSnapshot:
    """Log a snapshot benchmark to the active experiment and register each variant's best model."""
    client = MlflowClient()
    model_uris, versions = {}, {}
    with mlflow.start_run(run_name=f"{config.dataset} {VALIDATION}") as run, tempfile.TemporaryDirectory() as td:
        tmp = Path(td)
        mlflow.set_tags({
            "job": "train", "dataset": config.dataset, "validation": VALIDATION, "validation.note": VALIDATION_NOTE,
            "label.definition": _label_definition(extract), "data_path": source,
            **{f"champion.{variant}": model for variant, model in result.champions.items()},
        })
        mlflow.log_params(_params(config, result, extract))
        (tmp / "config.json").write_text(json.dumps(config.model_dump(mode="json"), indent=2))
        mlflow.log_artifact(str(tmp / "config.json"))
        mlflow.log_dict(data_fingerprint | {"snapshot": table_fingerprint(extract.snapshot)}, "data_fingerprint.json")
        _log_frame(pd.DataFrame([extract.account]), "ingest_account.csv", tmp)
        _log_frame(extract.rejections, "rejections.csv", tmp)
        _log_frame(extract.label_counts(), "label_counts.csv", tmp)
        _log_frame(result.fold_metrics, "fold_metrics.csv", tmp)
        _log_frame(result.comparison, "model_comparison.csv", tmp)
        result.predictions.to_parquet(tmp / "predictions.parquet", index=False)
        mlflow.log_artifact(str(tmp / "predictions.parquet"))
        for row in result.comparison.itertuples(index=False):
            values = {f"{row.model}.{row.variant}.{m}_{s}": float(getattr(row, f"{m}_{s}"))
                      for m in METRICS for s in ("mean", "std")}
            mlflow.log_metrics({k: v for k, v in values.items() if np.isfinite(v)})
        for row in result.fold_metrics.itertuples(index=False):
            mlflow.log_metric(f"{row.model}.{row.variant}.precision_at_k_pct", float(row.precision_at_k_pct),
                              step=int(row.fold))

        labelled = features.loc[features["label"].notna()]
        for variant, year_end in VARIANTS.items():
            model = result.champions[variant]
            pipeline = result.final_models[(model, variant)]
            example = model_inputs(labelled, year_end=year_end).head(5)
            signature = infer_signature(example, pipeline.predict_proba(example)[:, 1])
            info = mlflow.sklearn.log_model(
                pipeline, name=f"model_{variant}", signature=signature, input_example=example,
                pyfunc_predict_fn="predict_proba", serialization_format="skops",
                skops_trusted_types=SNAPSHOT_TRUSTED_TYPES, pip_requirements=pip_requirements(),
            )
            model_uris[variant] = info.model_uri
            mlflow.set_tag(f"model_uri.{variant}", info.model_uri)
            importance = global_importance(snapshot_contributions(pipeline, labelled).by_factor)
            _log_frame(importance, f"global_importance_{variant}.csv", tmp, artifact_path="explanations")

        registered = config.tracking.registered_model
        for variant in VARIANTS:
            version = mlflow.register_model(model_uris[variant], registered, tags={"run_id": run.info.run_id})
            versions[variant] = str(version.version)
            client.set_registered_model_alias(registered, variant_alias(config.tracking.champion_alias, variant),
                                              version.version)
            summary = result.comparison.set_index(["model", "variant"]).loc[(result.champions[variant], variant)]
            tags = {"model": result.champions[variant], "variant": variant, "dataset": config.dataset,
                    "validation": VALIDATION, "parent_run_id": run.info.run_id,
                    **{f"{m}_mean": f"{summary[f'{m}_mean']:.6f}" for m in METRICS}}
            for key, value in tags.items():
                client.set_model_version_tag(registered, version.version, key, value)
        mlflow.set_tags({f"registered_version.{v}": n for v, n in versions.items()})
    return LoggedSnapshot(run.info.run_id, model_uris, registered, versions)


def load_snapshot_model(tracking: TrackingConfig, variant: str = "with_year_end", run_id: str | None = None):
    """A snapshot model and where it came from: from a run's logged model, else from the registry (a
    TrackingStoreError naming the run, or the model and alias, and the store when it is not there)."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; known: {', '.join(VARIANTS)}")
    if run_id:
        tags = training_run(run_id).data.tags
        uri = tags.get(f"model_uri.{variant}")
        if uri is None:
            raise TrackingStoreError(f"run {run_id} in the tracking store {mlflow.get_tracking_uri()} logged no "
                                     f"snapshot model for {variant}: is it a `risk-model train-ccni` run?")
        origin = {"model": tags.get(f"champion.{variant}", "?"), "variant": variant, "source": f"run {run_id}"}
        return mlflow.sklearn.load_model(uri), origin
    alias = variant_alias(tracking.champion_alias, variant)
    version = champion_version(tracking, alias, trained_by="risk-model train-ccni")
    pipeline = mlflow.sklearn.load_model(f"models:/{tracking.registered_model}@{alias}")
    origin = {"model": version.tags.get("model", "?"), "variant": variant,
              "source": f"{tracking.registered_model} v{version.version} (@{alias})"}
    return pipeline, origin
