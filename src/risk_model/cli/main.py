"""Command line: `risk-model simulate | ingest | train | rank`.

The edge of the pipeline: files, MLflow and the terminal are touched here and in `tracking`,
and every stage in between is a pure function of frames and a typed config.

Each command imports the library inside its body, on purpose: the library brings in MLflow,
LightGBM and shap (about 4 s of imports on a 2-core machine, against 1 s for this module), which
`--help`, `simulate` and a mistyped option must not wait for. The same holds in `cli.audit` and
`cli.ccni`. Nothing here computes: a command parses its options, calls library functions and
prints.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from risk_model.config import DEFAULT_SEED

app = typer.Typer(help="Risk scoring for charity regulators: simulate, ingest, train and rank.",
                  no_args_is_help=True, add_completion=False)
console = Console()

DataDirArgument = Annotated[
    Path, typer.Argument(help="Folder of regulator files, or the tables `risk-model ingest` wrote.")]
ConfigOption = Annotated[Path | None, typer.Option("--config", "-c", help="Experiment YAML (default: packaged).")]
TrackingOption = Annotated[str | None, typer.Option("--tracking-uri", help="MLflow tracking URI (overrides config).")]
StoreOption = Annotated[Path, typer.Option("--store", help="Local MLflow store folder when no URI is set.")]


def _progress() -> Progress:
    return Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                    console=console, transient=True)


def _parse_years(years: str) -> tuple[int, int]:
    match = re.fullmatch(r"\s*(\d{4})\s*-\s*(\d{4})\s*", years)
    if not match or int(match[1]) > int(match[2]):
        raise typer.BadParameter(f"expected FIRST-LAST, e.g. 2008-2025, got {years!r}")
    return int(match[1]), int(match[2])


def _table(frame: pd.DataFrame, title: str, float_format: str = "{:.3f}") -> Table:
    table = Table(title=title)
    for column in frame.columns:
        table.add_column(str(column))
    for _, row in frame.iterrows():
        table.add_row(*[float_format.format(v) if isinstance(v, float) else str(v) for v in row])
    return table


def _load_config(config: Path | None, tracking_uri: str | None):
    from risk_model.config import load_config

    experiment = load_config(config)
    if tracking_uri:
        experiment = experiment.model_copy(
            update={"tracking": experiment.tracking.model_copy(update={"tracking_uri": tracking_uri})})
    return experiment


def _ingest(data_dir: Path):
    """The folder's canonical tables: read back if `risk-model ingest` wrote them, else ingested now."""
    from risk_model.ingest.folder import ingest_folder, is_ingested_folder, read_ingested

    ingested = is_ingested_folder(data_dir)
    with _progress() as progress:
        progress.add_task(f"{'reading the ingested tables in' if ingested else 'ingesting'} {data_dir}")
        result = read_ingested(data_dir) if ingested else ingest_folder(data_dir)
    if ingested:
        console.print(f"reading the ingested tables in {data_dir}, as `risk-model ingest` wrote them")
    console.print(_table(result.accounts, f"Ingest accounts: {data_dir}"))
    if len(result.rejections):
        console.print(f"[yellow]{len(result.rejections)} rejection reasons recorded "
                      f"(see the rejection report)[/yellow]")
    return result


def _file_hashes(data_dir: Path, accounts: pd.DataFrame) -> dict[str, str]:
    """sha256 of each input file ingest read, and of the simulator's answer key when present."""
    from risk_model.tracking.manifest import file_sha256

    names = [Path(str(name)).name for name in accounts["file"]] + ["latent_risk.csv", "misconduct.csv"]
    return {name: file_sha256(data_dir / name) for name in names if (data_dir / name).is_file()}


