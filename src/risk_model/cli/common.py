"""What the commands in `cli.data`, `cli.runs` and `cli.lists` share: the console, the options several of
them take, and the helpers that load the experiment, ingest a data folder and print a frame. It imports
no command module, so every command module can import it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

console = Console()

DataDirArgument = Annotated[
    Path, typer.Argument(help="Folder of regulator files, or the tables `risk-model ingest` wrote.")]
ConfigOption = Annotated[Path | None, typer.Option("--config", "-c", help="Experiment YAML (default: packaged).")]
TrackingOption = Annotated[str | None, typer.Option("--tracking-uri", help="MLflow tracking URI (overrides config).")]
StoreOption = Annotated[Path, typer.Option("--store", help="Local MLflow store folder when no URI is set.")]
AsOfOption = Annotated[str | None, typer.Option(help="As-of date (YYYY-MM-DD); default: the extract date.")]


def spinner() -> Progress:
    """A transient spinner with the elapsed time, for one step that gives no progress of its own."""
    return Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                    console=console, transient=True)


def frame_table(frame: pd.DataFrame, title: str, float_format: str = "{:.3f}") -> Table:
    """A frame as a rich table, floats formatted with `float_format`."""
    table = Table(title=title)
    for column in frame.columns:
        table.add_column(str(column))
    for _, row in frame.iterrows():
        table.add_row(*[float_format.format(v) if isinstance(v, float) else str(v) for v in row])
    return table


def load_experiment(config: Path | None, tracking_uri: str | None):
    """The experiment config (packaged when `config` is None), with `--tracking-uri` applied if given."""
    from risk_model.config import load_config

    experiment = load_config(config)
    if tracking_uri:
        experiment = experiment.model_copy(
            update={"tracking": experiment.tracking.model_copy(update={"tracking_uri": tracking_uri})})
    return experiment


def ingest_tables(data_dir: Path):
    """The folder's canonical tables: read back if `risk-model ingest` wrote them, else ingested now."""
    from risk_model.ingest.folder import read_tables
    from risk_model.ingest.tables import is_ingested_folder

    ingested = is_ingested_folder(data_dir)
    with spinner() as progress:
        progress.add_task(f"{'reading the ingested tables in' if ingested else 'ingesting'} {data_dir}")
        result = read_tables(data_dir)
    if ingested:
        console.print(f"reading the ingested tables in {data_dir}, as `risk-model ingest` wrote them")
    console.print(frame_table(result.accounts, f"Ingest accounts: {data_dir}"))
    if len(result.rejections):
        console.print(f"[yellow]{len(result.rejections)} rejection reasons recorded "
                      f"(see the rejection report)[/yellow]")
    return result


def as_of_date(as_of: str | None, tables) -> pd.Timestamp:
    """The `--as-of` date, or the extract date inferred from the tables when it is not given."""
    from risk_model.ingest.tables import infer_extract_date

    if as_of is None:
        return infer_extract_date(tables.register, tables.returns, tables.case_log)
    try:
        return pd.Timestamp(as_of).normalize()
    except ValueError as exc:
        raise typer.BadParameter(f"--as-of: {as_of!r} is not a date (use YYYY-MM-DD)") from exc
