"""What the commands share: the console and how the command line's output is set up (`set_up_output`, run
by the app's global options), the options several of them take, and the helpers that load the experiment,
ingest a data folder and print a frame. It imports no command module, so every command module can import it.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

# Every command prints through this one console. Building it decides nothing (rich looks at the terminal
# when it prints); `set_up_output` sizes it when a command runs.
console = Console()
# Tables printed to a file or a pipe (logs, CI) are this wide, unless $COLUMNS says otherwise: rich's
# 80 columns would wrap them.
PIPED_WIDTH = 200
# Libraries whose INFO lines would interleave with the output; shown with --verbose or --debug.
CHATTY_LIBRARIES: tuple[str, ...] = ("mlflow", "alembic", "urllib3", "httpx", "lightgbm", "LightGBM", "git", "shap",
                                     "numba", "matplotlib")

DataDirArgument = Annotated[
    Path, typer.Argument(help="Folder of regulator files, or the tables `risk-model ingest` wrote.")]
ConfigOption = Annotated[Path | None, typer.Option("--config", "-c", help="Experiment YAML (default: packaged).")]
TrackingOption = Annotated[str | None, typer.Option("--tracking-uri", help="MLflow tracking URI (overrides config).")]
StoreOption = Annotated[Path, typer.Option("--store", help="Local MLflow store folder when no URI is set.")]


def _as_of_timestamp(as_of: str) -> pd.Timestamp:
    try:
        return pd.Timestamp(as_of).normalize()
    except ValueError as exc:
        raise typer.BadParameter(f"{as_of!r} is not a date (use YYYY-MM-DD)", param_hint="--as-of") from exc


def _checked_as_of(as_of: str | None) -> str | None:
    """`--as-of` as given, refused while the command line is read (before any work) if it is not a date."""
    if as_of is not None:
        _as_of_timestamp(as_of)
    return as_of


AsOfOption = Annotated[str | None, typer.Option(callback=_checked_as_of,
                                                help="As-of date (YYYY-MM-DD); default: the extract date.")]


def set_up_output(verbose: bool) -> None:
    """Size the console for where it prints, and quiet the libraries' INFO lines and MLflow's progress bars
    unless `verbose`. Environment variables set here are this process's (and its children's) only."""
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit():  # read now, not when the console was built: the command may run in a new environment
        console.width = int(columns)
    elif not console.is_terminal:
        console.width = PIPED_WIDTH
    level = logging.INFO if verbose else logging.WARNING
    # MLflow sets its loggers' level from this variable when it is imported (commands import it late).
    if verbose:
        os.environ["MLFLOW_LOGGING_LEVEL"] = "INFO"
    else:
        os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
        os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    for name in CHATTY_LIBRARIES:
        logging.getLogger(name).setLevel(level)
    logging.getLogger("sqlalchemy").setLevel(logging.WARNING)  # its INFO lines are every SQL statement
    if verbose and not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                            format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def spinner() -> Progress:
    """A transient spinner with the elapsed time, for one step that gives no progress of its own (nothing
    when the console is not a terminal)."""
    return Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                    console=console, transient=True, disable=not console.is_terminal)


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
    return _as_of_timestamp(as_of)
