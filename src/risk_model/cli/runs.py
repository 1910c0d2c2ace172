"""Commands on training runs: `train` (temporal validation, MLflow logging, the champion's registration) and
`reproduce` (re-run one from its manifest). Each imports the library inside its body, as `cli.main`
explains; registered on the app in `cli.main`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from risk_model.cli.common import (
    ConfigOption,
    DataDirArgument,
    StoreOption,
    TrackingOption,
    console,
    frame_table,
    ingest_tables,
    load_experiment,
    spinner,
)


def _truth(data_dir: Path):
    """The simulator's answer key in a data folder (or beside the tables ingest wrote), if any."""
    from risk_model.truth import read_truth

    truth = read_truth(data_dir)
    if truth is not None:
        console.print(f"simulated data: the lists are judged against the truth ({truth.source})")
    return truth


def _print_comparison(result, experiment) -> None:
    """Each list's candidates on the regulator's labels: folds used to choose, then the held-out one."""
    from risk_model.train import REFERENCES

    for name in ("proactive", "triage"):
        metric = getattr(experiment.lists, name).selection_metric
        table = result.summary.reset_index()
        table = table.loc[(table["review_list"] == name) & ~table["model"].isin(REFERENCES)]
        shown = pd.DataFrame({
            "model": [m + (" *" if m == result.champions[name] else "") for m in table["model"]],
            f"{metric} (choosing)": table[f"{metric}_mean"], "sd": table[f"{metric}_std"],
            "AUC-PR (choosing)": table["auc_pr_mean"],
            "precision@k (held out)": table.get("holdout_precision_at_k"),
            "AUC-PR (held out)": table.get("holdout_auc_pr"),
        })
        console.print(frame_table(shown, f"{name} list, on the regulator's labels (k={result.capacities[name]}; "
                                         f"{len(result.folds) - 1} folds choose, {result.folds[-1].name} held out; "
                                         "* champion)"))


def _print_findings(table: pd.DataFrame, diffs: pd.DataFrame, result) -> None:
    """The champions and the references against the truth, on the held-out fold and over all folds."""
    for name in ("proactive", "triage"):
        mine = table.loc[table["review_list"] == name]
        keep = mine["model"].isin([result.champions[name], "true_risk", "full_information", "regulator", "random",
                                   "rule_baseline on substantiated", "rule_baseline on substantiated_given_inquiry"])
        mine = mine.loc[keep & mine["period"].isin(["holdout", "all"])]
        first = "not reached" if name == "proactive" else "real"
        shown = pd.DataFrame({
            "list": [m + (" *" if m == result.champions[name] else "") for m in mine["model"]],
            "period": mine["period"].map({"holdout": "held out", "all": "all folds"}),
            "k": mine["k"].round().astype(int),
            "misconduct found": [f"{h:.0f} = {p:.1%} ({lo:.1%}-{hi:.1%})" for h, p, lo, hi in
                                 zip(mine["hits"], mine["precision"], mine["precision_low"], mine["precision_high"])],
            first: (mine["hits_not_reached"] if name == "proactive" else mine["hits"]).round(1),
            "expected": mine["expected_found"].round(1),
            "days earlier": mine["lead_days_median"].round(0),
        })
        console.print(frame_table(shown, f"{name} list against the truth (95% Wilson intervals; * champion)",
                                  float_format="{:.1f}"))
        d = diffs.loc[diffs["review_list"] == name]
        if len(d):
            console.print(frame_table(pd.DataFrame({
                "champion minus": d["against"], "measure": d["measure"],
                "difference": d["difference"].round(0),
                "95% interval": [f"{lo:+.0f} to {hi:+.0f}" for lo, hi in zip(d["difference_low"], d["difference_high"])],
            }), f"{name}: paired bootstrap over every test fold", float_format="{:+.0f}"))


