"""`risk-model serve`: start the scoring service under uvicorn.

Settings come from `RISK_SERVE_*` environment variables (see `serve/settings.py`); the options
below set the most common ones for this run. Registered in `cli.main` with `app.command()(serve)`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer


def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes (each loads the model).")] = 1,
    data_dir: Annotated[Path | None, typer.Option(help="Regulator data folder (RISK_SERVE_DATA_DIR).")] = None,
    database_url: Annotated[str | None, typer.Option(help="Service database URL (RISK_SERVE_DATABASE_URL).")] = None,
    tracking_uri: Annotated[str | None, typer.Option(help="MLflow tracking URI (RISK_SERVE_TRACKING_URI).")] = None,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
) -> None:
    """Serve scores, rankings, charity pages and feedback over HTTP, with the champion model."""
    import uvicorn

    for name, value in (("DATA_DIR", data_dir), ("DATABASE_URL", database_url), ("TRACKING_URI", tracking_uri)):
        if value is not None:
            # Set in the environment so that every worker process reads the same settings.
            os.environ[f"RISK_SERVE_{name}"] = str(value)
    uvicorn.run("serve.main:create_app_from_env", factory=True, host=host, port=port, workers=workers,
                log_level=log_level)


if __name__ == "__main__":
    typer.run(serve)
