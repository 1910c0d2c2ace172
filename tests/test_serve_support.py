"""Shared set-up for the service tests (no tests here): a small world, trained once per session.

The model is trained through the CLI on a small simulated world, as `risk-model train` would,
with two logistic regressions in the grid so that the reload tests have a second, different
model to promote. The PostgreSQL tests run when RISK_SERVE_TEST_POSTGRES_URL names a database.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from pathlib import Path

import mlflow
import pytest
import yaml
from mlflow.tracking import MlflowClient
from sqlalchemy import create_engine
from typer.testing import CliRunner

from risk_model.cli import app as cli_app
from risk_model.ingest import ingest_folder
from risk_model.simulate import SimulationConfig, simulate, write_world
from serve.db import Base, normalise_url
from serve.security import Principal, Role, hash_api_key
from serve.settings import ApiKey, Settings

WORLD = SimulationConfig(charities=1500, first_year=2012, last_year=2021, seed=5)
REGISTERED_MODEL = "serve-test-risk"
EXPERIMENT = {
    "config_version": 1,
    "seed": 5,
    "splits": {"first_as_of_year": 2016, "n_folds": 2},
    "models": [
        {"name": "logistic", "kind": "logistic", "params": {"C": 0.1, "max_iter": 500}},
        {"name": "logistic_loose", "kind": "logistic", "params": {"C": 10.0, "max_iter": 500}},
    ],
    "evaluation": {"capacity_k": 30},
    "tracking": {"experiment": "serve-tests", "registered_model": REGISTERED_MODEL},
}
KEYS: dict[Role, str] = {role: f"plain-test-key-for-{role.value}" for role in Role}
POSTGRES_ENV = "RISK_SERVE_TEST_POSTGRES_URL"
BACKENDS = ("sqlite", "postgresql")


@dataclass(frozen=True)
class TrainedWorld:
    """A simulated data folder and an MLflow store holding its trained champion."""

    data_dir: Path
    tracking_uri: str
    store_dir: Path
    champion_version: str


_tables = None


def train_world(tmp_path_factory: pytest.TempPathFactory) -> TrainedWorld:
    """Simulate the small served world and train it through the CLI (conftest's `world` does it once)."""
    work = tmp_path_factory.mktemp("serve_world")
    write_world(simulate(WORLD), work / "data")
    config = work / "experiment.yaml"
    config.write_text(yaml.safe_dump(EXPERIMENT))
    uri = f"sqlite:///{work / 'mlflow.db'}"
    result = CliRunner().invoke(cli_app, ["train", str(work / "data"), "--config", str(config),
                                          "--tracking-uri", uri, "--store", str(work / "mlruns")])
    assert result.exit_code == 0, result.output + repr(result.exception)
    version = MlflowClient(tracking_uri=uri).get_model_version_by_alias(REGISTERED_MODEL, "champion").version
    return TrainedWorld(work / "data", uri, work / "mlruns", str(version))


def world_tables(world: TrainedWorld):
    """The world's data, ingested (once)."""
    global _tables
    if _tables is None:
        _tables = ingest_folder(world.data_dir)
    return _tables


def database_url(backend: str, folder: Path) -> str:
    """A fresh, empty database of the backend: a new SQLite file, or the test PostgreSQL emptied."""
    if backend == "sqlite":
        return f"sqlite:///{folder / f'service-{uuid.uuid4().hex[:8]}.db'}"
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        pytest.skip(f"{POSTGRES_ENV} is not set: the PostgreSQL tests need a server and an empty database "
                    "(.ci/run installs and starts one)")
    engine = create_engine(normalise_url(url))
    Base.metadata.drop_all(engine)
    engine.dispose()
    return url


def settings_for(world: TrainedWorld, url: str, **overrides) -> Settings:
    """Service settings for the trained world, with one key per role."""
    keys = tuple(ApiKey(name=f"{role.value}-tester", role=role, sha256=hash_api_key(key)) for role, key in KEYS.items())
    values = {"data_dir": world.data_dir, "database_url": url, "tracking_uri": world.tracking_uri,
              "store_dir": world.store_dir, "experiment": "serve-tests", "registered_model": REGISTERED_MODEL,
              "capacity_k": 30, "api_keys": keys} | overrides
    return Settings(**values)


def headers(role: Role) -> dict[str, str]:
    return {"X-API-Key": KEYS[role]}


ADMIN = Principal("override-admin", Role.admin)


def promote_other_model(world: TrainedWorld) -> str:
    """Register the grid model that is not champion as a new version and make it champion."""
    client = MlflowClient(tracking_uri=world.tracking_uri)
    champion = client.get_model_version_by_alias(REGISTERED_MODEL, "champion")
    parent = client.get_run(champion.tags["parent_run_id"])
    children = client.search_runs([parent.info.experiment_id],
                                  filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}'")
    other = next(r for r in children if r.data.tags["model"] != champion.tags["model"])
    mlflow.set_tracking_uri(world.tracking_uri)
    version = mlflow.register_model(f"runs:/{other.info.run_id}/model", REGISTERED_MODEL)
    client.set_model_version_tag(REGISTERED_MODEL, version.version, "model", other.data.tags["model"])
    client.set_registered_model_alias(REGISTERED_MODEL, "champion", version.version)
    return str(version.version)


def restore_champion(world: TrainedWorld) -> None:
    MlflowClient(tracking_uri=world.tracking_uri).set_registered_model_alias(REGISTERED_MODEL, "champion",
                                                                             world.champion_version)
