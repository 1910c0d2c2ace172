"""Ranking metrics for a review list sized to inspection capacity.

A list is read top-down, so ties are broken deterministically (by the order rows arrive, which
callers keep sorted by charity number): the same scores always give the same list.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score


def ranking_order(scores: np.ndarray) -> np.ndarray:
    """Indices that sort scores from highest to lowest, stable for ties."""
    return np.argsort(-np.asarray(scores, dtype=float), kind="stable")


def precision_at_k(y_true, scores, k: int) -> float:
    """Share of positives among the k highest scores."""
    y = np.asarray(y_true, dtype=float)
    if k <= 0 or len(y) == 0:
        return float("nan")
    top = ranking_order(scores)[: min(k, len(y))]
    return float(y[top].mean())


def recall_at_k(y_true, scores, k: int) -> float:
    """Share of all positives found among the k highest scores."""
    y = np.asarray(y_true, dtype=float)
    total = y.sum()
    if total == 0:
        return float("nan")
    top = ranking_order(scores)[: min(k, len(y))]
    return float(y[top].sum() / total)


def k_from_percent(n: int, percent: float) -> int:
    """Number of charities in the top `percent` of a list of n (at least one)."""
    return max(1, int(math.ceil(n * percent / 100.0)))


def ranking_metrics(y_true, scores, capacity_k: int, k_percent: float) -> dict[str, float]:
    """Precision and recall at capacity and at k%, AUC-PR, AUC-ROC, Brier, base rate."""
    y = np.asarray(y_true, dtype=float)
    s = np.asarray(scores, dtype=float)
    k_pct = k_from_percent(len(y), k_percent)
    both_classes = 0 < y.sum() < len(y)
    return {
        "n": float(len(y)),
        "positives": float(y.sum()),
        "base_rate": float(y.mean()) if len(y) else float("nan"),
        "precision_at_k": precision_at_k(y, s, capacity_k),
        "recall_at_k": recall_at_k(y, s, capacity_k),
        "precision_at_k_pct": precision_at_k(y, s, k_pct),
        "recall_at_k_pct": recall_at_k(y, s, k_pct),
        "auc_pr": float(average_precision_score(y, s)) if both_classes else float("nan"),
        "auc_roc": float(roc_auc_score(y, s)) if both_classes else float("nan"),
        "brier": float(brier_score_loss(y, np.clip(s, 0, 1))) if len(y) else float("nan"),
    }


def precision_curve(y_true, scores, ks: np.ndarray) -> pd.DataFrame:
    """Precision and recall at each k in `ks` (for the precision@k plot)."""
    y = np.asarray(y_true, dtype=float)
    hits = np.cumsum(y[ranking_order(scores)])
    ks = np.clip(np.asarray(ks, dtype=int), 1, len(y))
    total = max(y.sum(), 1.0)
    return pd.DataFrame({"k": ks, "precision": hits[ks - 1] / ks, "recall": hits[ks - 1] / total})


def calibration_table(y_true, scores, n_bins: int = 10) -> pd.DataFrame:
    """Mean predicted probability against the observed rate, in score quantile bins."""
    frame = pd.DataFrame({"y": np.asarray(y_true, dtype=float), "p": np.asarray(scores, dtype=float)})
    ranks = frame["p"].rank(method="first")
    frame["bin"] = pd.qcut(ranks, q=min(n_bins, len(frame)), labels=False)
    return frame.groupby("bin").agg(mean_predicted=("p", "mean"), observed_rate=("y", "mean"), n=("y", "size")).reset_index()


def summarise_folds(fold_metrics: pd.DataFrame) -> dict[str, float]:
    """Mean and standard deviation over folds of every metric column."""
    numeric = fold_metrics.select_dtypes("number")
    summary = {f"{c}_mean": float(numeric[c].mean()) for c in numeric}
    summary.update({f"{c}_std": float(numeric[c].std(ddof=1)) if len(numeric) > 1 else 0.0 for c in numeric})
    return summary


def true_risk_lookup(latent_risk: pd.DataFrame):
    """Scorer from a simulator's answer key: mean true misconduct probability over the as-of
    year and the one before (inquiries closing in a window start from misconduct in both)."""
    table = latent_risk.rename(columns={"Charity Number": "charity_number", "Year": "year",
                                        "Misconduct probability": "p"})
    table = table.assign(year=table["year"].astype(int), p=table["p"].astype(float))
    by_key = table.set_index(["charity_number", "year"])["p"]

    def oracle(frame: pd.DataFrame) -> np.ndarray:
        years = pd.to_datetime(frame["as_of"]).dt.year.to_numpy()
        numbers = frame["charity_number"].to_numpy()
        current = by_key.reindex(pd.MultiIndex.from_arrays([numbers, years])).to_numpy()
        previous = by_key.reindex(pd.MultiIndex.from_arrays([numbers, years - 1])).to_numpy()
        return np.nan_to_num(np.nanmean(np.vstack([current, previous]), axis=0), nan=0.0)

    return oracle
