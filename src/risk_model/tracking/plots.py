"""Figures logged with each run: precision at k, calibration, and the global explanation views.

Each function draws one figure to a PNG path; nothing here reads files or talks to MLflow.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from risk_model.domain.factors import FACTOR_BY_ID


def _pyplot():
    # deferred on purpose: the Agg backend must be chosen before pyplot is first imported, and
    # only runs that draw pay for matplotlib
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def precision_at_k_plot(panels: dict[str, pd.DataFrame], capacity_k: int, path: Path) -> None:
    """Precision at k per model, one panel per measure (title -> columns model, k, precision), the
    capacity marked; references drawn dashed."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(panels), figsize=(6.5 * len(panels), 4.5), squeeze=False)
    for ax, (title, curve) in zip(axes[0], panels.items()):
        for model, group in curve.groupby("model", sort=False):
            reference = model in {"true_risk", "full_information", "regulator"}
            ax.plot(group["k"], group["precision"], "--" if reference else "-", label=model)
        ax.axvline(capacity_k, color="grey", lw=0.8, ls=":", label=f"capacity k={capacity_k}")
        ax.set_xlabel("k (charities taken, top of the list)")
        ax.set_ylabel("precision at k (mean over temporal folds)")
        ax.set_title(title)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# A panel whose points span more than this factor is drawn on log-like axes: on linear ones a model
# whose deciles run from 0.001 to 0.03 has nine of its ten points sitting at zero.
_LOG_SPREAD = 20


def _calibration_panel(ax, model: str, table: pd.DataFrame) -> None:
    """One model's calibration, both axes on the range of its own points (and the diagonal)."""
    values = np.concatenate([table["mean_predicted"], table["observed_rate"]]).astype(float)
    values = values[np.isfinite(values)]
    high = float(values.max()) if len(values) and values.max() > 0 else 1.0
    positive = values[values > 0]
    floor = float(positive.min()) if len(positive) else high
    logged = high > _LOG_SPREAD * floor
    if logged:
        # symlog: linear below the smallest positive value, so a bin with no positives still shows, at 0
        ax.set_xscale("symlog", linthresh=floor, linscale=0.5)
        ax.set_yscale("symlog", linthresh=floor, linscale=0.5)
        limits = (0.0, high * 1.4)
        # 0 and the powers of ten in the points' range (the locator's own ticks crowd the linear part)
        decades = range(int(np.ceil(np.log10(floor))), int(np.floor(np.log10(limits[1]))) + 1)
        ticks = [0.0, *(10.0 ** e for e in decades)]
        ax.set_xticks(ticks)
        ax.set_yticks(ticks)
    else:
        low = float(values.min()) if len(values) else 0.0
        margin = (high - low) * 0.08 or high * 0.1
        limits = (max(0.0, low - margin), high + margin)
    ax.plot(table["mean_predicted"], table["observed_rate"], "o-")
    # drawn through many points: on symlog axes a straight segment between two would not follow y = x
    diagonal = np.linspace(*limits, 200)
    ax.plot(diagonal, diagonal, color="grey", lw=0.8, ls=":")
    ax.set_xlim(*limits)
    ax.set_ylim(*limits)
    for axis in (ax.xaxis, ax.yaxis):
        axis.set_major_formatter(_plain_number())
    ax.set_title(model + (" (log scale)" if logged else ""), fontsize=8)
    ax.set_xlabel("mean score (decile)", fontsize=8)
    ax.set_ylabel("observed rate", fontsize=8)
    ax.tick_params(labelsize=7)


def _plain_number():
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda value, _: f"{value:.3g}")


def calibration_figure(tables: dict[str, pd.DataFrame]):
    """Observed rate against mean predicted probability per score bin: one panel per model, each on
    the range of its own points, so a model whose scores are small is read as clearly as one whose are large."""
    plt = _pyplot()
    n = max(len(tables), 1)
    cols = min(n, 3)
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.8 * rows), squeeze=False)
    for ax in axes.ravel()[n:]:
        ax.axis("off")
    for ax, (model, table) in zip(axes.ravel(), tables.items()):
        _calibration_panel(ax, model, table)
    fig.suptitle("Calibration, out of fold\n(each panel on its own points' range)", fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 0.92))
    return fig


def calibration_plot(tables: dict[str, pd.DataFrame], path: Path) -> None:
    """`calibration_figure`, drawn to a PNG."""
    plt = _pyplot()
    fig = calibration_figure(tables)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _primary_values(features: pd.DataFrame, factor: str) -> pd.Series | None:
    """The numeric feature that best stands for a factor, or None for a categorical factor."""
    for name in FACTOR_BY_ID[factor].features:
        if name in features and pd.api.types.is_numeric_dtype(features[name]) and not name.startswith("missing__"):
            return features[name]
    return None


def beeswarm_plot(factor_values: pd.DataFrame, features: pd.DataFrame, factors: list[str], path: Path,
                  seed: int = 0) -> None:
    """One row per factor: each charity's contribution, coloured by its own value (low blue, high red)."""
    plt = _pyplot()
    rng = np.random.default_rng(seed)
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(factors) + 1.5))
    for position, factor in enumerate(reversed(factors)):
        x = factor_values[factor].to_numpy()
        y = position + rng.uniform(-0.3, 0.3, len(x))
        values = _primary_values(features, factor)
        if values is None:
            ax.scatter(x, y, s=3, color="grey", alpha=0.5, linewidths=0)
        else:
            colour = values.rank(pct=True).fillna(0.5).to_numpy()
            ax.scatter(x, y, s=3, c=colour, cmap="coolwarm", alpha=0.6, linewidths=0)
    ax.set_yticks(range(len(factors)), [FACTOR_BY_ID[f].label for f in reversed(factors)])
    ax.axvline(0, color="black", lw=0.6)
    ax.set_xlabel("contribution to the score (log-odds); colour: the charity's value, low blue to high red")
    ax.set_title("How each factor moves charities' scores")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def dependence_plot(factor_values: pd.DataFrame, features: pd.DataFrame, factor: str, path: Path) -> None:
    """A factor's contribution against the charity's own value (or category)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    contribution = factor_values[factor]
    values = _primary_values(features, factor)
    label = FACTOR_BY_ID[factor].label
    if values is None:
        column = FACTOR_BY_ID[factor].features[0]
        groups = contribution.groupby(features[column].astype(str))
        names = list(groups.groups)
        ax.boxplot([groups.get_group(n).to_numpy() for n in names], showfliers=False)
        ax.set_xticks(range(1, len(names) + 1), [n[:24] for n in names], rotation=60, ha="right", fontsize=7)
    else:
        ax.scatter(values, contribution, s=4, alpha=0.4, linewidths=0)
        ax.set_xlabel(f"{values.name}")
        if values.name.endswith("_gbp"):
            ax.set_xscale("symlog")
    ax.axhline(0, color="black", lw=0.6)
    ax.set_ylabel("contribution (log-odds)")
    ax.set_title(f"Dependence: {label}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
