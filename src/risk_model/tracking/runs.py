"""MLflow at the edge: where runs go, what each run records, and which model is champion.

A training job is one parent run (config, data fingerprint, ingest accounts, comparison table
and plots) with one child run per model (its fold metrics and its fitted Pipeline). The best
model by the configured metric is registered and given the champion alias.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import tempfile
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from mlflow.models import infer_signature
from mlflow.tracking import MlflowClient

from risk_model import findings
from risk_model.config import ExperimentConfig
from risk_model.evaluate import calibration_table, pooled_precision_curve
from risk_model.export import write_csv
from risk_model.lists.explain import explain, explainable, global_importance
from risk_model.lists.membership import REVIEW_LISTS, review_list
from risk_model.models import model_inputs
from risk_model.selection import candidates, champion_description
from risk_model.tracking import plots
from risk_model.tracking.model_card import RunRecords, markdown_to_html, render_markdown
from risk_model.tracking.store import TRUSTED_TYPES
from risk_model.train import REFERENCES, TrainingResult

log = logging.getLogger(__name__)


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


def _log_global_explanation(model, features: pd.DataFrame, tmp: Path, artifact_path: str, top: int = 6) -> None:
    """Mean |contribution| per factor, a beeswarm summary and dependence plots of the top factors."""
    factor_values = explain(model, features).by_factor()
    importance = global_importance(factor_values)
    _log_frame(importance, "global_importance.csv", tmp, artifact_path=artifact_path)
    leading = importance["factor"].head(15).tolist()
    plots.beeswarm_plot(factor_values, features, leading, tmp / "summary_beeswarm.png")
    mlflow.log_artifact(str(tmp / "summary_beeswarm.png"), artifact_path=artifact_path)
    for factor in leading[:top]:
        path = tmp / f"dependence_{factor}.png"
        plots.dependence_plot(factor_values, features, factor, path)
        mlflow.log_artifact(str(path), artifact_path=artifact_path)


def _log_frame(frame: pd.DataFrame, name: str, tmp: Path, artifact_path: str | None = None) -> None:
    path = tmp / name
    write_csv(frame, path)
    mlflow.log_artifact(str(path), artifact_path=artifact_path)


def sample_statement(panel_counts: pd.DataFrame, config: ExperimentConfig) -> str:
    """What the training panel holds: every charity-year, or a stated sample of the proactive negatives."""
    fits = (f"large fits use {config.sampling.fit_negative_rate:.0%} of their negatives (seed {config.seed}), "
            "weighted back")
    dropped = int(panel_counts["negatives_sampled_out"].sum())
    if not dropped:
        return f"every charity-year on the register; {fits}"
    total = int(panel_counts["population"].sum() - panel_counts["excluded_no_profile"].sum())
    return (f"proactive negatives subsampled at rate {config.sampling.negative_rate:g} (seed {config.seed}): "
            f"{total - dropped:,} of {total:,} charity-years kept, every one with a case kept; {fits}")


def run_findings(result: TrainingResult, config: ExperimentConfig) -> tuple[pd.DataFrame, pd.DataFrame,
                                                                              pd.DataFrame, pd.DataFrame] | None:
    """On a simulated world: the findings per fold, pooled, the paired differences and the targets."""
    if result.truth_source is None:
        return None
    per_fold = findings.fold_findings(result.predictions, result.capacities, result.folds[-1].name,
                                      findings.target_columns(config))
    table = findings.pooled(per_fold, result.predictions, result.capacities)
    diffs = findings.differences(result.predictions, result.champions, result.capacities,
                                 config.evaluation.n_boot, config.seed)
    by_list = {name: {c.spec.name: c.name for c in candidates(config) if c.review_list == name}
               for name in REVIEW_LISTS}
    goals = findings.targets(table, diffs, result.champions, config.evaluation.baseline_model, by_list)
    return per_fold, findings.references_first(table), diffs, goals


# What a logged model needs to load (and the project itself, for its own estimator classes).
MODEL_PACKAGES: tuple[str, ...] = ("scikit-learn", "lightgbm", "pandas", "numpy", "scipy", "skops", "pyarrow")


def model_requirements() -> list[str]:
    """Pinned requirements of a logged model, from the installed versions (stated, not inferred by
    MLflow in a subprocess, which costs seconds per model)."""
    return [f"{name}=={version(name)}" for name in MODEL_PACKAGES]


def _log_plots(result: TrainingResult, config: ExperimentConfig, tmp: Path) -> None:
    targets = findings.target_columns(config)
    for name in REVIEW_LISTS:
        rows = result.predictions.loc[result.predictions["review_list"] == name]
        k = result.capacities[name]
        ks = np.unique(np.linspace(1, max(k * 4, 10), 80).astype(int))
        candidates_only = rows.loc[~rows["model"].isin(REFERENCES)]
        panels = {f"{name}: on the regulator's labels ({targets[name].removeprefix('label_')})":
                  pooled_precision_curve(candidates_only, ks, outcome=targets[name])}
        if result.truth_source is not None:
            panels[f"{name}: on the truth (real misconduct)"] = pooled_precision_curve(rows, ks, outcome="misconduct")
        plots.precision_at_k_plot(panels, k, tmp / f"precision_at_k_{name}.png")
        mlflow.log_artifact(str(tmp / f"precision_at_k_{name}.png"), artifact_path="plots")
        tables = {model: calibration_table(np.nan_to_num(g[targets[name]].to_numpy(dtype=float)), g["score"])
                  for model, g in candidates_only.groupby("model", sort=False)}
        plots.calibration_plot(tables, tmp / f"calibration_{name}.png")
        mlflow.log_artifact(str(tmp / f"calibration_{name}.png"), artifact_path="plots")


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
    judged: tuple | None = None,
) -> LoggedTraining:
    """Log a training job to the active experiment and register its review lists: the parent run's
    records, a child run per candidate, the registered artefact, its registry entry and model card.
    `judged` is `run_findings`' answer when the caller has it already."""
    judged = judged if judged is not None else run_findings(result, config)
    with mlflow.start_run(run_name="train review lists") as parent, tempfile.TemporaryDirectory() as td:
        tmp = Path(td)
        _log_records(result, config, judged, data_fingerprint, ingest_accounts, rejections, data_dir, manifest,
                     ranking, tmp)
        model_run_ids = _log_candidates(result, config)
        model_run_ids["review lists"], model_uri = _log_review_lists(result, example_features, tmp)
        version = _register(result, config, model_uri, model_run_ids["review lists"], parent.info.run_id)
        _log_model_card(result, config, judged, manifest, parent.info.run_id, version, tmp)
    return LoggedTraining(parent.info.run_id, model_run_ids, config.tracking.registered_model, version)


