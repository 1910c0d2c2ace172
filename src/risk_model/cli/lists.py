"""Commands on the review lists the champion makes: `rank` (every charity on the register, placed and
ranked) and `explain` (why one charity ranks where it does). Each imports the library inside its body,
as `cli.main` explains; registered on the app in `cli.main`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pandas as pd
import typer

from risk_model.cli.common import (
    AsOfOption,
    ConfigOption,
    DataDirArgument,
    StoreOption,
    TrackingOption,
    as_of_date,
    console,
    frame_table,
    ingest_tables,
    load_experiment,
    spinner,
)
from risk_model.config import DEFAULT_SEED


def _champion(experiment, store: Path):
    """The champion and its registered version, looked up before any work: a store without it is an error
    naming the model, the alias and the store (`tracking.store.TrackingStoreError`)."""
    from risk_model.tracking.store import load_champion, read_tracking

    read_tracking(experiment.tracking, store)
    with spinner() as progress:
        progress.add_task(f"loading {experiment.tracking.registered_model}@{experiment.tracking.champion_alias}")
        return load_champion(experiment.tracking)


def _warn_if_off_cycle(model, date: pd.Timestamp) -> None:
    """Say so when a list is dated elsewhere in the filing cycle than the model was trained."""
    trained = getattr(model, "as_of_month_day", None)
    if trained and f"{date:%m-%d}" != trained:
        console.print(f"[yellow]the model was trained on as-of dates on {trained} (month-day) each year; this list "
                      f"is dated {date.date()}, elsewhere in the filing cycle, so returns falling due around it "
                      "may read differently than in training[/yellow]")


def _feature_table(path: Path, date: pd.Timestamp) -> pd.DataFrame:
    """A feature table `risk-model features` wrote (`rank` has checked it is there), checked to be complete
    and of the date asked for."""
    from risk_model.features import CONTEXT_COLUMNS, FEATURE_COLUMNS

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
    from risk_model.export import write_csv
    from risk_model.ingest.folder import require_folder
    from risk_model.lists.membership import LIST_TITLES, PROACTIVE, REVIEW_LISTS
    from risk_model.lists.rank import ranked_lists, review_list_of, with_reasons

    experiment = load_experiment(config, tracking_uri)
    require_folder(data_dir)
    if features is not None and not features.is_file():
        raise typer.BadParameter(f"{features}: feature table not found", param_hint="--features")
    model, version = _champion(experiment, store)
    tables = ingest_tables(data_dir)
    date = as_of_date(as_of, tables)
    built = _feature_table(features, date) if features is not None else None
    _warn_if_off_cycle(model, date)
    capacities = model.capacities
    with spinner() as progress:
        progress.add_task(f"scoring the register as of {date.date()}")
        lists = ranked_lists(
            model, tables.register, tables.returns, tables.case_log, date, capacities,
            model_name=version.tags.get("model", version.name), model_version=version.version, features=built,
            n_reasons=reasons)
        ranked, not_listed = lists.ranked, lists.not_listed
        if reasons:
            ranked = with_reasons(ranked, lists.reasons)
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
        write_csv(frame, out / f"{stem}_{day}.csv")
        frame.to_parquet(out / f"{stem}_{day}.parquet", index=False)
    for name in REVIEW_LISTS:
        top = parts[name].head(show)
        shown = top[["rank", "charity_number", "charity_name", "score", "risk_band", "main_operating_location",
                     "income_band"]]
        if reasons:
            first = lists.reasons.loc[(lists.reasons["direction"] == "up") & (lists.reasons["position"] == 1)]
            step = top["charity_number"].map(first.set_index("charity_number")["contribution_points"])
            shown = shown.assign(top_reason=top["reasons_up"].str.split("; ").str[0]
                                 + step.map(lambda p: f" ({p:+.1f} points)" if p == p else ""))
        console.print(frame_table(shown, f"{LIST_TITLES[name].capitalize()}: top {min(show, len(parts[name]))} of "
                                  f"{len(parts[name]):,} as of {date.date()} ({capacities[name]} a year; "
                                  f"{version.name} v{version.version})", float_format="{:.4f}"))
    console.print(f"wrote {', '.join(f'{stem}_{day}.csv' for stem in ('ranking', *REVIEW_LISTS, 'not_listed'))} "
                  f"and .parquet to {out}; {len(not_listed)} charities are on neither list (under an open inquiry, "
                  "or their recent concern already inquired into): see not_listed")


def _explained(data_dir: Path, charity_number: str | None, data: Path | None) -> tuple[Path, str]:
    """The folder and charity `explain` was given: DATA_DIR CHARITY_NUMBER, or the older
    CHARITY_NUMBER --data DIR (deprecated: said so, and still read)."""
    if data is not None:
        console.print("[yellow]--data is deprecated: give the folder first, `risk-model explain DATA_DIR "
                      "CHARITY_NUMBER`[/yellow]")
        if charity_number is not None:
            raise typer.BadParameter("give the data folder once: DATA_DIR or --data", param_hint="--data")
        data_dir, charity_number = data, str(data_dir)
    if charity_number is None:
        raise typer.BadParameter("missing: give the data folder, then the charity number", param_hint="CHARITY_NUMBER")
    return data_dir, charity_number


def explain(
    data_dir: DataDirArgument,
    charity_number: Annotated[str | None, typer.Argument(
        show_default=False, help="Charity number, e.g. SC012345 (required).")] = None,
    as_of: AsOfOption = None,
    reasons: Annotated[int, typer.Option(min=1, help="Reasons to show in each direction.")] = 3,
    config: ConfigOption = None,
    tracking_uri: TrackingOption = None,
    store: StoreOption = Path("mlruns"),
    data: Annotated[Path | None, typer.Option("--data", hidden=True, help="Deprecated: the data folder.")] = None,
) -> None:
    """Why a charity ranks where it does: its top factors in percentage points from the base rate, their values
    and sources, and what changed."""
    from risk_model.features import build_features
    from risk_model.ingest.folder import require_folder
    from risk_model.lists.explain import has_reasons, reason_contributions
    from risk_model.lists.membership import LIST_TITLES, WHY_ON_LIST, review_list, standing
    from risk_model.lists.points import change_points, other_factors_points, probability, times_typical
    from risk_model.lists.rank import ranked_lists
    from risk_model.lists.reasons import reason_codes
    from risk_model.lists.records import changes_between

    data_dir, charity_number = _explained(data_dir, charity_number, data)
    experiment = load_experiment(config, tracking_uri)
    require_folder(data_dir)
    pipeline, version = _champion(experiment, store)
    tables = ingest_tables(data_dir)
    date = as_of_date(as_of, tables)
    number = charity_number.strip().upper()
    _warn_if_off_cycle(pipeline, date)
    features = build_features(tables.register, tables.returns, tables.case_log, date)
    ranked = ranked_lists(pipeline, tables.register, tables.returns, tables.case_log, date,
                          pipeline.capacities, model_name=version.tags.get("model", version.name),
                          model_version=version.version, features=features).ranked
    row = features.loc[features["charity_number"] == number].reset_index(drop=True)
    if row.empty:
        console.print(f"[red]{number} is not on the register at {date.date()}[/red]")
        raise typer.Exit(code=1)
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
    if not has_reasons(pipeline):
        console.print("This model gives no reasons.")
        return
    contributions = reason_contributions(pipeline, row)
    codes = reason_codes(row, contributions.by_factor(), tables.returns, tables.case_log, reasons,
                         base_log_odds=contributions.base_value_log_odds, rule_points=contributions.rule_points)
    base_rate = float(probability(contributions.base_value_log_odds[0]))
    chance = float(probability(contributions.raw_score_log_odds[0]))
    other = other_factors_points(chance, base_rate, codes["contribution_points"])
    console.print(f"A typical charity scored by this model has a {base_rate:.1%} chance (the base rate); this one "
                  f"{chance:.1%}, {times_typical(chance, base_rate):.1f} times that. From the base rate, each reason "
                  f"adds or takes away the percentage points shown, raising reasons first and then lowering ones; all "
                  f"other factors add {other:+.1f} points, ending at the score. A factor's points depend on where it "
                  "is added, so the order is always this one.")
    console.print(f"For auditors: base value {contributions.base_value_log_odds[0]:+.3f} log-odds, score "
                  f"{contributions.raw_score_log_odds[0]:+.3f} log-odds.")
    shown = codes.assign(points=codes["contribution_points"].map("{:+.1f} points".format),
                         log_odds=codes["contribution_log_odds"].map("{:+.3f}".format))
    console.print(frame_table(shown[["direction", "label", "group", "points", "sentence", "source", "log_odds"]],
                              "Reasons"))
    previous = date - pd.DateOffset(years=1)
    own = [table.loc[table["charity_number"] == number] for table in (tables.register, tables.returns,
                                                                       tables.case_log)]
    changes = changes_between(pipeline, *own, previous, date, n=reasons)
    if changes.scores["score_before"].isna().all():
        console.print(f"not on the register at {previous.date()}: nothing to compare")
        return
    now = float(changes.scores["score_now"].iloc[0])
    then, today, model, model_now = changes.scores[["list_before", "list_now", "model_before", "model_now"]].iloc[0]
    if model != model_now:
        console.print(f"On {previous.date()} it was on {standing(then)}, scored "
                      f"{changes.scores['score_before'].iloc[0]:.1%} by the {LIST_TITLES[model]} list's model; now on "
                      f"{standing(today)}, "
                      f"{now:.1%}. The two scores answer different questions, from two models, so no factor is "
                      "compared.")
        return
    moved = changes.factors.assign(
        points=[f"{p:+.1f} points" for p in change_points(now, changes.factors["change_log_odds"])],
        change_log_odds=changes.factors["change_log_odds"].map("{:+.3f}".format))
    before = changes.scores["score_before"].iloc[0]
    console.print(frame_table(moved[["label", "points", "change_log_odds"]],
                              f"What changed since {previous.date()}: score {before:.1%} then, {now:.1%} now; points: "
                              "how much higher or lower today's chance is than had the factor not moved"))
