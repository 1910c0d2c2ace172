"""`risk-model audit RUN_ID [--list proactive|triage] [--against RUN_ID]`: is the list fair, and is it really better?

Loads a training run's out-of-fold predictions from MLflow and audits one list's champion
(`audit_report.build_audit`): bias by group, outcome rate by score band, labelled coverage and,
on simulated data (the truth of each label window is in the predictions), the random-quota
check and the label-bias check. `--against` adds how much another run's champion changes the
list at one as-of date. Every table is printed, and logged with its plots to a child run named
"audit" under the audited run. Registered in `cli.main` with `app.command()(audit)`.

Commands import the library inside their bodies on purpose, as `cli.main` explains.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer

from risk_model.cli.common import ConfigOption, StoreOption, TrackingOption, console, load_experiment
from risk_model.config import DEFAULT_SEED, ExperimentConfig


@dataclass(frozen=True)
class TrainingRun:
    """What the audit needs from a parent training run."""

    run_id: str
    experiment_id: str
    champion: str  # what the registered version holds, both lists
    champions: dict[str, str]  # list -> champion candidate
    capacities: dict[str, int]
    targets: dict[str, str]  # list -> its target label's prediction column
    config: ExperimentConfig
    data_dir: str | None
    extract_date: str | None


def load_training_run(run_id: str) -> TrainingRun:
    """The parent training run's champions, configuration and data folder, from MLflow."""
    import mlflow

    from risk_model.findings import target_columns
    from risk_model.tracking.store import TrackingStoreError, training_run

    run = training_run(run_id)
    tags = run.data.tags
    if "champion_model" not in tags:
        raise TrackingStoreError(f"run {run_id} in the tracking store {mlflow.get_tracking_uri()} is not a training "
                                 "run (no champion_model tag): pass the parent run's id")
    config_path = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="experiment.json")
    config = ExperimentConfig.model_validate(json.loads(Path(config_path).read_text()))
    lists = mlflow.artifacts.load_dict(f"runs:/{run_id}/review_lists.json")
    return TrainingRun(run_id, run.info.experiment_id, tags["champion_model"], lists["champions"],
                       lists["capacities"], lists.get("targets") or target_columns(config), config,
                       tags.get("data_dir"), tags.get("extract_date"))


def load_predictions(run_id: str) -> pd.DataFrame:
    """The run's out-of-fold predictions (`predictions.parquet`)."""
    import mlflow

    return pd.read_parquet(mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="predictions.parquet"))


