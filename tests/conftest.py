"""Shared fixtures: the small simulated world, ingested and trained once per session, and the service
tests' trained world."""

from __future__ import annotations

import os
from pathlib import Path

import mlflow
import pytest
import yaml
from typer.testing import CliRunner

from risk_model.cli.main import app
from risk_model.ingest.folder import ingest_folder
from risk_model.simulate.world import simulate, write_world
from tests.support import serve as serve_support
from tests.support.worlds import SMALL_EXPERIMENT, SMALL_WORLD

# The browser tests' fixtures (the app on loopback, Chromium, a signed-in page per role).
pytest_plugins = ["tests.support.browser"]


@pytest.fixture(scope="session")
def small_world_dir(tmp_path_factory) -> Path:
    """A simulated data folder: 3,000 charities, 2010-2021."""
    out = tmp_path_factory.mktemp("small_world")
    write_world(simulate(SMALL_WORLD), out)
    return out


@pytest.fixture(scope="session")
def world(tmp_path_factory):
    """The service tests' world: simulated, trained, its champion registered and a second version (the
    challenger the reload tests promote) beside it, once a session."""
    return serve_support.train_world(tmp_path_factory)


@pytest.fixture
def own_world(world, tmp_path):
    """The service tests' world with a model registry of its own, for a test that moves the champion."""
    return serve_support.own_registry(world, tmp_path)


@pytest.fixture(scope="session")
def world_tables(world):
    """The service tests' world, ingested."""
    return ingest_folder(world.data_dir)


@pytest.fixture(scope="session")
def small_world(small_world_dir):
    """The small simulated world, ingested."""
    return ingest_folder(small_world_dir)




@pytest.fixture(scope="session")
def trained(small_world_dir, tmp_path_factory):
    """A small experiment trained through the CLI: (work dir, config path, tracking URI, output)."""
    work = tmp_path_factory.mktemp("e2e")
    config = work / "experiment.yaml"
    config.write_text(yaml.safe_dump(SMALL_EXPERIMENT))
    uri = f"sqlite:///{work / 'mlflow.db'}"
    runner = CliRunner()
    result = runner.invoke(app, ["train", str(small_world_dir), "--config", str(config), "--tracking-uri", uri,
                                 "--store", str(work / "mlruns")])
    assert result.exit_code == 0, result.output + repr(result.exception)
    return work, config, uri, result.output


# Fixtures that train a world (or ingest one twice, or fit the real CCNI benchmark): a test that asks
# for one is slow, whatever its own body costs.
SLOW_FIXTURES = frozenset({"trained", "trained_run", "world", "world_tables", "challenger", "service",
                           "whole_and_chunked", "benchmark"})


def pytest_collection_modifyitems(config, items):
    """Mark every test that needs a trained world `slow`, so that `-m "not slow"` is the inner loop."""
    for item in items:
        if SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(autouse=True)
def _tracking_uri_left_as_found():
    """MLflow's tracking URI is process-global: whatever a test sets, the next test starts from the
    URI the session had, so no test depends on which ran before it."""
    before = mlflow.get_tracking_uri()
    # Setting the URI also sets $MLFLOW_TRACKING_URI, which later subprocesses would inherit.
    variable = os.environ.get("MLFLOW_TRACKING_URI")
    yield
    mlflow.set_tracking_uri(before)
    if variable is None:
        os.environ.pop("MLFLOW_TRACKING_URI", None)
    else:
        os.environ["MLFLOW_TRACKING_URI"] = variable
