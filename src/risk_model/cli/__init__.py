"""The `risk-model` command line: one Typer app whose commands are thin wrappers over the library."""
