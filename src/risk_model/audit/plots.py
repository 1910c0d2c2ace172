"""Figures logged with an audit: group ratios with intervals, outcome rate by band, label bias.

Each function draws one figure to a PNG path; nothing here reads files or talks to MLflow.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from risk_model.audit.fairness import METRICS

_SHORT = {"selection_rate": "selection rate at k", "precision": "precision", "false_positive_rate": "FPR",
          "false_discovery_rate": "FDR", "false_negative_rate": "FNR"}


def _pyplot():
    # deferred on purpose: the Agg backend must be chosen before pyplot is first imported, and
    # only runs that draw pay for matplotlib
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _ratio_panel(ax, table: pd.DataFrame, value: str, low: str, high: str, bounds: tuple[float, float],
                 labels: bool) -> None:
    y = np.arange(len(table))
    finite = table[value].notna().to_numpy()
    ax.axvspan(*bounds, color="#e8f2e8", zorder=0)
    ax.axvline(1.0, color="grey", lw=0.8)
    err = np.vstack([(table[value] - table[low]).clip(lower=0), (table[high] - table[value]).clip(lower=0)])
    colours = np.where((table[value] < bounds[0]) | (table[value] > bounds[1]), "#c0392b", "#2c3e50")
    ax.errorbar(table[value][finite], y[finite], xerr=err[:, finite], fmt="none", ecolor="#7f8c8d", lw=1)
    ax.scatter(table[value][finite], y[finite], c=colours[finite], s=14, zorder=3)
    if labels:  # the panels share their y axis: label and invert it once
        ax.set_yticks(y, [str(g)[:38] for g in table["group"]], fontsize=7)
        ax.invert_yaxis()


def group_ratio_plot(audit: pd.DataFrame, attribute: str, path: Path,
                     bounds: tuple[float, float] = (0.8, 1.25)) -> None:
    """One panel per metric: each group's ratio to the reference with its interval; too-small groups left out."""
    plt = _pyplot()
    rows = audit.loc[(audit["attribute"] == attribute) & (audit["status"] != "too small")]
    groups = rows.loc[rows["metric"] == METRICS[0], "group"].tolist()
    fig, axes = plt.subplots(1, len(METRICS), figsize=(3.0 * len(METRICS) + 2, 0.28 * len(groups) + 1.6),
                             sharey=True)
    for i, (ax, metric) in enumerate(zip(axes, METRICS)):
        table = rows.loc[rows["metric"] == metric].set_index("group").reindex(groups).reset_index()
        _ratio_panel(ax, table, "ratio", "ratio_low", "ratio_high", bounds, labels=i == 0)
        ax.set_title(_SHORT[metric], fontsize=9)
        ax.set_xlabel("ratio to reference", fontsize=8)
    reference = rows["reference_group"].iloc[0] if len(rows) else ""
    fig.suptitle(f"{attribute}: ratio to {reference} (95% bootstrap intervals; band 0.8-1.25)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def band_rate_plot(deciles: pd.DataFrame, bands: pd.DataFrame, path: Path) -> None:
    """Outcome rate by score decile and by risk band, with Wilson intervals; flagged bands in red."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, table, title in ((axes[0], deciles, "score decile (1 = lowest)"), (axes[1], bands, "risk band")):
        x = np.arange(len(table))
        rate = table["outcome_rate"].to_numpy(dtype=float)
        err = np.vstack([rate - table["rate_low"], table["rate_high"] - rate]).clip(min=0)
        ax.errorbar(x, rate, yerr=err, fmt="-", color="#2c3e50", ecolor="#7f8c8d", lw=1)
        ax.scatter(x, rate, c=np.where(table["flag"] != "", "#c0392b", "#2c3e50"), zorder=3)
        ax.set_xticks(x, table["band"].astype(str))
        ax.set_xlabel(title)
        ax.set_ylabel("outcome rate (pooled over folds)")
    fig.suptitle("Does the outcome rate rise with the score? (red: does not rise)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def label_bias_plot(table: pd.DataFrame, attribute: str, path: Path, bounds: tuple[float, float] = (0.8, 1.25)) -> None:
    """Over-selection (model / true-risk selections) and relative labels per misconduct, per group."""
    plt = _pyplot()
    rows = table.loc[(table["attribute"] == attribute) & (table["status"] != "too small")].reset_index(drop=True)
    fig, axes = plt.subplots(1, 2, figsize=(10, 0.28 * len(rows) + 1.6), sharey=True)
    _ratio_panel(axes[0], rows, "over_selection", "over_selection_low", "over_selection_high", bounds, labels=True)
    axes[0].set_title("model selections / true-risk selections", fontsize=9)
    _ratio_panel(axes[1], rows, "labels_per_misconduct_relative", "labels_per_misconduct_low",
                 "labels_per_misconduct_high", bounds, labels=False)
    axes[1].set_title("labels per misconduct, relative to all", fontsize=9)
    fig.suptitle(f"Label bias by {attribute} (simulated truth; 95% bootstrap intervals)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