@app.command()
def simulate(
    out: Annotated[Path, typer.Argument(help="Folder to write the simulated data into.")] = Path("data/sim"),
    charities: Annotated[int, typer.Option(min=100, help="Charities ever on the register.")] = 25_000,
    years: Annotated[str, typer.Option(help="First and last year, e.g. 2008-2025.")] = "2008-2025",
    seed: Annotated[int, typer.Option(help="Random seed.")] = DEFAULT_SEED,
) -> None:
    """Write a simulated regulator's data folder (register, former, returns, case log, true risk)."""
    from risk_model.simulate.world import SimulationConfig, write_world
    from risk_model.simulate.world import simulate as run_simulation

    first, last = _parse_years(years)
    config = SimulationConfig(charities=charities, first_year=first, last_year=last, seed=seed)
    with _progress() as progress:
        progress.add_task(f"simulating {charities:,} charities, {first}-{last}")
        paths = write_world(run_simulation(config), out)
    for name, path in paths.items():
        console.print(f"wrote {name}: {path}")


@app.command()
def ingest(
    data_dir: Annotated[Path, typer.Argument(help="Folder of regulator files.")],
    out: Annotated[Path, typer.Option(help="Folder for the canonical tables and reports.")] = Path("out/ingested"),
) -> None:
    """Validate a data folder; write canonical tables, the accounts and the rejection report."""
    from risk_model.ingest.folder import write_ingested

    result = _ingest(data_dir)
    for name, path in write_ingested(result, out).items():
        console.print(f"wrote {name}: {path}")


def _ranking_and_manifest(result, tables, experiment, data_dir: Path):
    """The champions' review lists at the extract date, and the run's manifest (which hashes them)."""
    from risk_model.ingest.folder import table_fingerprint
    from risk_model.lists.rank import ranked_lists
    from risk_model.tracking.manifest import build_manifest, ranking_hash
    from risk_model.tracking.runs import champion_description

    ranked, _, _ = ranked_lists(
        result.final_model, tables.register, tables.returns, tables.case_log, result.extract_date,
        result.capacities, model_name=champion_description(result.champions), model_version="training run")
    manifest = build_manifest(
        config_json=experiment.model_dump(mode="json"), config_hash=experiment.config_hash(),
        file_hashes=_file_hashes(data_dir, tables.accounts),
        table_hashes={name: table_fingerprint(getattr(tables, name)) for name in ("register", "returns", "case_log")},
        ranking_sha256=ranking_hash(ranked), seed=experiment.seed, data_dir=str(Path(data_dir).resolve()))
    return ranked, manifest


EXPLANATION_SAMPLE = 50_000


def _explanation_sample(tables, as_of: pd.Timestamp, seed: int) -> tuple[pd.DataFrame, str]:
    """Features behind the run's global explanations: the register at `as_of`, or a stated sample of it."""
    from risk_model.features import build_features, population

    on_register = population(tables.register, as_of)
    if len(on_register) <= EXPLANATION_SAMPLE:
        return build_features(on_register, tables.returns, tables.case_log, as_of), ""
    sample = on_register.sample(n=EXPLANATION_SAMPLE, random_state=seed)
    statement = (f"a random {EXPLANATION_SAMPLE:,} of the {len(on_register):,} charities on the register at "
                 f"{as_of.date()} (seed {seed})")
    return build_features(sample, tables.returns, tables.case_log, as_of), statement


