"""The `risk-model` command line (`risk_model.cli.main:run`, around the app): the Typer app, with every command registered
in the order `--help` lists them. The commands live in `cli.data`, `cli.runs`, `cli.lists`, `cli.audit`,
`cli.ccni` and `cli.serve`; what several of them share is in `cli.common`.
"""

from __future__ import annotations

import typer
from rich.console import Console

# The command line is the edge of the pipeline: files, MLflow and the terminal are touched in the
# command modules and in `tracking`, and every stage in between is a pure function of frames and a
# typed config. Each command imports the library inside its body, on purpose: the library brings in
# MLflow, LightGBM and shap (about 4 s of imports on a 2-core machine, against 1 s for these modules),
# which `--help`, `simulate` and a mistyped option must not wait for. So the command modules import
# nothing heavy at load time, and nothing in them computes: a command parses its options, calls
# library functions and prints.
from risk_model.cli import ccni as cli_ccni
from risk_model.cli.audit import audit
from risk_model.cli.data import features_command, ingest, simulate
from risk_model.cli.lists import explain, rank
from risk_model.cli.runs import reproduce, train
from risk_model.cli.serve import serve

app = typer.Typer(help="Risk scoring for charity regulators: simulate, ingest, train and rank.",
                  no_args_is_help=True, add_completion=False)

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
    """The `risk-model` command: an input the user can fix (a missing folder or file, a bad row, an
    invalid experiment file) ends in one line naming it and exit code 2, not a traceback."""
    try:
        app()
    except Exception as exc:
        from risk_model.config import ConfigError
        from risk_model.ingest.parsing import InputFileError

        if not isinstance(exc, (ConfigError, InputFileError)):
            raise
        Console(stderr=True).print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        raise SystemExit(2) from None


if __name__ == "__main__":  # pragma: no cover
    run()
