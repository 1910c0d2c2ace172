"""The `risk-model` command line (`risk_model.cli.main:run`, around the app): the Typer app, its global
options (`--debug`, `--verbose`), what becomes of an error, and every command registered in the order
`--help` lists them. The commands live in `cli.data`, `cli.runs`, `cli.lists`, `cli.audit`, `cli.ccni`
and `cli.serve`; what several of them share is in `cli.common`.

An error the user can fix (a missing folder, file or column, an invalid experiment file, a tracking store
that cannot be used or lacks the model asked for) ends in one line naming it and exit code 2; `--debug`
(or RISK_MODEL_DEBUG=1) shows its traceback instead. Any other error keeps its traceback.
"""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperGroup

# The command line is the edge of the pipeline: files, MLflow and the terminal are touched in the
# command modules and in `tracking`, and every stage in between is a pure function of frames and a
# typed config. Each command imports the library inside its body, on purpose: the library brings in
# MLflow, LightGBM and shap (about 4 s of imports on a 2-core machine, against 1 s for these modules),
# which `--help`, `simulate` and a mistyped option must not wait for. So the command modules import
# nothing heavy at load time, and nothing in them computes: a command parses its options, calls
# library functions and prints.
from risk_model.cli import ccni as cli_ccni
from risk_model.cli.audit import audit
from risk_model.cli.common import set_up_output
from risk_model.cli.data import features_command, ingest, simulate
from risk_model.cli.lists import explain, rank
from risk_model.cli.runs import reproduce, train
from risk_model.cli.serve import serve


def _expected(exc: Exception) -> bool:
    """Whether `exc` is an error the user can fix. A TrackingStoreError can only come from `tracking.store`,
    so it is looked for once that module is loaded: importing it here would cost MLflow's seconds."""
    from risk_model.config import ConfigError
    from risk_model.ingest.parsing import InputFileError

    kinds: list[type[Exception]] = [ConfigError, InputFileError]
    if (store := sys.modules.get("risk_model.tracking.store")) is not None:
        kinds.append(store.TrackingStoreError)
    return isinstance(exc, tuple(kinds))


class _Commands(TyperGroup):
    """The app's commands, each run so that an expected error is one line and exit code 2 (see above)."""

    def invoke(self, ctx: typer.Context) -> Any:
        try:
            return super().invoke(ctx)
        except Exception as exc:
            if ctx.params.get("debug") or not _expected(exc):
                raise
            Console(stderr=True).print(f"[red]error:[/red] {escape(str(exc))}", highlight=False, soft_wrap=True)
            raise typer.Exit(code=2) from None


# Tracebacks without each frame's locals: a frame holding a register would print it.
app = typer.Typer(cls=_Commands, help="Risk scoring for charity regulators: simulate, ingest, train and rank.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_show_locals=False)


@app.callback()
def _global_options(
    debug: Annotated[bool, typer.Option(
        "--debug", envvar="RISK_MODEL_DEBUG", help="Show the traceback of every error, and the libraries' log lines.")
    ] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", envvar="RISK_MODEL_VERBOSE",
                                          help="Show the INFO lines of MLflow and the other libraries.")] = False,
) -> None:
    """Risk scoring for charity regulators: simulate, ingest, train and rank."""
    set_up_output(verbose=verbose or debug)


app.command()(simulate)
app.command()(ingest)
app.command()(train)
app.command("features")(features_command)
app.command()(rank)
app.command()(explain)
app.command()(reproduce)
app.command()(audit)
app.command("train-ccni")(cli_ccni.train_ccni)
app.command("score-ccni")(cli_ccni.score_ccni)
app.command("exits")(cli_ccni.exits)
app.command()(serve)


def run() -> None:
    """The `risk-model` command."""
    app()


if __name__ == "__main__":  # pragma: no cover
    run()
