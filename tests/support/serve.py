"""Shared set-up for the service tests (no tests here): a small world, trained once per session.

The model is trained through the CLI on a small simulated world, as `risk-model train` would: the
two review lists with a logistic regression each. Candidate runs hold no model, so the reload tests'
second, different version is the same world trained again by the library with another grid entry
and seed, and other capacities, registered as the CLI registers one but not made champion.
The PostgreSQL tests run when RISK_SERVE_TEST_POSTGRES_URL names a database.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from dataclasses import dataclass, replace
from pathlib import Path

import mlflow
import mlflow.sklearn
import pytest
import yaml
from mlflow.tracking import MlflowClient
from sqlalchemy import create_engine, make_url, text
from typer.testing import CliRunner

from risk_model.cli.main import app as cli_app
from risk_model.config import ExperimentConfig
from risk_model.ingest.folder import ingest_folder
from risk_model.selection import champion_description
from risk_model.simulate.world import SimulationConfig, simulate, write_world
from risk_model.tracking import runs as tracking
from risk_model.tracking.store import TRUSTED_TYPES
from risk_model.train import run_training
from serve.internal.db import Base, normalise_url
from serve.internal.security import Principal, Role, hash_api_key
from serve.settings import ApiKey, Settings

# A world extracted on 2021-12-31 with a few open concerns, so that both lists hold charities.
WORLD = SimulationConfig(charities=1500, first_year=2012, last_year=2021, seed=3)
REGISTERED_MODEL = "serve-test-risk"
# Capacities below each list's size at the extract date (about 1,140 proactive, 13 triage), so that
# within_capacity is true for some of each list and false for the rest.
CAPACITIES = {"proactive": 30, "triage": 4}
CHALLENGER_CAPACITIES = {"proactive": 25, "triage": 3}
EXPERIMENT = {
    "config_version": 2,
    "seed": 5,
    "lists": {"proactive": {"capacity": CAPACITIES["proactive"], "labels": ["substantiated"]},
              "triage": {"capacity": CAPACITIES["triage"], "labels": ["substantiated_given_inquiry"]}},
    "splits": {"first_as_of_year": 2016, "n_folds": 2},
    "models": [{"name": "logistic", "kind": "logistic", "params": {"C": 0.1, "max_iter": 500}}],
    "evaluation": {"n_boot": 100},
    "tracking": {"experiment": "serve-tests", "registered_model": REGISTERED_MODEL},
}
CHALLENGER = EXPERIMENT | {
    "seed": 6,
    "lists": {"proactive": {"capacity": CHALLENGER_CAPACITIES["proactive"], "labels": ["substantiated"]},
              "triage": {"capacity": CHALLENGER_CAPACITIES["triage"], "labels": ["substantiated_given_inquiry"]}},
    "models": [{"name": "logistic_loose", "kind": "logistic", "params": {"C": 10.0, "max_iter": 500}}],
}
KEYS: dict[Role, str] = {role: f"plain-test-key-for-{role.value}" for role in Role}
POSTGRES_ENV = "RISK_SERVE_TEST_POSTGRES_URL"
BACKENDS = ("sqlite", "postgresql")


@dataclass(frozen=True)
class TrainedWorld:
    """A simulated data folder and an MLflow store holding its trained champion and a challenger."""

    data_dir: Path
    tracking_uri: str
    store_dir: Path
    champion_version: str
    challenger_version: str




def train_world(tmp_path_factory: pytest.TempPathFactory) -> TrainedWorld:
    """Simulate the small served world, train it through the CLI and register a challenger (conftest's
    `world` does it once)."""
    work = tmp_path_factory.mktemp("serve_world")
    write_world(simulate(WORLD), work / "data")
    config = work / "experiment.yaml"
    config.write_text(yaml.safe_dump(EXPERIMENT))
    uri = f"sqlite:///{work / 'mlflow.db'}"
    result = CliRunner().invoke(cli_app, ["train", str(work / "data"), "--config", str(config),
                                          "--tracking-uri", uri, "--store", str(work / "mlruns")])
    assert result.exit_code == 0, result.output + repr(result.exception)
    version = MlflowClient(tracking_uri=uri).get_model_version_by_alias(REGISTERED_MODEL, "champion").version
    challenger = register_challenger(work / "data", uri)
    return TrainedWorld(work / "data", uri, work / "mlruns", str(version), challenger)


def register_challenger(data_dir: Path, uri: str) -> str:
    """Train the world again with the CHALLENGER grid and register its review lists as a new version,
    tagged as `tracking.log_training` tags one, without moving the champion alias."""
    config = ExperimentConfig.model_validate(CHALLENGER)
    tables = ingest_folder(data_dir)
    result = run_training(tables.register, tables.returns, tables.case_log, config)
    mlflow.set_tracking_uri(uri)
    mlflow.set_experiment(config.tracking.experiment)
    with mlflow.start_run(run_name="challenger review lists (tests)") as run:
        info = mlflow.sklearn.log_model(
            result.final_model, name="model", serialization_format="skops", skops_trusted_types=TRUSTED_TYPES,
            pip_requirements=tracking.model_requirements())
    version = mlflow.register_model(info.model_uri, REGISTERED_MODEL, tags={"run_id": run.info.run_id})
    client = MlflowClient(tracking_uri=uri)
    for key, value in {"model": champion_description(result.champions),
                       "capacities": json.dumps(result.capacities)}.items():
        client.set_model_version_tag(REGISTERED_MODEL, version.version, key, value)
    return str(version.version)


def database_url(backend: str, folder: Path) -> str:
    """A fresh, empty database of the backend: a new SQLite file, or the test PostgreSQL emptied."""
    if backend == "sqlite":
        return f"sqlite:///{folder / f'service-{uuid.uuid4().hex[:8]}.db'}"
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        pytest.skip(f"{POSTGRES_ENV} is not set: the PostgreSQL tests need a server and an empty database "
                    "(.ci/run installs and starts one)")
    url = worker_schema(url)
    # A lock held by a connection some test left open fails here, naming the table, instead of waiting for ever.
    options = " ".join(filter(None, [make_url(url).query.get("options"), "-c lock_timeout=60s"]))
    engine = create_engine(normalise_url(url), connect_args={"options": options})
    Base.metadata.drop_all(engine)
    engine.dispose()
    return url


def worker_schema(url: str) -> str:
    """The test database for this test process: under pytest-xdist, each worker (gw0, gw1, ...) has a
    schema of its own in the one database (made if missing), which the URL names as its search path,
    so that two processes' tests never empty each other's tables. Run alone: the URL as it is."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if not worker.isalnum():
        return url
    schema = f"tests_{worker}"
    engine = create_engine(normalise_url(url))
    with engine.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
    engine.dispose()
    return make_url(url).update_query_dict({"options": f"-c search_path={schema}"}).render_as_string(
        hide_password=False)