def _log_records(result: TrainingResult, config: ExperimentConfig, judged, data_fingerprint: dict[str, str],
                 ingest_accounts: pd.DataFrame, rejections: pd.DataFrame, data_dir: str, manifest: dict | None,
                 ranking: pd.DataFrame | None, tmp: Path) -> None:
    """The parent run: tags, parameters, configuration, data fingerprint, manifest, tables and plots."""
    mlflow.set_tags({
        "job": "train", "champion_model": champion_description(result.champions),
        **{f"champion.{name}": result.champions[name] for name in REVIEW_LISTS},
        "data_dir": data_dir, "extract_date": str(result.extract_date.date()),
        "training_sample": sample_statement(result.panel_counts, config),
        "truth": result.truth_source or "none: judged on the regulator's labels only",
        **({"training_notes": "; ".join(result.notes)} if result.notes else {}),
    })
    mlflow.log_params(_flat_params(config) | {"config_hash": config.config_hash(),
                                               "models": ",".join(s.name for s in config.models)})
    (tmp / "experiment.json").write_text(json.dumps(config.model_dump(mode="json"), indent=2))
    mlflow.log_artifact(str(tmp / "experiment.json"))
    mlflow.log_dict(data_fingerprint, "data_fingerprint.json")
    mlflow.log_dict({"champions": result.champions, "capacities": result.capacities,
                     "targets": findings.target_columns(config),
                     "calibration": {k: list(v) for k, v in result.final_model.calibration.items()},
                     "holdout_fold": result.folds[-1].name}, "review_lists.json")
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
    if judged is not None:
        for frame, name in zip(judged, ("findings_by_fold.csv", "findings.csv", "differences.csv", "targets.csv")):
            _log_frame(frame, name, tmp, artifact_path="truth")
        mlflow.log_metrics(_finding_metrics(judged[1], result.champions))
    _log_plots(result, config, tmp)
    for (name, model), row in result.summary.iterrows():
        mlflow.log_metrics({f"{name}.{model}.{k}".replace(" ", "_"): float(v) for k, v in row.items()
                            if isinstance(v, (int, float, np.floating)) and np.isfinite(v)})


def _log_candidates(result: TrainingResult, config: ExperimentConfig) -> dict[str, str]:
    """A child run per candidate with its parameters and fold metrics; their run IDs by name."""
    run_ids = {}
    for candidate in candidates(config):
        with mlflow.start_run(run_name=f"{candidate.review_list}: {candidate.name}", nested=True) as child:
            mlflow.set_tags({"job": "train", "review_list": candidate.review_list, "candidate": candidate.name,
                             "kind": candidate.spec.kind, "label.definition": candidate.label,
                             "champion": str(result.champions[candidate.review_list] == candidate.name).lower()})
            mlflow.log_params({f"model.{k}": str(v) for k, v in candidate.spec.params.estimator_kwargs().items()}
                              | {"seed": config.seed})
            mine = result.fold_metrics.loc[(result.fold_metrics["review_list"] == candidate.review_list)
                                           & (result.fold_metrics["model"] == candidate.name)]
            for _, fold in mine.iterrows():
                step = int(pd.Timestamp(fold["test_as_of"]).year)
                logged = ("precision_at_k", "recall_at_k", "auc_pr", "auc_roc", "brier", "brier_skill")
                mlflow.log_metrics({k: float(fold[k]) for k in logged if k in fold and np.isfinite(fold[k])},
                                   step=step)
            run_ids[f"{candidate.review_list}: {candidate.name}"] = child.info.run_id
    return run_ids


