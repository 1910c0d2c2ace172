"""Commands that make and prepare a data folder: `simulate`, `ingest` and `features`. Each imports the
library inside its body, as `cli.main` explains; registered on the app in `cli.main`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import typer

from risk_model.cli.common import AsOfOption, DataDirArgument, as_of_date, console, ingest_tables, spinner
from risk_model.config import DEFAULT_SEED


def _parse_years(years: str) -> tuple[int, int]:
    match = re.fullmatch(r"\s*(\d{4})\s*-\s*(\d{4})\s*", years)
    if not match or int(match[1]) > int(match[2]):
        raise typer.BadParameter(f"expected FIRST-LAST, e.g. 2008-2025, got {years!r}")
    return int(match[1]), int(match[2])


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
    with spinner() as progress:
        progress.add_task(f"simulating {charities:,} charities, {first}-{last}")
        paths = write_world(run_simulation(config), out)
    for name, path in paths.items():
        console.print(f"wrote {name}: {path}")


def ingest(
    data_dir: Annotated[Path, typer.Argument(help="Folder of regulator files.")],
    out: Annotated[Path, typer.Option(help="Folder for the canonical tables and reports.")] = Path("out/ingested"),
) -> None:
    """Validate a data folder; write canonical tables, the accounts and the rejection report."""
    from risk_model.ingest.tables import write_ingested

    result = ingest_tables(data_dir)
    for name, path in write_ingested(result, out).items():
        console.print(f"wrote {name}: {path}")


def features_command(
    data_dir: DataDirArgument,
    as_of: AsOfOption = None,
    out: Annotated[Path, typer.Option(help="Folder for the feature table.")] = Path("out/features"),
) -> None:
    """Build the feature table of every charity on the register at a date; write it as Parquet."""
    from risk_model.features import build_features

    tables = ingest_tables(data_dir)
    date = as_of_date(as_of, tables)
    with spinner() as progress:
        progress.add_task(f"building features as of {date.date()}")
        table = build_features(tables.register, tables.returns, tables.case_log, date)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"features_{date:%Y-%m-%d}.parquet"
    table.to_parquet(path, index=False)
    console.print(f"wrote {path}: {len(table):,} charities on the register at {date.date()}, "
                  f"{table.shape[1]} columns")
