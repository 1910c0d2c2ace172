"""A team's shared tracking server: `mlflow server` on a PostgreSQL backend store with a local
artifact root. Train against it, then reproduce the run from it.

Needs a PostgreSQL database: set RISK_MODEL_TEST_MLFLOW_POSTGRES_URL (CI does, after installing
PostgreSQL from Debian's packages); otherwise the test is skipped.
"""

import os
import socket
import subprocess
import sys
import time

import httpx
import pytest
import yaml
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from risk_model.cli.main import app
from risk_model.simulate.world import SimulationConfig, simulate, write_world
from risk_model.tracking import manifest as manifest_module

POSTGRES_URL = os.environ.get("RISK_MODEL_TEST_MLFLOW_POSTGRES_URL")
pytestmark = pytest.mark.skipif(
    not POSTGRES_URL, reason="RISK_MODEL_TEST_MLFLOW_POSTGRES_URL is not set: no PostgreSQL for the tracking server"
)
EXPERIMENT = {
    "config_version": 2, "seed": 3,
    "lists": {"proactive": {"capacity": 20, "labels": ["late_return"]},
              "triage": {"capacity": 5, "labels": ["substantiated_given_inquiry"]}},
    "splits": {"first_as_of_year": 2015, "n_folds": 2},
    "models": [{"name": "rule_baseline", "kind": "rule"},
               {"name": "lightgbm", "kind": "lightgbm", "params": {"n_estimators": 30, "max_depth": 3}}],
    "tracking": {"experiment": "shared-server", "registered_model": "shared-risk"},
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _empty_database(url: str) -> None:
    """Drop every table so each test run starts from a fresh tracking store."""
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    url = POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://", 1)
    _empty_database(url)
    artifacts = tmp_path_factory.mktemp("shared_artifacts")
    port = _free_port()
    log = open(artifacts / "server.log", "w")
    process = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", url,
         "--artifacts-destination", str(artifacts), "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
        stdout=log, stderr=subprocess.STDOUT)
    uri = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{uri}/health", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if process.poll() is not None:
            raise RuntimeError(f"mlflow server exited: {(artifacts / 'server.log').read_text()[-2000:]}")
        time.sleep(0.5)
    else:
        process.kill()
        raise RuntimeError("mlflow server did not answer /health within 90 s")
    yield uri
    process.terminate()
    process.wait(timeout=30)
    log.close()


def test_train_against_the_shared_server_then_reproduce_from_it(server, tmp_path, monkeypatch):
    monkeypatch.setattr(manifest_module, "code_version", lambda repo_dir=None: {"commit": "f" * 40, "dirty": False})
    data = tmp_path / "data"
    write_world(simulate(SimulationConfig(charities=1_500, first_year=2012, last_year=2020, seed=4)), data)
    config = tmp_path / "experiment.yaml"
    config.write_text(yaml.safe_dump(EXPERIMENT))
    runner = CliRunner()
    trained = runner.invoke(app, ["train", str(data), "--config", str(config), "--tracking-uri", server],
                            terminal_width=200)
    assert trained.exit_code == 0, trained.output + repr(trained.exception)
    import mlflow

    mlflow.set_tracking_uri(server)
    experiment = mlflow.get_experiment_by_name("shared-server")
    parents = [r for r in mlflow.MlflowClient().search_runs([experiment.experiment_id])
               if r.data.tags.get("job") == "train" and "mlflow.parentRunId" not in r.data.tags]
    assert len(parents) == 1
    run_id = parents[0].info.run_id
    assert mlflow.MlflowClient().get_model_version_by_alias("shared-risk", "champion").version == "1"
    # Artefacts went through the server to its local artifact root.
    assert "manifest.json" in {a.path for a in mlflow.MlflowClient().list_artifacts(run_id)}
    reproduced = runner.invoke(app, ["reproduce", run_id, "--tracking-uri", server], terminal_width=200)
    assert reproduced.exit_code == 0, reproduced.output
    assert "reproduced" in reproduced.output
