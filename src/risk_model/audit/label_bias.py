"""Label-bias check, on simulated data: where do complaint-driven labels distort the list?

The simulator knows each charity's true risk, so each fold's list can be set beside the list the
true risk would have drawn (its own top k). Per group:

- over-selection = the model's selections / the true-risk ranking's selections. Both pick k per
  fold, so a ratio above 1 means the model lists the group more often than its true risk
  warrants; outside 0.8-1.25 it is flagged.
- labels per misconduct, relative = (label rate / misconduct rate in the group) over the same
  ratio for everyone: above 1, the group's misconduct is more often turned into a label (more
  complaints, more inquiries), which is how a model learns to over-select it.

Intervals come from the same within-fold bootstrap as the bias audit.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from risk_model.audit.fairness import (
    AuditSettings,
    bootstrap_cell_counts,
    bootstrap_interval,
    group_labels,
    in_group_order,
    ratio_status,
)
from risk_model.features import GROUP_ATTRIBUTES

LABEL_BIAS_COLUMNS: tuple[str, ...] = (
    "attribute", "group", "n", "model_selected", "true_risk_selected", "over_selection", "over_selection_low",
    "over_selection_high", "label_rate", "misconduct_rate", "labels_per_misconduct_relative",
    "labels_per_misconduct_low", "labels_per_misconduct_high", "status",
)
_INDICATORS: tuple[str, ...] = ("selected", "selected_true_risk", "label", "misconduct")


def select_true_risk_top_k(ranked: pd.DataFrame, capacity_k: int) -> pd.Series:
    """Whether each row is among its fold's k highest true risks (ties by charity number)."""
    ordered = ranked.sort_values(["fold", "true_risk", "charity_number"], ascending=[True, False, True],
                                 kind="stable")
    top = ordered.groupby("fold", sort=False).cumcount() < capacity_k
    return top.reindex(ranked.index)


def _sums(cells: np.ndarray) -> dict[str, np.ndarray]:
    """Per indicator, the count of rows with it set, from cells numbered by indicator bits."""
    n_cells = cells.shape[-1]
    return {name: cells[..., [c for c in range(n_cells) if c >> j & 1]].sum(axis=-1).astype(float)
            for j, name in enumerate(_INDICATORS)} | {"n": cells.sum(axis=-1).astype(float)}


def _measures(sums: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    with np.errstate(divide="ignore", invalid="ignore"):
        over = sums["selected"] / sums["selected_true_risk"]
        per_group = sums["label"] / sums["misconduct"]
        overall = sums["label"].sum(axis=-1, keepdims=True) / sums["misconduct"].sum(axis=-1, keepdims=True)
        return over, per_group / overall


def label_bias(
    ranked: pd.DataFrame,
    capacity_k: int,
    settings: AuditSettings = AuditSettings(),
    attributes: tuple[str, ...] = GROUP_ATTRIBUTES,
) -> pd.DataFrame:
    """LABEL_BIAS_COLUMNS per attribute and group.

    `ranked` comes from `audit.select_top_k` and carries `true_risk` (the true-risk score) and
    `misconduct` (0/1 truth) for every row.
    """
    if ranked[["label", "misconduct", "true_risk"]].isna().any().any():
        raise ValueError("the label-bias check needs label, misconduct and true_risk on every row")
    frame = ranked.assign(selected_true_risk=select_true_risk_top_k(ranked, capacity_k))
    indicators = frame[list(_INDICATORS)].astype(bool)
    rng = np.random.default_rng(settings.seed)
    parts = []
    for attribute in attributes:
        names, observed, boot = bootstrap_cell_counts(group_labels(frame[attribute], attribute), indicators,
                                                      frame["fold"], settings.n_boot, rng)
        sums = _sums(observed)
        over, relative = _measures(sums)
        boot_over, boot_relative = _measures(_sums(boot))
        over_low, over_high = bootstrap_interval(boot_over, settings.confidence)
        rel_low, rel_high = bootstrap_interval(boot_relative, settings.confidence)
        small = sums["n"] < settings.min_group_size
        hide_over = small | ~np.isfinite(over)  # too small, or no true-risk selections to compare with
        hide_relative = small | ~np.isfinite(relative)
        with np.errstate(divide="ignore", invalid="ignore"):
            label_rate, misconduct_rate = sums["label"] / sums["n"], sums["misconduct"] / sums["n"]
        parts.append(in_group_order(pd.DataFrame({
            "attribute": attribute, "group": names, "n": sums["n"].astype(int),
            "model_selected": sums["selected"].astype(int),
            "true_risk_selected": sums["selected_true_risk"].astype(int),
            "over_selection": np.where(hide_over, np.nan, over),
            "over_selection_low": np.where(hide_over, np.nan, over_low),
            "over_selection_high": np.where(hide_over, np.nan, over_high),
            "label_rate": label_rate, "misconduct_rate": misconduct_rate,
            "labels_per_misconduct_relative": np.where(hide_relative, np.nan, relative),
            "labels_per_misconduct_low": np.where(hide_relative, np.nan, rel_low),
            "labels_per_misconduct_high": np.where(hide_relative, np.nan, rel_high),
            "status": ["too small" if tiny else ratio_status(r, settings.ratio_bounds) for r, tiny in zip(over, small)],
        }), attribute))
    return pd.concat(parts, ignore_index=True)[list(LABEL_BIAS_COLUMNS)]
