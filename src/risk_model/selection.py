"""Each review list's candidates, and the choice of its champion among them.

A candidate is a model of the grid trained for one list on one of the list's label definitions
(rules and queues on the list's target only). The champion of each list is the candidate with the
best mean of the list's selection metric over every fold but the latest; the latest fold, which
played no part in that choice, gives the figures quoted as expected performance (`holdout_*`),
and `train` calibrates the champion's scores on it.

Reads fold metrics and out-of-fold predictions only: it never fits a model nor reads the truth.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from risk_model.config import ExperimentConfig, ModelSpec
from risk_model.evaluate import summarise_folds
from risk_model.lists.membership import REVIEW_LISTS
from risk_model.splits import TemporalFold


@dataclass(frozen=True)
class Candidate:
    """A model of the grid trained for one list on one label definition."""

    review_list: str
    spec: ModelSpec
    label: str

    @property
    def name(self) -> str:
        return f"{self.spec.name} on {self.label}"


def candidates(config: ExperimentConfig) -> list[Candidate]:
    """Every list's candidates: each grid model on each of the list's labels (rules on the target only)."""
    out = []
    for name in REVIEW_LISTS:
        labels = getattr(config.lists, name).labels
        for spec in config.models:
            for label in (labels[:1] if spec.kind in {"rule", "queue"} else labels):
                out.append(Candidate(name, spec, label))
    return out


def summarise(fold_metrics: pd.DataFrame, folds: list[TemporalFold]) -> pd.DataFrame:
    """One row per (list, model): means and spreads over the selection folds (every fold but the
    latest), and the latest fold's own figures (`holdout_*`)."""
    holdout = folds[-1].name
    out = []
    for (name, model), group in fold_metrics.groupby(["review_list", "model"], sort=False):
        choosing = group.loc[group["fold"] != holdout]
        latest = group.loc[group["fold"] == holdout]
        row = {"review_list": name, "model": model, "label_definition": group["label_definition"].iloc[0],
               **summarise_folds(choosing.drop(columns=["fold", "test_as_of", "review_list", "model",
                                                        "label_definition"]))}
        if len(latest):
            for column in ("precision_at_k", "recall_at_k", "auc_pr", "auc_roc", "brier", "brier_skill", "base_rate",
                           "positives", "n"):
                if column in latest:
                    row[f"holdout_{column}"] = float(latest[column].iloc[0])
        out.append(row)
    return pd.DataFrame(out).set_index(["review_list", "model"])


def candidates_in_order(summary: pd.DataFrame, config: ExperimentConfig, name: str) -> list[str]:
    """A list's candidates, best mean selection metric over the selection folds first (ties: the
    earlier in the grid; a candidate never scored last); references are never candidates."""
    metric = f"{getattr(config.lists, name).selection_metric}_mean"
    grid = [c.name for c in candidates(config) if c.review_list == name]
    values = pd.Series([summary[metric].get((name, g), np.nan) if metric in summary else np.nan for g in grid],
                       index=grid, dtype=float)
    return list(values.sort_values(ascending=False, kind="stable", na_position="last").index)


def choose_champions(summary: pd.DataFrame, config: ExperimentConfig) -> dict[str, str]:
    """Per list, the candidate with the best mean selection metric over the selection folds."""
    return {name: candidates_in_order(summary, config, name)[0] for name in REVIEW_LISTS}


def champion_description(champions: dict[str, str]) -> str:
    """'proactive: lightgbm on substantiated; triage: ...': what a registered version holds."""
    return "; ".join(f"{name}: {champions[name]}" for name in REVIEW_LISTS)