def settings_for(world: TrainedWorld, url: str, **overrides) -> Settings:
    """Service settings for the trained world, with one key per role."""
    keys = tuple(ApiKey(name=f"{role.value}-tester", role=role, sha256=hash_api_key(key)) for role, key in KEYS.items())
    values = {"data_dir": world.data_dir, "database_url": url, "tracking_uri": world.tracking_uri,
              "store_dir": world.store_dir, "registered_model": REGISTERED_MODEL,
              "api_keys": keys} | overrides
    return Settings(**values)


def headers(role: Role) -> dict[str, str]:
    return {"X-API-Key": KEYS[role]}


def wait_for_job(client, accepted, headers: dict[str, str] | None = None, timeout_s: float = 300) -> dict:
    """Poll the list job a 202 answer names (its Location) until it is done or failed; its last status."""
    assert accepted.status_code == 202, accepted.text
    location = accepted.headers["location"]
    deadline = time.monotonic() + timeout_s
    while True:
        job = client.get(location, headers=headers or {}).json()
        if job["status"] in ("done", "failed") or time.monotonic() > deadline:
            return job
        time.sleep(0.2)


ADMIN = Principal("override-admin", Role.admin)


def own_registry(world: TrainedWorld, folder: Path) -> TrainedWorld:
    """The world with a model registry of its own: a copy of its MLflow database in `folder`, for a
    test that moves the champion alias or registers versions. The artifacts stay where they are and
    are only read, so no other test sees what this one changes."""
    copy = folder / "mlflow.db"
    shutil.copyfile(Path(world.tracking_uri.removeprefix("sqlite:///")), copy)
    return replace(world, tracking_uri=f"sqlite:///{copy}")


def promote_other_model(world: TrainedWorld) -> str:
    """Make the challenger (the world's second registered version) champion (in a registry of its own)."""
    MlflowClient(tracking_uri=world.tracking_uri).set_registered_model_alias(REGISTERED_MODEL, "champion",
                                                                             world.challenger_version)
    return world.challenger_version


def restore_champion(world: TrainedWorld) -> None:
    MlflowClient(tracking_uri=world.tracking_uri).set_registered_model_alias(REGISTERED_MODEL, "champion",
                                                                             world.champion_version)
