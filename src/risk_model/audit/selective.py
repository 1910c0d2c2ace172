"""Selective labels: outcomes are known only where the regulator looked.

Inquiries follow complaints, so the charities with labels are those someone complained about.
This module measures how much of a list was ever looked at (labelled coverage), draws a random
review quota so that some reviews do not depend on the model or on complaints, and estimates
precision at k from the reviewed charities alone in a way that stays unbiased under that draw.

On simulated data the truth is known (`truth.Truth`: misconduct in the label window), so the
estimate can be set beside the true precision and beside the precision that the complaint-driven
labels report, and the quota can be sized: how many random reviews a year it would take to
estimate precision at k within 25% of its value. A quota too small to tell anything is said to be.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy.stats import binomtest

REVIEW_REASONS: tuple[str, ...] = ("model", "random quota")


RELATIVE_PRECISION = 0.25  # the quota is sized to estimate precision at k within this share of its value
Z_95 = 1.959964


def inquired_in_window(frame: pd.DataFrame) -> np.ndarray:
    """Whether each out-of-fold row's charity had an inquiry opened in its label window."""
    return frame["days_to_first_inquiry"].notna().to_numpy()


def coverage_ks(capacity_k: int, list_size: int) -> list[int]:
    """The k's coverage is reported at: fractions and multiples of capacity, and the whole list."""
    ks = {max(1, capacity_k // 4), max(1, capacity_k // 2), capacity_k, 2 * capacity_k, 5 * capacity_k,
          10 * capacity_k, list_size}
    return sorted(k for k in ks if k <= list_size)


def labelled_coverage(ranked: pd.DataFrame, inquired: np.ndarray, ks: list[int]) -> pd.DataFrame:
    """Per k, pooled over folds: charities listed, how many were ever inquired into, and the label precision.

    `ranked` comes from `audit.select_top_k` (fold, rank, label); `inquired` is aligned with it.
    """
    rank = ranked["rank"].to_numpy()
    label = ranked["label"].to_numpy(dtype=float)
    fold_sizes = ranked.groupby("fold").size()
    rows = []
    for k in ks:
        top = rank <= k
        listed = int(top.sum())
        rows.append({
            "k": int(k), "share_of_list": float(np.minimum(k, fold_sizes).sum() / fold_sizes.sum()),
            "listed": listed, "inquired": int(inquired[top].sum()),
            "coverage": float(inquired[top].mean()) if listed else float("nan"),
            "positives": int(label[top].sum()),
            "precision": float(label[top].mean()) if listed else float("nan"),
        })
    return pd.DataFrame(rows)


def apply_random_quota(ranked: pd.DataFrame, capacity_k: int, quota: float, seed: int) -> pd.DataFrame:
    """The list with a random review quota: the model's top (1 - quota) * k, plus quota * k charities
    drawn uniformly at random (seeded) from the rest of the list.

    Adds `selected_for_review`, `review_reason` ("model", "random quota" or "" when not selected)
    and `review_probability` (each charity's chance of review under the draw: 1 for the model's
    picks, m / N for each of the N charities below them when m are drawn).
    `ranked` is a list in rank order (as `rank.rank_charities` writes it).
    """
    if not 0.0 <= quota <= 1.0:
        raise ValueError(f"the random quota is a share of capacity between 0 and 1, got {quota}")
    n = len(ranked)
    k = min(capacity_k, n)
    n_random = int(round(quota * k))
    n_model = k - n_random
    order = np.argsort(ranked["rank"].to_numpy(), kind="stable") if "rank" in ranked else np.arange(n)
    position = np.empty(n, dtype=np.int64)
    position[order] = np.arange(n)
    rest = np.flatnonzero(position >= n_model)
    drawn = np.random.default_rng(seed).choice(rest, size=n_random, replace=False)
    by_model = position < n_model
    by_quota = np.zeros(n, dtype=bool)
    by_quota[drawn] = True
    reason = np.where(by_model, REVIEW_REASONS[0], np.where(by_quota, REVIEW_REASONS[1], ""))
    probability = np.where(by_model, 1.0, n_random / len(rest) if len(rest) else 0.0)
    return ranked.assign(selected_for_review=by_model | by_quota, review_reason=reason,
                         review_probability=probability)


def _horvitz_thompson(model_positives: float, n_model: int, rest_values: np.ndarray, n_rest: int,
                      k: int) -> tuple[float, float, str]:
    """Estimate, standard error and basis of precision at k from a census of the model's picks (their
    positives in the top k) and a simple random sample of the rest (y * [rank <= k] per draw).

    The standard error is never reported as 0: it is NaN where the top k are all the model's picks
    (basis "census": the estimate is exact) and where the random reviews that reach the top k found
    no positive or are fewer than two (basis "too few random reviews": the sample cannot say how
    far off it is).
    """
    if k <= n_model:  # the top k are all the model's picks, every one reviewed
        return model_positives / k, float("nan"), "census"
    m = len(rest_values)
    if m == 0:
        return float("nan"), float("nan"), "too few random reviews"
    total = model_positives + n_rest * rest_values.mean()
    if m < 2 or not rest_values.any():
        return total / k, float("nan"), "too few random reviews"
    variance = n_rest**2 * (1 - m / n_rest) * rest_values.var(ddof=1) / m
    return total / k, float(np.sqrt(variance)) / k, "random sample"


def reviews_needed(rest_values: np.ndarray, n_rest: int, precision: float, k: int,
                   relative: float = RELATIVE_PRECISION) -> float:
    """Random reviews a year for a 95% interval of precision at k within `relative` of its value.

    `rest_values` is, for every charity below the model's picks (the whole rest, known on
    simulated data), its chance of misconduct times [rank <= k] (or the 0/1 truth itself): the
    estimate's variance is N^2 s^2 / (m k^2), with s^2 = mean(v) - mean(v)^2 the variance of a
    draw, so m must reach (z / relative)^2 N^2 s^2 / (k precision)^2. Zero where the top k are all
    reviewed anyway; infinite where the top k hold no misconduct to estimate.
    """
    if len(rest_values) == 0:
        return 0.0
    if precision <= 0:
        return math.inf
    mean = float(np.mean(rest_values))
    s2 = mean - mean**2
    return float((Z_95 / relative) ** 2 * n_rest**2 * s2 / (k * precision) ** 2)


def _exact_bounds(model_positives: float, n_model: int, rest_values: np.ndarray, n_rest: int, k: int,
                  confidence: float) -> tuple[float, float]:
    """Bounds on precision at k: the model's picks are counted; the positives among the other
    charities in the top k are bounded by a Clopper-Pearson interval on the random reviews' hit
    rate (conservative, as the draw is without replacement), capped by how many there are."""
    others = max(k - n_model, 0)
    if others == 0:
        return model_positives / k, model_positives / k
    m = len(rest_values)
    if m == 0:
        return model_positives / k, (model_positives + others) / k
    interval = binomtest(int(rest_values.sum()), m).proportion_ci(confidence_level=confidence, method="exact")
    low = min(n_rest * interval.low, others)
    high = min(n_rest * interval.high, others)
    return (model_positives + low) / k, (model_positives + high) / k


def estimate_precision_with_quota(reviewed: pd.DataFrame, ks: list[int], outcome: str = "outcome",
                                  confidence: float = 0.95) -> pd.DataFrame:
    """Unbiased estimate of the model's precision at each k from the reviewed charities' outcomes only.

    `reviewed` is a list after `apply_random_quota`, with `outcome` known (0/1) where
    `selected_for_review`; other outcomes are never read. With R_i = 1 if charity i is reviewed
    and pi_i = P(R_i = 1) fixed by the design (1 for the model's picks, m/N for the N charities
    below them), the Horvitz-Thompson estimate of the positives in the top k,

        T_k_hat = sum over reviewed i with rank_i <= k of y_i / pi_i,

    has expectation sum over rank_i <= k of y_i * E[R_i] / pi_i = the true count T_k, whatever the
    outcomes are, because the only randomness is the regulator's own draw and E[R_i] = pi_i.
    So T_k_hat / k is unbiased for precision at k; nothing is assumed about how outcomes relate
    to scores or to complaints. Its standard error comes from the random draw alone (the model's
    picks are a census): N * sqrt((1 - m/N) s^2 / m) / k, with s^2 the sample variance of
    y_i * [rank_i <= k] over the m random reviews. When no random review found a positive in the
    top k that formula gives zero, which would read as certainty: the standard error is then NaN
    with basis "too few random reviews", and `interval_low`/`interval_high` give exact bounds (see
    `_exact_bounds`), as wide as the data leave them. When k is no more than the model's picks
    the estimate is exact (basis "census"); just beyond them few random reviews land in the top
    k, so it is unbiased but noisy there.
    """
    rank = reviewed["rank"].to_numpy()
    reason = reviewed["review_reason"].to_numpy()
    y = reviewed[outcome].to_numpy(dtype=float)
    by_model, by_quota = reason == REVIEW_REASONS[0], reason == REVIEW_REASONS[1]
    if np.isnan(y[by_model | by_quota]).any():
        raise ValueError(f"every reviewed charity needs an outcome in {outcome!r}")
    n_model = int(by_model.sum())
    n_rest = len(reviewed) - n_model
    rows = []
    for k in ks:
        in_top = rank <= k
        design = (float(y[by_model & in_top].sum()), n_model, np.where(in_top[by_quota], y[by_quota], 0.0),
                  n_rest, k)
        estimate, error, basis = _horvitz_thompson(*design)
        low, high = _exact_bounds(*design, confidence)
        rows.append({"k": int(k), "estimate": estimate, "standard_error": error, "basis": basis, "interval_low": low,
                     "interval_high": high, "model_reviews_in_top_k": int((by_model & in_top).sum()),
                     "model_positives_in_top_k": int(design[0]), "random_reviews": int(by_quota.sum()),
                     "random_reviews_in_top_k": int((by_quota & in_top).sum()),
                     "random_positives_in_top_k": int(design[2].sum()), "charities_below_model_picks": n_rest})
    return pd.DataFrame(rows)


def quota_check(ranked: pd.DataFrame, capacity_k: int, quota: float, seed: int,
                ks: list[int] | None = None, confidence: float = 0.95) -> pd.DataFrame:
    """On simulated data, per fold and k: precision at k by the selective labels, the true
    precision, the quota estimate from one seeded draw in which each review finds the truth, and
    how many random reviews a year an estimate within 25% would take against the quota's own.

    `ranked` comes from `audit.select_top_k` with a 0/1 `misconduct` column (the truth in each
    label window) and `label`. The quota is drawn at capacity; precision is estimated at each k
    in `ks` (default: capacity). A last row per k, fold "all", pools the folds. `verdict` says in
    words whether the quota can tell anything at that k.
    """
    rows = []
    for index, (fold, group) in enumerate(ranked.groupby("fold", sort=True)):
        group = group.sort_values("rank")
        fold_ks = [min(k, len(group)) for k in (ks or [capacity_k])]
        reviewed = apply_random_quota(group, capacity_k, quota, seed + index).assign(outcome=group["misconduct"])
        n_model = int((reviewed["review_reason"] == REVIEW_REASONS[0]).sum())
        truth = group["misconduct"].to_numpy(dtype=float)
        # the quota is sized on the chance of misconduct, not on the one draw of it this fold holds
        risk = group["true_risk"].to_numpy(dtype=float) if "true_risk" in group else truth
        rank = group["rank"].to_numpy()
        for position, estimate in enumerate(estimate_precision_with_quota(reviewed, fold_ks,
                                                                          confidence=confidence).itertuples()):
            k = estimate.k
            rest = np.where(rank[n_model:] <= k, risk[n_model:], 0.0)
            true_precision = float(truth[:k].mean())
            rows.append({
                "fold": fold, "as_of": group["as_of"].iloc[0], "k": k, "position": position,
                "label_precision": float(np.nan_to_num(group["label"].to_numpy(dtype=float)[:k]).mean()),
                "true_precision": true_precision,
                "quota_estimate": estimate.estimate, "quota_standard_error": estimate.standard_error,
                "basis": estimate.basis,
                "quota_interval_low": estimate.interval_low, "quota_interval_high": estimate.interval_high,
                "random_reviews": estimate.random_reviews, "random_reviews_in_top_k": estimate.random_reviews_in_top_k,
                "reviews_needed": 0.0 if k <= n_model else reviews_needed(rest, len(rest), float(risk[:k].mean()), k),
                "model_positives": estimate.model_positives_in_top_k,
                "others_in_top_k": k - estimate.model_reviews_in_top_k,
                "random_positives": estimate.random_positives_in_top_k,
                "charities_below": estimate.charities_below_model_picks,
            })
    table = pd.DataFrame(rows)
    pooled = []
    for position, group in table.groupby("position", sort=True):
        model_positives, others, k = group["model_positives"].sum(), group["others_in_top_k"].sum(), group["k"].sum()
        m, hits, below = group["random_reviews"].sum(), group["random_positives"].sum(), group["charities_below"].sum()
        if others == 0 or m == 0:
            low, high = model_positives, model_positives + others
        else:
            rate = binomtest(int(hits), int(m)).proportion_ci(confidence_level=confidence, method="exact")
            low = model_positives + min(below * rate.low, others)
            high = model_positives + min(below * rate.high, others)
        error = group["quota_standard_error"]
        census = (group["basis"] == "census").all()
        pooled.append({
            "fold": "all", "as_of": pd.NaT, "k": int(group["k"].max()),
            "label_precision": group["label_precision"].mean(), "true_precision": group["true_precision"].mean(),
            "quota_estimate": group["quota_estimate"].mean(),
            "quota_standard_error": (float(np.sqrt((error**2).sum())) / len(error)
                                     if error.notna().all() else float("nan")),
            "basis": "census" if census else ("random sample" if error.notna().all() else "too few random reviews"),
            "quota_interval_low": low / k, "quota_interval_high": high / k,
            "random_reviews": float(group["random_reviews"].mean()),
            "reviews_needed": float(group["reviews_needed"].median()),
        })
    columns = ["fold", "as_of", "k", "label_precision", "true_precision", "quota_estimate", "quota_standard_error",
               "basis", "quota_interval_low", "quota_interval_high", "random_reviews", "reviews_needed"]
    table = pd.concat([table[columns], pd.DataFrame(pooled, columns=columns)], ignore_index=True)
    inside = table["true_precision"].between(table["quota_interval_low"], table["quota_interval_high"])
    return table.assign(truth_within_interval=inside, verdict=[_verdict(r) for r in table.itertuples()])


def _verdict(row) -> str:
    """What the quota can tell at one k, in words."""
    if row.basis == "census":
        return "exact: every charity in the top k is reviewed"
    needed = row.reviews_needed
    if not np.isfinite(needed):
        return "nothing to estimate: no misconduct in the top k"
    if row.random_reviews >= needed and row.basis == "random sample":
        return f"enough: {row.random_reviews:.0f} random reviews a year, about {needed:,.0f} needed for +/-25%"
    return (f"too small to tell anything: {row.random_reviews:.0f} random reviews a year, about {needed:,.0f} "
            "needed for +/-25%")