def load_model(run: TrainingRun):
    """The run's registered ReviewLists, from its model child run."""
    import mlflow
    from mlflow.tracking import MlflowClient

    children = MlflowClient().search_runs(
        [run.experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{run.run_id}' and tags.kind = 'review_lists'",
    )
    if not children:
        from risk_model.tracking.store import TrackingStoreError

        raise TrackingStoreError(f"run {run.run_id} in the tracking store {mlflow.get_tracking_uri()} has no model "
                                 "run for its review lists")
    return mlflow.sklearn.load_model(f"runs:/{children[0].info.run_id}/model")


def stability_between(before: TrainingRun, after: TrainingRun, tables, as_of: pd.Timestamp, review_list: str):
    """Each run's list at `as_of` on the same data, compared; movers and their factors."""
    from risk_model.audit.stability import compare_lists, mover_factors
    from risk_model.lists.rank import ranked_lists, review_list_of

    capacity_k = before.capacities[review_list]
    lists, pipelines = {}, {}
    for side, run in (("before", before), ("after", after)):
        pipelines[side] = load_model(run)
        made = ranked_lists(
            pipelines[side], tables.register, tables.returns, tables.case_log, as_of, before.capacities,
            model_name=run.champion, model_version=run.run_id[:8])
        features = made.features
        lists[side] = review_list_of(made.ranked, review_list)
    figures, movers = compare_lists(lists["before"], lists["after"], capacity_k)
    factors = mover_factors(pipelines["before"], pipelines["after"], features, movers)
    return figures, movers, factors


def _log_frames(frames: dict[str, pd.DataFrame], folder: Path) -> None:
    import mlflow

    from risk_model.export import write_csv

    for name, frame in frames.items():
        if frame is not None:
            write_csv(frame, folder / f"{name}.csv")
            mlflow.log_artifact(str(folder / f"{name}.csv"), artifact_path="audit")


def log_audit(run: TrainingRun, report, settings, stability=None, against: str | None = None) -> str:
    """Log the audit's tables, plots and headline figures to a child run "audit"; returns its id."""
    import mlflow
    from mlflow.tracking import MlflowClient

    from risk_model.audit import plots as audit_plots
    from risk_model.features import GROUP_ATTRIBUTES

    # No `model` tag: a training run's model child runs are found by it, and this is not one.
    tags = {"job": "audit", "audited_run": run.run_id, "audited_model": report.model,
            "audited_list": report.review_list}
    if against:
        tags["against_run"] = against
    with mlflow.start_run(experiment_id=run.experiment_id, run_name="audit", parent_run_id=run.run_id,
                          tags=tags) as active, tempfile.TemporaryDirectory() as td:
        folder = Path(td)
        mlflow.log_params({"audit." + k: str(v) for k, v in settings.model_dump().items()}
                          | {"audit.capacity_k": report.capacity_k, "audit.folds": ",".join(report.folds)})
        _log_frames({"bias_audit": report.bias, "score_deciles": report.deciles, "risk_bands": report.risk_bands,
                     "labelled_coverage": report.coverage, "quota_check": report.quota,
                     "label_bias": report.label_bias}, folder)
        mlflow.log_metrics({f"audit.{k}": v for k, v in report.summary.items() if pd.notna(v)})
        for attribute in GROUP_ATTRIBUTES:
            path = folder / f"group_ratios_{attribute}.png"
            audit_plots.group_ratio_plot(report.bias, attribute, path, settings.ratio_bounds)
            mlflow.log_artifact(str(path), artifact_path="audit/plots")
            if report.label_bias is not None:
                path = folder / f"label_bias_{attribute}.png"
                audit_plots.label_bias_plot(report.label_bias, attribute, path, settings.ratio_bounds)
                mlflow.log_artifact(str(path), artifact_path="audit/plots")
        audit_plots.band_rate_plot(report.deciles, report.risk_bands, folder / "outcome_rate_by_band.png")
        mlflow.log_artifact(str(folder / "outcome_rate_by_band.png"), artifact_path="audit/plots")
        if stability is not None:
            figures, movers, factors = stability
            mlflow.log_metrics({f"stability.{k}": v for k, v in figures.items() if pd.notna(v)})
            mlflow.log_dict(figures, "audit/stability.json")
            _log_frames({"stability_movers": movers, "stability_mover_factors": factors}, folder)
    MlflowClient().set_tag(run.run_id, "audit_run_id", active.info.run_id)
    from risk_model.tracking.store import refresh_model_card

    refresh_model_card(run.run_id, report.bias)
    return active.info.run_id


def audit(
    run_id: Annotated[str, typer.Argument(help="Parent training run to audit (its id).")],
    review_list: Annotated[str, typer.Option("--list", help="The list whose champion to audit: proactive or "
                                                            "triage.")] = "proactive",
    against: Annotated[str | None, typer.Option(
        help="Another training run: how much its champion changes the list.")] = None,
    data_dir: Annotated[Path | None, typer.Option(
        "--data", help="Data folder (default: the run's data_dir tag).")] = None,
    as_of: Annotated[str | None, typer.Option(help="As-of date of the lists compared by --against "
                                                   "(default: the run's extract date).")] = None,
    min_group_size: Annotated[int, typer.Option(min=1, help="Charity-years below which a group is too small.")] = 250,
    n_boot: Annotated[int, typer.Option(min=10, help="Bootstrap resamples.")] = 200,
    quota: Annotated[float, typer.Option(min=0.0, max=1.0, help="Random review quota for the simulated check.")] = 0.1,
    seed: Annotated[int, typer.Option(help="Seed of the bootstrap and of the quota draw.")] = DEFAULT_SEED,
    flagged_only: Annotated[bool, typer.Option(
        help="Print only groups with a flag (the logged tables keep all).")] = False,
    log: Annotated[bool, typer.Option(help="Log the audit to MLflow as a child run of RUN_ID.")] = True,
    config: ConfigOption = None,
    tracking_uri: TrackingOption = None,
    store: StoreOption = Path("mlruns"),
) -> None:
    """Audit a training run's lists: bias by group, score bands, selective labels, stability."""
    from risk_model.audit.fairness import AuditSettings
    from risk_model.audit.report import build_audit
    from risk_model.audit.tables import print_report, print_stability
    from risk_model.ingest.folder import read_tables
    from risk_model.lists.membership import REVIEW_LISTS
    from risk_model.tracking.store import read_tracking

    if review_list not in REVIEW_LISTS:
        raise typer.BadParameter(f"--list must be one of {', '.join(REVIEW_LISTS)}, got {review_list!r}")
    read_tracking(load_experiment(config, tracking_uri).tracking, store)
    run = load_training_run(run_id)
    other = load_training_run(against) if against else None
    settings = AuditSettings(min_group_size=min_group_size, n_boot=n_boot, seed=seed)
    with console.status("auditing"):
        report = build_audit(load_predictions(run_id), review_list, run.champions[review_list],
                             run.capacities[review_list], run.targets[review_list], settings, quota=quota)
    print_report(console, run, report, settings, flagged_only)
    stability = None
    if other is not None:
        folder = data_dir or (Path(run.data_dir) if run.data_dir else None)
        if folder is None or not folder.is_dir():
            console.print(f"[yellow]--against needs the data folder to rescore the register; {folder} is not "
                          "there (pass --data): skipped[/yellow]")
        else:
            tables = read_tables(folder)
            date = pd.Timestamp(as_of or run.extract_date or tables.case_log["date"].max()).normalize()
            with console.status(f"rescoring the register as of {date.date()} with both champions"):
                stability = stability_between(run, other, tables, date, review_list)
            print_stability(console, run, other, date, *stability)
    if log:
        audit_run = log_audit(run, report, settings, stability, against)
        console.print(f"logged to MLflow: run {audit_run} (\"audit\", under {run.run_id})")


if __name__ == "__main__":
    typer.run(audit)
