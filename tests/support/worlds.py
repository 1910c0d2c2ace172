"""The simulated worlds tests share, the small experiment trained on them, and where the real
extracts are."""

from __future__ import annotations

import os
from pathlib import Path

from risk_model.simulate.settings import SimulationConfig

SMALL_WORLD = SimulationConfig(charities=3_000, first_year=2010, last_year=2021, seed=7)


def shared_data_dir() -> Path:
    """The real regulator extracts: $RISK_MODEL_SHARED_DATA, else ../shared/data beside the checkout."""
    env = os.environ.get("RISK_MODEL_SHARED_DATA")
    return Path(env) if env else Path(__file__).resolve().parents[3] / "shared" / "data"


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
