"""Shared fixtures: a small simulated world, ingested once per session, and the real-data folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

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
def small_world(small_world_dir):
    """The small simulated world, ingested."""
    return ingest_folder(small_world_dir)
