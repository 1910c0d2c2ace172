"""Shared fixtures: a small simulated world, ingested once per session, and the real-data folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from risk_model.cli import app
from risk_model.ingest import ingest_folder
from risk_model.simulate import SimulationConfig, simulate, write_world

SMALL_WORLD = SimulationConfig(charities=3_000, first_year=2010, last_year=2021, seed=7)


def shared_data_dir() -> Path:
    """The real regulator extracts: $RISK_MODEL_SHARED_DATA, else ../shared/data beside the checkout."""
    env = os.environ.get("RISK_MODEL_SHARED_DATA")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "shared" / "data"


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
    from tests import test_serve_support

    return test_serve_support.train_world(tmp_path_factory)


@pytest.fixture(scope="session")
def small_world(small_world_dir):
    """The small simulated world, ingested."""
    return ingest_folder(small_world_dir)


SMALL_EXPERIMENT = {
    "config_version": 2,
    "seed": 11,
    # The proactive list learns late returns: plenty of positives even in a small world.
    "lists": {"proactive": {"capacity": 30, "labels": ["late_return", "substantiated"]},
              "triage": {"capacity": 8, "labels": ["substantiated_given_inquiry"]}},
    "splits": {"first_as_of_year": 2013, "n_folds": 2},
    "models": [
        {"name": "rule_baseline", "kind": "rule"},
        {"name": "logistic", "kind": "logistic", "params": {"C": 0.1, "max_iter": 500}},
        {"name": "lightgbm", "kind": "lightgbm", "params": {"n_estimators": 40, "num_leaves": 7,
                                                            "min_child_samples": 20}},
    ],
    "tracking": {"experiment": "e2e", "registered_model": "e2e-risk"},
}


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
