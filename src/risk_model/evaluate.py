"""Metrics for a review list sized to inspection capacity: on the regulator's labels, and on the
truth where a simulated world knows it.

A list is read top-down, so ties are broken deterministically (by the order rows arrive, which
callers keep sorted by charity number): the same scores always give the same list.

Against the truth (`truth.Truth.judge`), a list of k charities is judged on what it is for:

- misconduct found: true positives among the k, with a 95% Wilson interval, recall, and the
  misconduct it could be expected to find (the sum of its true risks);
- found where the complaint process did not reach it within the window (the regulator opened no
  inquiry into the charity during the window), and, for what the regulator did later reach, the
  days by which the list named it first (the as-of date against the inquiry's opening).

Differences between two lists come with a paired bootstrap: charities are resampled within each
fold (Poisson weights), each list's selection kept as drawn, and the difference in hits summed
over folds.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy.stats import binomtest, hypergeom
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
    """Precision and recall at capacity and at k%, AUC-PR, AUC-ROC, Brier and its skill, base rate."""
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
        "brier": (brier := float(brier_score_loss(y, np.clip(s, 0, 1))) if len(y) else float("nan")),
        "brier_skill": brier_skill(brier, float(y.mean()) if len(y) else float("nan")),
    }


def brier_skill(brier: float, base_rate: float) -> float:
    """How much lower a Brier score is than that of always giving the base rate, b(1 - b), as a share
    of it: 0 is no better than the base rate, 1 perfect, below 0 worse (NaN when every label is alike).
    At a base rate of 1% every model's Brier is near 0.0099, so the score alone says little."""
    reference = base_rate * (1.0 - base_rate)
    return 1.0 - brier / reference if reference > 0 else float("nan")


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


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a proportion (NaN when n is 0): sensible at the small counts of inquiries."""
    if n == 0:
        return float("nan"), float("nan")
    interval = binomtest(int(successes), int(n)).proportion_ci(confidence_level=confidence, method="wilson")
    return float(interval.low), float(interval.high)


def selected(scores, k: int) -> np.ndarray:
    """0/1 mask of the k highest scores (ties by position)."""
    mask = np.zeros(len(scores), dtype=bool)
    mask[ranking_order(scores)[: min(k, len(scores))]] = True
    return mask


def truth_at_k(truth: pd.DataFrame, chosen: np.ndarray) -> dict[str, float]:
    """What a list (a 0/1 mask over the rows of `truth`) finds: hits, their interval, recall, expected
    misconduct, misconduct the complaint process did not reach in the window, and the lead time on
    the misconduct it did later reach."""
    chosen = np.asarray(chosen, dtype=bool)
    misconduct = truth["misconduct"].to_numpy() > 0
    reached = truth["reached_in_window"].to_numpy() > 0
    k, hits = int(chosen.sum()), int((chosen & misconduct).sum())
    unreached = misconduct & ~reached
    low, high = wilson_interval(hits, k)
    lead = truth["days_to_reach"].to_numpy()[chosen & misconduct & reached]
    return {
        "k": float(k), "hits": float(hits), "precision": hits / k if k else math.nan,
        "precision_low": low, "precision_high": high,
        "recall": hits / misconduct.sum() if misconduct.any() else math.nan,
        "expected_found": float(truth["true_risk"].to_numpy()[chosen].sum()),
        "hits_not_reached": float((chosen & unreached).sum()),
        "recall_not_reached": (chosen & unreached).sum() / unreached.sum() if unreached.any() else math.nan,
        "reached_later": float(len(lead)),
        "lead_days_median": float(np.median(lead)) if len(lead) else math.nan,
        "misconduct_in_population": float(misconduct.sum()),
    }


def random_at_k(truth: pd.DataFrame, k: int) -> dict[str, float]:
    """What k charities drawn at random would find on average, with the 2.5-97.5% range of the draw."""
    n = len(truth)
    k = min(k, n)
    misconduct = truth["misconduct"].to_numpy() > 0
    unreached = misconduct & ~(truth["reached_in_window"].to_numpy() > 0)
    share = k / n if n else math.nan
    draw = hypergeom(n, int(misconduct.sum()), k)
    lead = truth["days_to_reach"].to_numpy()[misconduct & ~unreached]
    return {
        "k": float(k), "hits": float(misconduct.sum() * share), "precision": misconduct.mean() if n else math.nan,
        "precision_low": float(draw.ppf(0.025)) / k if k else math.nan,
        "precision_high": float(draw.ppf(0.975)) / k if k else math.nan,
        "recall": share, "expected_found": float(truth["true_risk"].sum() * share),
        "hits_not_reached": float(unreached.sum() * share), "recall_not_reached": share,
        "reached_later": float(len(lead) * share),
        "lead_days_median": float(np.median(lead)) if len(lead) else math.nan,
        "misconduct_in_population": float(misconduct.sum()),
    }


def paired_difference(folds: list[tuple[np.ndarray, np.ndarray, np.ndarray]], n_boot: int, seed: int,
                      confidence: float = 0.95) -> tuple[float, float, float]:
    """Difference in hits between two lists summed over folds, with a paired bootstrap interval.

    Each fold is (outcome 0/1, weight of list A, weight of list B) over the same charities; a
    weight is 1 for a charity selected, 0 otherwise (k/n for every charity of a random list).
    """
    rng = np.random.default_rng(seed)
    observed, boot = 0.0, np.zeros(n_boot)
    for outcome, first, second in folds:
        d = (np.asarray(first, dtype=float) - np.asarray(second, dtype=float)) * np.asarray(outcome, dtype=float)
        observed += float(d.sum())
        moving = d[d != 0]
        if len(moving):
            boot += rng.poisson(1.0, size=(n_boot, len(moving))) @ moving
    tail = (1 - confidence) / 2
    return observed, float(np.quantile(boot, tail)), float(np.quantile(boot, 1 - tail))


def pooled_precision_curve(predictions: pd.DataFrame, ks: np.ndarray, outcome: str = "label") -> pd.DataFrame:
    """Precision@k curve per model (rows of one list), averaged over folds."""
    curves = []
    for (model, fold), group in predictions.groupby(["model", "fold"], sort=False):
        y = np.nan_to_num(group[outcome].to_numpy(dtype=float), nan=0.0)
        curves.append(precision_curve(y, group["score"], ks).assign(model=model, fold=fold))
    stacked = pd.concat(curves, ignore_index=True)
    return stacked.groupby(["model", "k"], sort=False)[["precision", "recall"]].mean().reset_index()