@app.command()
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
    from risk_model.splits import labelled_as_of_dates
    from risk_model.tracking.runs import log_training, run_findings, use_tracking
    from risk_model.train import candidates, infer_extract_date, run_training

    experiment = _load_config(config, tracking_uri)
    tables = _ingest(data_dir)
    truth = _truth(data_dir)
    extract_date = (pd.Timestamp(experiment.extract_date) if experiment.extract_date
                    else infer_extract_date(tables.register, tables.returns, tables.case_log))
    n_dates = len(labelled_as_of_dates(experiment.splits, experiment.label, extract_date,
                                       tables.register["registered_date"].min()))
    per_fold = len(candidates(experiment)) + (4 if truth is not None else 0)
    steps = n_dates + experiment.splits.n_folds * per_fold + 2
    bar = Progress(SpinnerColumn(), TextColumn("{task.description:<48}"), BarColumn(), MofNCompleteColumn(),
                   TimeElapsedColumn(), console=console, transient=True)
    with bar:
        task = bar.add_task("training", total=steps)
        result = run_training(tables.register, tables.returns, tables.case_log, experiment, truth,
                              progress=lambda msg: bar.update(task, description=msg, advance=1))
    if experiment.sampling.negative_rate < 1:
        from risk_model.tracking.runs import sample_statement

        console.print(f"[yellow]training panel: {sample_statement(result.panel_counts, experiment)}; fold "
                      "metrics are measured on that sample[/yellow]")
    for note in result.notes:
        console.print(f"[yellow]{note}[/yellow]")
    use_tracking(experiment.tracking, store)
    example, explained = _explanation_sample(tables, result.training_as_of[-1], experiment.seed)
    ranked, manifest = _ranking_and_manifest(result, tables, experiment, data_dir)
    fingerprint = manifest["data"]["tables"] | {f"file:{k}": v for k, v in manifest["data"]["files"].items()}
    logged = log_training(result, experiment, fingerprint, tables.accounts, tables.rejections, example,
                          str(data_dir), manifest=manifest, ranking=ranked)
    _print_comparison(result, experiment)
    judged = run_findings(result, experiment)
    if judged is not None:
        _print_findings(judged[1], judged[2], result)
    else:
        console.print("no answer key in the data folder: the lists are judged on the regulator's labels only, "
                      "which follow complaints")
    if explained:
        from mlflow.tracking import MlflowClient

        console.print(f"global explanations summarise {explained}")
        MlflowClient().set_tag(logged.parent_run_id, "explanation_sample", explained)
    for name in ("proactive", "triage"):
        console.print(f"{name} list champion: [bold]{result.champions[name]}[/bold] "
                      f"({result.capacities[name]} a year)")
    console.print(f"registered as {logged.registered_model} version {logged.champion_version} "
                  f"(alias {experiment.tracking.champion_alias}); run {logged.parent_run_id}")


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
        console.print(_table(shown, f"{name} list, on the regulator's labels (k={result.capacities[name]}; "
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
        console.print(_table(shown, f"{name} list against the truth (95% Wilson intervals; * champion)",
                             float_format="{:.1f}"))
        d = diffs.loc[diffs["review_list"] == name]
        if len(d):
            console.print(_table(pd.DataFrame({
                "champion minus": d["against"], "measure": d["measure"],
                "difference": d["difference"].round(0),
                "95% interval": [f"{lo:+.0f} to {hi:+.0f}" for lo, hi in zip(d["difference_low"], d["difference_high"])],
            }), f"{name}: paired bootstrap over every test fold", float_format="{:+.0f}"))


def _champion(experiment, store: Path):
    from risk_model.tracking.runs import load_champion, use_tracking

    use_tracking(experiment.tracking, store)
    try:
        return load_champion(experiment.tracking)
    except Exception as exc:
        console.print(f"[red]no champion model in {experiment.tracking.registered_model!r}: {exc}. "
                      "Run `risk-model train` first.[/red]")
        raise typer.Exit(code=2) from exc


def _warn_if_off_cycle(model, date: pd.Timestamp) -> None:
    """Say so when a list is dated elsewhere in the filing cycle than the model was trained."""
    trained = getattr(model, "as_of_month_day", None)
    if trained and f"{date:%m-%d}" != trained:
        console.print(f"[yellow]the model was trained on as-of dates on {trained} (month-day) each year; this list "
                      f"is dated {date.date()}, elsewhere in the filing cycle, so returns falling due around it "
                      "may read differently than in training[/yellow]")


def _as_of(as_of: str | None, tables) -> pd.Timestamp:
    from risk_model.train import infer_extract_date

    if as_of is None:
        return infer_extract_date(tables.register, tables.returns, tables.case_log)
    try:
        return pd.Timestamp(as_of).normalize()
    except ValueError as exc:
        raise typer.BadParameter(f"--as-of: {as_of!r} is not a date (use YYYY-MM-DD)") from exc


AsOfOption = Annotated[str | None, typer.Option(help="As-of date (YYYY-MM-DD); default: the extract date.")]


@app.command("features")
def features_command(
    data_dir: DataDirArgument,
    as_of: AsOfOption = None,
    out: Annotated[Path, typer.Option(help="Folder for the feature table.")] = Path("out/features"),
) -> None:
    """Build the feature table of every charity on the register at a date; write it as Parquet."""
    from risk_model.features import build_features

    tables = _ingest(data_dir)
    date = _as_of(as_of, tables)
    with _progress() as progress:
        progress.add_task(f"building features as of {date.date()}")
        table = build_features(tables.register, tables.returns, tables.case_log, date)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"features_{date:%Y-%m-%d}.parquet"
    table.to_parquet(path, index=False)
    console.print(f"wrote {path}: {len(table):,} charities on the register at {date.date()}, "
                  f"{table.shape[1]} columns")


def _feature_table(path: Path, date: pd.Timestamp) -> pd.DataFrame:
    """A feature table `risk-model features` wrote, checked to be complete and of the date asked for."""
    from risk_model.features import CONTEXT_COLUMNS, FEATURE_COLUMNS

    if not path.is_file():
        raise typer.BadParameter(f"{path}: feature table not found", param_hint="--features")
    table = pd.read_parquet(path)
    missing = [c for c in (*CONTEXT_COLUMNS, *FEATURE_COLUMNS) if c not in table.columns]
    if missing:
        raise typer.BadParameter(f"{path}: not a feature table, missing column(s) {', '.join(missing[:5])}",
                                 param_hint="--features")
    dates = pd.to_datetime(table["as_of"]).dt.normalize().unique()
    if len(table) and (len(dates) != 1 or dates[0] != date):
        raise typer.BadParameter(f"{path}: features are as of {', '.join(str(d.date()) for d in dates)}, "
                                 f"not {date.date()}", param_hint="--features")
    return table


@app.command()
def rank(
    data_dir: DataDirArgument,
    as_of: AsOfOption = None,
    out: Annotated[Path, typer.Option(help="Folder for the ranked list.")] = Path("out/rankings"),
    reasons: Annotated[int, typer.Option(min=0, help="Attach the top N reasons up and down to every row.")] = 0,
    config: ConfigOption = None,
    tracking_uri: TrackingOption = None,
    store: StoreOption = Path("mlruns"),
    show: Annotated[int, typer.Option(help="Rows to print.")] = 15,
    random_quota: Annotated[float, typer.Option(min=0.0, max=1.0, help="Share of capacity drawn at random from the "
                                                "rest of the register, marked 'random quota' (e.g. 0.1).")] = 0.0,
    seed: Annotated[int, typer.Option(help="Seed of the random quota draw.")] = DEFAULT_SEED,
    features: Annotated[Path | None, typer.Option(help="Feature table `risk-model features` wrote for this "
                                                  "folder and date, used instead of building it again.")] = None,
) -> None:
    """Place every charity on the register at a date on its review list and rank each list with the
    champion's models; write each list, both together, and the charities on neither (CSV and Parquet)."""
    from risk_model.lists.membership import LIST_TITLES, PROACTIVE, REVIEW_LISTS
    from risk_model.lists.rank import ranked_lists, review_list_of, with_reasons

    experiment = _load_config(config, tracking_uri)
    tables = _ingest(data_dir)
    date = _as_of(as_of, tables)
    built = _feature_table(features, date) if features is not None else None
    model, version = _champion(experiment, store)
    _warn_if_off_cycle(model, date)
    capacities = model.capacities
    with _progress() as progress:
        progress.add_task(f"scoring the register as of {date.date()}")
        ranked, listed, not_listed = ranked_lists(
            model, tables.register, tables.returns, tables.case_log, date, capacities,
            model_name=version.tags.get("model", version.name), model_version=version.version, features=built)
        if reasons:
            ranked = with_reasons(ranked, listed, model, tables.returns, tables.case_log, reasons)
    parts = {name: review_list_of(ranked, name) for name in REVIEW_LISTS}
    if random_quota > 0:
        from risk_model.audit.selective import apply_random_quota

        parts[PROACTIVE] = apply_random_quota(parts[PROACTIVE], capacities[PROACTIVE], random_quota, seed)
        drawn = int((parts[PROACTIVE]["review_reason"] == "random quota").sum())
        console.print(f"random review quota: {drawn} of {int(parts[PROACTIVE]['selected_for_review'].sum())} "
                      f"proactive reviews drawn at random from below the model's picks (seed {seed}), marked "
                      "'random quota'")
        ranked = pd.concat([parts[name] for name in REVIEW_LISTS], ignore_index=True)
    out.mkdir(parents=True, exist_ok=True)
    day = f"{date:%Y-%m-%d}"
    for stem, frame in (("ranking", ranked), *((name, parts[name]) for name in REVIEW_LISTS),
                        ("not_listed", not_listed)):
        frame.to_csv(out / f"{stem}_{day}.csv", index=False)
        frame.to_parquet(out / f"{stem}_{day}.parquet", index=False)
    for name in REVIEW_LISTS:
        top = parts[name].head(show)
        shown = top[["rank", "charity_number", "charity_name", "score", "risk_band", "main_operating_location",
                     "income_band"]]
        if reasons:
            shown = shown.assign(top_reason=top["reasons_up"].str.split("; ").str[0])
        console.print(_table(shown, f"{LIST_TITLES[name].capitalize()}: top {min(show, len(parts[name]))} of "
                             f"{len(parts[name]):,} as of {date.date()} ({capacities[name]} a year; "
                             f"{version.name} v{version.version})", float_format="{:.4f}"))
    console.print(f"wrote {', '.join(f'{stem}_{day}.csv' for stem in ('ranking', *REVIEW_LISTS, 'not_listed'))} "
                  f"and .parquet to {out}; {len(not_listed)} charities are on neither list (under an open inquiry, "
                  "or their recent concern already inquired into): see not_listed")


@app.command()
def explain(
    charity_number: Annotated[str, typer.Argument(help="Charity number, e.g. SC012345.")],
    data_dir: Annotated[Path, typer.Option("--data", help="Folder of regulator files, or the tables `risk-model "
                                                          "ingest` wrote.")] = Path("data/sim"),
    as_of: AsOfOption = None,
    reasons: Annotated[int, typer.Option(min=1, help="Reasons to show in each direction.")] = 3,
    config: ConfigOption = None,
    tracking_uri: TrackingOption = None,
    store: StoreOption = Path("mlruns"),
) -> None:
    """Why a charity ranks where it does: its top factors, their values and sources, and what changed."""
    from risk_model.domain.factors import FACTOR_BY_ID
    from risk_model.features import build_features
    from risk_model.lists.explain import UNIT, what_changed
    from risk_model.lists.explain import explain as explain_rows
    from risk_model.lists.membership import LIST_TITLES, WHY_ON_LIST, review_list
    from risk_model.lists.rank import ranked_lists
    from risk_model.lists.reasons import reason_codes

    experiment = _load_config(config, tracking_uri)
    tables = _ingest(data_dir)
    date = _as_of(as_of, tables)
    number = charity_number.strip().upper()
    pipeline, version = _champion(experiment, store)
    _warn_if_off_cycle(pipeline, date)
    features = build_features(tables.register, tables.returns, tables.case_log, date)
    ranked, _, _ = ranked_lists(pipeline, tables.register, tables.returns, tables.case_log, date,
                                pipeline.capacities, model_name=version.tags.get("model", version.name),
                                model_version=version.version, features=features)
    row = features.loc[features["charity_number"] == number].reset_index(drop=True)
    if row.empty:
        console.print(f"[red]{number} is not on the register at {date.date()}[/red]")
        raise typer.Exit(code=1)
    contributions = explain_rows(pipeline, row)
    factors = contributions.by_factor()
    codes = reason_codes(row, factors, tables.returns, tables.case_log, reasons)
    on = review_list(row).iloc[0]
    place = ranked.loc[ranked["charity_number"] == number]
    if place.empty:
        console.print(f"{number} {row.loc[0, 'charity_name']}: {LIST_TITLES[on]}. {WHY_ON_LIST[on]}.")
    else:
        p = place.iloc[0]
        size = int((ranked["review_list"] == p["review_list"]).sum())
        console.print(f"{number} {p['charity_name']}: on the {LIST_TITLES[on]} list, rank {p['rank']:,} of {size:,}, "
                      f"score {p['score']:.4f}, band {p['risk_band']} (as of {date.date()}, {version.name} "
                      f"v{version.version}). {WHY_ON_LIST[on]}.")
    console.print(f"contributions in {UNIT}; base value {contributions.base_value_log_odds[0]:+.3f}, "
                  f"raw score {contributions.raw_score_log_odds[0]:+.3f}")
    console.print(_table(codes[["direction", "label", "group", "contribution_log_odds", "sentence", "source"]],
                         "Reasons", float_format="{:+.3f}"))
    previous = date - pd.DateOffset(years=1)
    before = build_features(tables.register, tables.returns, tables.case_log, previous)
    before_row = before.loc[before["charity_number"] == number].reset_index(drop=True)
    if before_row.empty:
        console.print(f"not on the register at {previous.date()}: nothing to compare")
        return
    changed = what_changed(factors, explain_rows(pipeline, before_row).by_factor(), n=reasons)
    changed = changed.assign(label=changed["factor"].map(lambda f: FACTOR_BY_ID[f].label))
    console.print(_table(changed[["label", "before_log_odds", "now_log_odds", "change_log_odds"]],
                         f"What changed since {previous.date()}", float_format="{:+.3f}"))


@app.command()
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
    from risk_model.tracking.manifest import compare
    from risk_model.tracking.runs import resolve_tracking_uri
    from risk_model.train import run_training

    experiment_tracking = _load_config(None, tracking_uri).tracking
    mlflow.set_tracking_uri(resolve_tracking_uri(experiment_tracking, store))
    try:
        recorded = mlflow.artifacts.load_dict(f"runs:/{run_id}/manifest.json")
    except Exception as exc:
        console.print(f"[red]run {run_id}: no manifest.json could be read ({exc})[/red]")
        raise typer.Exit(code=2) from exc
    experiment = ExperimentConfig.model_validate(recorded["config"]["content"])
    data_dir = data_dir or Path(recorded["data"]["dir"])
    if not data_dir.is_dir():
        console.print(f"[red]data folder {data_dir} is not there; pass --data[/red]")
        raise typer.Exit(code=2)
    tables = _ingest(data_dir)
    truth = _truth(data_dir)
    with _progress() as progress:
        task = progress.add_task("re-training")
        result = run_training(tables.register, tables.returns, tables.case_log, experiment, truth,
                              progress=lambda msg: progress.update(task, description=f"re-training: {msg}"))
    _, current = _ranking_and_manifest(result, tables, experiment, data_dir)
    checks = compare(recorded, current)
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


from risk_model.cli import ccni as cli_ccni  # noqa: E402  (both import nothing heavy at load time)
from risk_model.cli.audit import audit  # noqa: E402
from risk_model.cli.serve import serve  # noqa: E402

app.command()(audit)
app.command("train-ccni")(cli_ccni.train_ccni)
app.command("score-ccni")(cli_ccni.score_ccni)
app.command("exits")(cli_ccni.exits)
app.command()(serve)


if __name__ == "__main__":  # pragma: no cover
    app()
