"""Commands for real regulator extracts: `train-ccni`, `score-ccni` and `exits`.

Plain functions with Typer annotations, registered on the main app in `cli.main`. Files, MLflow
and the terminal are touched here; everything in between is a pure function of frames.

Commands import the library inside their bodies on purpose, as `cli.main` explains.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.table import Table

from risk_model.cli.common import StoreOption, TrackingOption, console

ConfigOption = Annotated[Path | None, typer.Option("--config", "-c", help="Snapshot benchmark YAML.")]
ExtractDateOption = Annotated[str | None, typer.Option(
    "--extract-date", help="Date of the extract (YYYY-MM-DD); default: from the file name.")]


def _table(frame: pd.DataFrame, title: str, float_format: str = "{:.3f}") -> Table:
    table = Table(title=title)
    for column in frame.columns:
        table.add_column(str(column))
    for row in frame.itertuples(index=False):
        table.add_row(*["" if pd.isna(v) else float_format.format(v) if isinstance(v, float) else str(v) for v in row])
    return table


def _read(dataset: str, path: Path, extract_date: str | None):
    from risk_model.ingest.adapters import read_extract

    try:
        pd.Timestamp(extract_date)
    except ValueError as exc:
        raise typer.BadParameter(f"{extract_date!r} is not a date (use YYYY-MM-DD)",
                                 param_hint="--extract-date") from exc
    extract = read_extract(dataset, path, extract_date=extract_date)
    console.print(_table(pd.DataFrame([extract.account]), f"Ingest account: {extract.account['file']}"))
    if "latest Date registered" in extract.account["notes"]:
        console.print(f"[yellow]the extract date was not in the file name; taken as {extract.extract_date.date()}. "
                      "Ages and year ends are measured from it: pass --extract-date if it is wrong.[/yellow]")
    if len(extract.rejections):
        console.print(f"[yellow]{extract.account['rejected']} rows rejected; each reason is in the rejection "
                      "report (logged with a training run, written beside a ranked list)[/yellow]")
    return extract


def _tracking(config, tracking_uri: str | None):
    if not tracking_uri:
        return config.tracking
    return config.tracking.model_copy(update={"tracking_uri": tracking_uri})


def train_ccni(
    path: Annotated[Path, typer.Argument(help="CCNI register export (CSV), or a folder holding one.")],
    config: ConfigOption = None,
    extract_date: ExtractDateOption = None,
    tracking_uri: TrackingOption = None,
    store: StoreOption = Path("mlruns"),
) -> None:
    """Cross-validate models on a CCNI export against three baselines; log to MLflow; register the champion."""
    from risk_model.ccni.snapshot import build_snapshot_features
    from risk_model.ccni.tracking import log_snapshot_run
    from risk_model.ccni.validation import (
        VALIDATION_NOTE,
        beats_every_baseline,
        comparison_summary,
        load_snapshot_config,
        run_snapshot_benchmark,
    )
    from risk_model.ingest.adapters import locate
    from risk_model.tracking.store import use_tracking

    settings = load_snapshot_config(config)
    located = locate(settings.dataset, path)  # a missing file, then a store that cannot be used, fail now
    use_tracking(_tracking(settings, tracking_uri), store)
    configured = str(settings.extract_date) if settings.extract_date else None
    extract = _read(settings.dataset, path, extract_date or configured)
    console.print(_table(extract.label_counts(), "Regulator's status and the label"))
    features = build_snapshot_features(extract.snapshot, extract.extract_date)
    with console.status("cross-validating") as status:
        result = run_snapshot_benchmark(features, settings, progress=lambda msg: status.update(msg))
    fingerprint = {f"file:{located.name}": hashlib.sha256(located.read_bytes()).hexdigest()}
    logged = log_snapshot_run(result, settings, extract, features, fingerprint, str(path))
    console.print(_table(comparison_summary(result.comparison, settings.k_percent),
                         f"{settings.n_folds} stratified folds, {result.labelled:,} charities, "
                         f"{result.positives:,} in default or late"))
    console.print(f"[bold]Validation:[/bold] {VALIDATION_NOTE}.")
    for variant, model in result.champions.items():
        verdict = "beats" if beats_every_baseline(result.comparison, model, variant) else "does NOT beat"
        console.print(f"{variant.replace('_', ' ')}: {model} {verdict} every baseline on precision at "
                      f"{settings.k_percent:g}%; registered as {logged.registered_model} v{logged.versions[variant]}")
    console.print(f"run {logged.run_id}")


def score_ccni(
    file: Annotated[Path, typer.Argument(help="CCNI-format register export to score.")],
    run: Annotated[str | None, typer.Option("--run", help="Training run id; default: the registered champion.")] = None,
    without_year_end: Annotated[bool, typer.Option(
        "--without-year-end", help="Use the model trained without the year-end feature.")] = False,
    reasons: Annotated[int, typer.Option(min=0, help="Reasons up and down per charity.")] = 3,
    out: Annotated[Path, typer.Option(help="Folder for the ranked list.")] = Path("out/rankings"),
    extract_date: ExtractDateOption = None,
    config: ConfigOption = None,
    tracking_uri: TrackingOption = None,
    store: StoreOption = Path("mlruns"),
    show: Annotated[int, typer.Option(help="Rows to print.")] = 15,
) -> None:
    """Rank the charities of a CCNI-format file with a trained snapshot model, with reasons."""
    from risk_model.ccni.reasons import score_extract
    from risk_model.ccni.tracking import load_snapshot_model
    from risk_model.ccni.validation import load_snapshot_config
    from risk_model.export import write_csv
    from risk_model.tracking.store import read_tracking

    settings = load_snapshot_config(config)
    tracking = _tracking(settings, tracking_uri)
    read_tracking(tracking, store, trained_by="risk-model train-ccni")
    variant = "without_year_end" if without_year_end else "with_year_end"
    # The model first: a store without it is an error naming it, before the file is read.
    pipeline, origin = load_snapshot_model(tracking, variant, run)
    extract = _read(settings.dataset, file, extract_date)
    scored = score_extract(pipeline, extract, reasons, model=origin["model"], variant=variant)
    out.mkdir(parents=True, exist_ok=True)
    stem = f"{extract.dataset}_ranking_{extract.extract_date:%Y-%m-%d}"
    for frame, suffix in ((scored.ranked, ""), (scored.reasons, "_reasons"), (scored.excluded, "_excluded"),
                          (extract.rejections, "_rejections")):
        write_csv(frame, out / f"{stem}{suffix}.csv")
    shown = scored.ranked.head(show)[["rank", "charity_number", "charity_name", "score", "risk_band", "status"]]
    if reasons:
        shown = shown.assign(top_reason=scored.ranked.head(show)["reasons_up"].fillna("").str.split("; ").str[0])
    title = (f"Top {show} of {len(scored.ranked):,} ({origin['model']}, {variant.replace('_', ' ')}, "
             f"{origin['source']})")
    console.print(_table(shown, title, float_format="{:.4f}"))
    console.print(f"wrote {out / (stem + '.csv')}, its reasons and {len(scored.excluded)} charities left off "
                  f"(removed or recently registered) in {stem}_excluded.csv")


def _with_income(path: Path, register: pd.DataFrame) -> pd.Series:
    """'Most recent year income' of each accepted row, read from the raw file (NaN when blank)."""
    from risk_model.ingest.parsing import parse_numbers, read_raw_csv

    raw, _ = read_raw_csv(path)
    if "Most recent year income" not in raw.columns:
        return pd.Series(float("nan"), index=register.index)
    income, _ = parse_numbers(raw["Most recent year income"])
    return pd.Series(income.to_numpy()[register["source_row"].to_numpy() - 1], index=register.index)


def exits(
    path: Annotated[Path, typer.Argument(help="OSCR former-charities download (zip or CSV).")],
    register: Annotated[Path | None, typer.Option(
        "--register", help="OSCR's current register download, to turn counts into exit rates.")] = None,
    out: Annotated[Path, typer.Option(help="Folder for the report.")] = Path("out/exits"),
    show: Annotated[int, typer.Option(help="Groups to print per dimension.")] = 12,
) -> None:
    """Base rates of exit (voluntary, not misconduct) by constitutional form, area and income band."""
    from risk_model.describe.exits import exit_base_rates
    from risk_model.export import write_csv
    from risk_model.ingest.folder import read_register_file

    tables, incomes, accounts = [], [], []
    for source in [path] + ([register] if register else []):
        table, _, account = read_register_file(source)
        tables.append(table)
        incomes.append(_with_income(source, table))
        accounts.append(account)
    combined = pd.concat(tables, ignore_index=True)
    report = exit_base_rates(combined, pd.concat(incomes, ignore_index=True))
    console.print(_table(pd.DataFrame(accounts), "Ingest accounts"))
    console.print(f"[bold yellow]{report.header}[/bold yellow]")
    for note in report.notes:
        console.print(f"note: {note}")
    shares = [c for c in report.table.columns if c.startswith("share_")]
    for dimension, group in report.table.groupby("dimension", sort=False):
        shown = group.head(show).drop(columns="dimension").rename(
            columns={c: c.removeprefix("share_") for c in shares})
        if shown["exit_rate"].isna().all():
            shown = shown.drop(columns="exit_rate")
        title = "All exits" if dimension == "all" else f"Exits by {dimension}"
        console.print(_table(shown, title + (f" (first {show} of {len(group)})" if len(group) > show else "")))
    out.mkdir(parents=True, exist_ok=True)
    write_csv(report.table, out / "exit_base_rates.csv")
    (out / "exit_base_rates_notes.txt").write_text("\n".join([report.header, *report.notes]) + "\n")
    console.print(f"wrote {out / 'exit_base_rates.csv'} and exit_base_rates_notes.txt")