def _log_review_lists(result: TrainingResult, example_features: pd.DataFrame, tmp: Path) -> tuple[str, str]:
    """The one artefact both lists are scored with, logged with its signature, requirements and each
    list's global explanation; (its run ID, its model URI)."""
    model = result.final_model
    example = model_inputs(example_features).head(5)
    with mlflow.start_run(run_name="review lists (registered)", nested=True) as child:
        mlflow.set_tags({"job": "train", "model": champion_description(result.champions), "kind": "review_lists",
                         "champion": "true"})
        signature = infer_signature(example, model.predict_proba(example)[:, 1])
        info = mlflow.sklearn.log_model(
            model, name="model", signature=signature, input_example=example,
            pyfunc_predict_fn="predict_proba", serialization_format="skops",
            skops_trusted_types=TRUSTED_TYPES, pip_requirements=model_requirements(),
        )
        on = review_list(example_features).to_numpy()
        for name in REVIEW_LISTS:
            rows = example_features.loc[on == name]
            if explainable(model.pipelines[name]) and len(rows):
                _log_global_explanation(model.pipelines[name], rows, tmp, artifact_path=f"explanations/{name}")
    return child.info.run_id, info.model_uri


def _register(result: TrainingResult, config: ExperimentConfig, model_uri: str, model_run_id: str,
              parent_run_id: str) -> str:
    """Register the artefact, give it the champion alias and tag it with its lists' figures; its version."""
    client = MlflowClient()
    # register_model prints its progress to stderr itself, outside logging; it goes to the debug log instead.
    printed = io.StringIO()
    with contextlib.redirect_stderr(printed):
        version = mlflow.register_model(model_uri, config.tracking.registered_model, tags={"run_id": model_run_id})
    for line in printed.getvalue().splitlines():
        log.debug("mlflow: %s", line)
    client.set_registered_model_alias(config.tracking.registered_model, config.tracking.champion_alias,
                                      version.version)
    tags = {"model": champion_description(result.champions), "parent_run_id": parent_run_id,
            "capacities": json.dumps(result.capacities)}
    for (name, model_name), row in result.summary.iterrows():
        if result.champions[name] == model_name:
            for key in ("precision_at_k_mean", "auc_pr_mean", "holdout_precision_at_k", "holdout_auc_pr"):
                if key in row and np.isfinite(row[key]):
                    tags[f"{name}.{key}"] = f"{row[key]:.6f}"
    for key, value in tags.items():
        client.set_model_version_tag(config.tracking.registered_model, version.version, key, value)
    mlflow.set_tag("registered_version", version.version)
    return str(version.version)


def _log_model_card(result: TrainingResult, config: ExperimentConfig, judged, manifest: dict | None,
                    parent_run_id: str, version: str, tmp: Path) -> None:
    """The model card, as Markdown and HTML in the run and as the registered version's description."""
    name = config.tracking.registered_model
    card = render_markdown(model_name=name, version=version, run_id=parent_run_id,
                           records=_records(result, config, judged), manifest=manifest)
    (tmp / "model_card.md").write_text(card)
    (tmp / "model_card.html").write_text(markdown_to_html(card, f"{name} v{version}"))
    mlflow.log_artifact(str(tmp / "model_card.md"))
    mlflow.log_artifact(str(tmp / "model_card.html"))
    MlflowClient().update_model_version(name, version, description=card.split("## Intended use")[0].strip())


def _finding_metrics(table: pd.DataFrame, champions: dict[str, str]) -> dict[str, float]:
    """The champions' and references' truth figures, as run metrics (held-out fold and all folds)."""
    out = {}
    for _, row in table.iterrows():
        if row["model"] != champions[row["review_list"]] and row["model"] not in REFERENCES:
            continue
        who = "champion" if row["model"] == champions[row["review_list"]] else row["model"]
        for key in ("hits", "precision", "precision_low", "precision_high", "hits_not_reached", "expected_found",
                    "lead_days_median"):
            value = float(row[key])
            if np.isfinite(value):
                out[f"truth.{row['review_list']}.{who}.{row['period']}.{key}"] = value
    return out


def _records(result: TrainingResult, config: ExperimentConfig, judged) -> RunRecords:
    return RunRecords(
        config=config, champions=result.champions, capacities=result.capacities,
        calibration=result.final_model.calibration, fold_metrics=result.fold_metrics, summary=result.summary,
        predictions=result.predictions, panel_counts=result.panel_counts, extract_date=result.extract_date,
        findings=judged[1] if judged is not None else None, differences=judged[2] if judged is not None else None,
        truth_source=result.truth_source)
