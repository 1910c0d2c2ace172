"""`python -m risk_model.cli`: the `risk-model` command."""

from risk_model.cli.main import run

run()