def train(
    data_dir: DataDirArgument,
    config: ConfigOption = None,
    tracking_uri: TrackingOption = None,
    store: StoreOption = Path("mlruns"),
    dataset: Annotated[str, typer.Option("--dataset", help="oscr: a data folder; ccni: a CCNI register export "
                                                           "or its folder (single snapshot, stratified folds).")] = "oscr",
) -> None:
    """Train and compare the model grid under temporal validation; log to MLflow; register the champion."""
    if dataset == "ccni":
        from risk_model.cli import ccni as cli_ccni

        return cli_ccni.train_ccni(data_dir, config=config, tracking_uri=tracking_uri, store=store)
    if dataset != "oscr":
        raise typer.BadParameter(f"--dataset must be oscr or ccni, got {dataset!r}")
    from risk_model.ingest.folder import require_folder
    from risk_model.ingest.tables import infer_extract_date
    from risk_model.selection import candidates
    from risk_model.splits import labelled_as_of_dates
    from risk_model.tracking.job import run_training_job
    from risk_model.tracking.store import use_tracking

    experiment = load_experiment(config, tracking_uri)
    require_folder(data_dir)
    use_tracking(experiment.tracking, store)  # a store that cannot be used fails now, not after training
    tables = ingest_tables(data_dir)
    truth = _truth(data_dir)
    extract_date = (pd.Timestamp(experiment.extract_date) if experiment.extract_date
                    else infer_extract_date(tables.register, tables.returns, tables.case_log))
    n_dates = len(labelled_as_of_dates(experiment.splits, experiment.label, extract_date,
                                       tables.register["registered_date"].min()))
    per_fold = len(candidates(experiment)) + (4 if truth is not None else 0)
    steps = n_dates + experiment.splits.n_folds * per_fold + 2
    bar = Progress(SpinnerColumn(), TextColumn("{task.description:<48}"), BarColumn(), MofNCompleteColumn(),
                   TimeElapsedColumn(), console=console, transient=True, disable=not console.is_terminal)
    with bar:
        task = bar.add_task("training", total=steps)
        job = run_training_job(tables, experiment, data_dir, truth, record=True, store_dir=store,
                               progress=lambda msg: bar.update(task, description=msg, advance=1))
    result, logged = job.result, job.logged
    if experiment.sampling.negative_rate < 1:
        from risk_model.tracking.runs import sample_statement

        console.print(f"[yellow]training panel: {sample_statement(result.panel_counts, experiment)}; fold "
                      "metrics are measured on that sample[/yellow]")
    for note in result.notes:
        console.print(f"[yellow]{note}[/yellow]")
    _print_comparison(result, experiment)
    if job.judged is not None:
        _print_findings(job.judged[1], job.judged[2], result)
    else:
        console.print("no answer key in the data folder: the lists are judged on the regulator's labels only, "
                      "which follow complaints")
    if job.explanation_sample:
        console.print(f"global explanations summarise {job.explanation_sample}")
    for name in ("proactive", "triage"):
        console.print(f"{name} list champion: [bold]{result.champions[name]}[/bold] "
                      f"({result.capacities[name]} a year)")
    console.print(f"registered as {logged.registered_model} version {logged.champion_version} "
                  f"(alias {experiment.tracking.champion_alias}); run {logged.parent_run_id}")


def reproduce(
    run_id: Annotated[str, typer.Argument(help="The training run to reproduce (its parent run ID).")],
    data_dir: Annotated[Path | None, typer.Option("--data", help="Data folder (default: the one recorded).")] = None,
    tracking_uri: TrackingOption = None,
    store: StoreOption = Path("mlruns"),
) -> None:
    """Re-run a training run from its manifest and report, check by check, what matches."""
    import json

    import mlflow

    from risk_model.config import ExperimentConfig
    from risk_model.ingest.parsing import InputFileError
    from risk_model.tracking.job import run_training_job
    from risk_model.tracking.manifest import compare
    from risk_model.tracking.store import TrackingStoreError, read_tracking, training_run

    uri = read_tracking(load_experiment(None, tracking_uri).tracking, store)
    training_run(run_id)
    try:
        recorded = mlflow.artifacts.load_dict(f"runs:/{run_id}/manifest.json")
    except Exception as exc:
        raise TrackingStoreError(f"run {run_id} in the tracking store {uri}: no manifest.json could be read "
                                 f"({' '.join(str(exc).split())[:200]})") from exc
    experiment = ExperimentConfig.model_validate(recorded["config"]["content"])
    data_dir = data_dir or Path(recorded["data"]["dir"])
    if not data_dir.is_dir():  # said in full: the folder was not given on this command line
        raise InputFileError(f"{data_dir}: data folder not found (the run's recorded folder; pass --data)")
    tables = ingest_tables(data_dir)
    truth = _truth(data_dir)
    with spinner() as progress:
        task = progress.add_task("re-training")
        job = run_training_job(tables, experiment, data_dir, truth, record=False,
                               progress=lambda msg: progress.update(task, description=f"re-training: {msg}"))
    checks = compare(recorded, job.manifest)
    table = Table(title=f"Reproduction of run {run_id}")
    for column in ("check", "result", "detail"):
        table.add_column(column)
    for check in checks:
        verdict = "match" if check.ok else ("DIFFERS" if check.blocking else "differs (informational)")
        table.add_row(check.name, verdict, check.detail)
    console.print(table)
    (Path("out") / "reproductions").mkdir(parents=True, exist_ok=True)
    report = Path("out") / "reproductions" / f"{run_id}.json"
    report.write_text(json.dumps([check.__dict__ for check in checks], indent=2))
    failed = [c.name for c in checks if c.blocking and not c.ok]
    if failed:
        console.print(f"[red]not reproduced: {', '.join(failed)} differ[/red] (report: {report})")
        raise typer.Exit(code=1)
    console.print(f"[green]reproduced: data, config, code, packages and the ranked list match[/green] "
                  f"(report: {report})")
