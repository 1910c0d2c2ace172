"""Selective labels: outcomes are known only where the regulator looked.

Inquiries follow complaints, so the charities with labels are those someone complained about.
This module measures how much of a list was ever looked at (labelled coverage), draws a random
review quota so that some reviews do not depend on the model or on complaints, and estimates
precision at k from the reviewed charities alone in a way that stays unbiased under that draw.

On simulated data the truth is known (`latent_risk.csv`), so the estimate can be set beside the
true precision and beside the precision that the complaint-driven labels report.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from scipy.stats import binomtest

REVIEW_REASONS: tuple[str, ...] = ("model", "random quota")


def first_inquiry_dates(case_log: pd.DataFrame) -> pd.Series:
    """Date of each charity's first inquiry, by charity number."""
    opened = case_log.loc[case_log["event"] == "inquiry_opened"]
    return opened.groupby("charity_number")["date"].min()


def inquired_by_window_end(frame: pd.DataFrame, case_log: pd.DataFrame, horizon_months: int) -> np.ndarray:
    """Whether each row's charity had an inquiry opened before the end of its label window."""
    window_end = pd.to_datetime(frame["as_of"]) + pd.DateOffset(months=horizon_months)
    first = first_inquiry_dates(case_log).reindex(frame["charity_number"].to_numpy())
    return (first.to_numpy() < window_end.to_numpy()) & first.notna().to_numpy()


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


def misconduct_lookup(latent_risk: pd.DataFrame) -> Callable[[pd.DataFrame], np.ndarray]:
    """Scorer from a simulator's answer key: 1 where the charity committed misconduct in the as-of
    year or the year before (the years an inquiry in the label window would find; the same years
    `evaluate.true_risk_lookup` averages), else 0."""
    table = latent_risk.rename(columns={"Charity Number": "charity_number", "Year": "year"})
    by_key = pd.Series(table["Misconduct"].astype(int).to_numpy(),
                       index=pd.MultiIndex.from_arrays([table["charity_number"], table["year"].astype(int)]))

    def truth(frame: pd.DataFrame) -> np.ndarray:
        years = pd.to_datetime(frame["as_of"]).dt.year.to_numpy()
        numbers = frame["charity_number"].to_numpy()
        found = [by_key.reindex(pd.MultiIndex.from_arrays([numbers, years - lag])).fillna(0).to_numpy()
                 for lag in (0, 1)]
        return np.maximum(*found).astype(int)

    return truth


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
                      k: int) -> tuple[float, float]:
    """Estimate and standard error of precision at k from a census of the model's picks (their
    positives in the top k) and a simple random sample of the rest (y * [rank <= k] per draw)."""
    if k <= n_model:  # the top k are all the model's picks, every one reviewed
        return model_positives / k, 0.0
    m = len(rest_values)
    if m == 0:
        return float("nan"), float("nan")
    total = model_positives + n_rest * rest_values.mean()
    variance = n_rest**2 * (1 - m / n_rest) * rest_values.var(ddof=1) / m if m > 1 else float("nan")
    return total / k, float(np.sqrt(variance)) / k


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
    y_i * [rank_i <= k] over the m random reviews. That estimate is zero when no random review
    found a positive in the top k, so `interval_low`/`interval_high` also give exact bounds (see
    `_exact_bounds`). When k is no more than the model's picks the estimate is exact; just beyond
    them few random reviews land in the top k, so it is unbiased but noisy there.
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
        estimate, error = _horvitz_thompson(*design)
        low, high = _exact_bounds(*design, confidence)
        rows.append({"k": int(k), "estimate": estimate, "standard_error": error, "interval_low": low,
                     "interval_high": high, "model_reviews_in_top_k": int((by_model & in_top).sum()),
                     "model_positives_in_top_k": int(design[0]), "random_reviews": int(by_quota.sum()),
                     "random_reviews_in_top_k": int((by_quota & in_top).sum()),
                     "random_positives_in_top_k": int(design[2].sum()), "charities_below_model_picks": n_rest})
    return pd.DataFrame(rows)


def quota_check(ranked: pd.DataFrame, capacity_k: int, quota: float, seed: int,
                ks: list[int] | None = None, confidence: float = 0.95) -> pd.DataFrame:
    """On simulated data, per fold and k: precision at k by the selective labels, the true
    precision, and the quota estimate from one seeded draw in which each review finds the truth.

    `ranked` comes from `audit.select_top_k` with a 0/1 `misconduct` column (the truth). The
    quota is drawn at capacity; precision is estimated at each k in `ks` (default: capacity).
    A last row per k, fold "all", pools the folds: the estimates' mean and its standard error,
    and bounds that treat the folds' random reviews as one sample (their sampling rates are
    nearly equal, the registers being of similar size).
    """
    rows = []
    for index, (fold, group) in enumerate(ranked.groupby("fold", sort=True)):
        group = group.sort_values("rank")
        fold_ks = [min(k, len(group)) for k in (ks or [capacity_k])]
        reviewed = apply_random_quota(group, capacity_k, quota, seed + index).assign(outcome=group["misconduct"])
        for position, estimate in enumerate(estimate_precision_with_quota(reviewed, fold_ks,
                                                                          confidence=confidence).itertuples()):
            k = estimate.k
            rows.append({
                "fold": fold, "as_of": group["as_of"].iloc[0], "k": k, "position": position,
                "label_precision": float(group["label"].iloc[:k].mean()),
                "true_precision": float(group["misconduct"].iloc[:k].mean()),
                "quota_estimate": estimate.estimate, "quota_standard_error": estimate.standard_error,
                "quota_interval_low": estimate.interval_low, "quota_interval_high": estimate.interval_high,
                "model_positives": estimate.model_positives_in_top_k,
                "others_in_top_k": k - estimate.model_reviews_in_top_k, "random_reviews": estimate.random_reviews,
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
        pooled.append({
            "fold": "all", "as_of": pd.NaT, "k": int(group["k"].max()),
            "label_precision": group["label_precision"].mean(), "true_precision": group["true_precision"].mean(),
            "quota_estimate": group["quota_estimate"].mean(),
            "quota_standard_error": float(np.sqrt((error**2).sum())) / len(error),
            "quota_interval_low": low / k, "quota_interval_high": high / k,
        })
    columns = ["fold", "as_of", "k", "label_precision", "true_precision", "quota_estimate", "quota_standard_error",
               "quota_interval_low", "quota_interval_high"]
    table = pd.concat([table[columns], pd.DataFrame(pooled, columns=columns)], ignore_index=True)
    inside = table["true_precision"].between(table["quota_interval_low"], table["quota_interval_high"])
    return table.assign(truth_within_interval=inside)
