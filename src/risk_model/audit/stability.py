"""How much does a new model (or a new run) change the list?

Two ranked lists of the same register at the same as-of date are compared by the overlap of
their top k (Jaccard: shared / either), by rank correlation (Spearman and Kendall, over every
charity both lists hold, and over the charities in either top k), and by the charities entering
and leaving the top k. For those movers, the factors that moved them are the differences of the
two models' contributions (log-odds, new minus old) per factor, largest first.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import kendalltau, spearmanr

from risk_model.domain.factors import FACTOR_BY_ID
from risk_model.lists.explain import explain, explainable

MOVER_COLUMNS: tuple[str, ...] = (
    "charity_number", "charity_name", "movement", "rank_before", "rank_after", "score_before", "score_after",
)
MOVER_FACTOR_COLUMNS: tuple[str, ...] = (
    "charity_number", "movement", "position", "factor", "label", "group", "before_log_odds", "after_log_odds",
    "change_log_odds",
)


def _joined(before: pd.DataFrame, after: pd.DataFrame) -> pd.DataFrame:
    columns = ["charity_number", "rank", "score"]
    joined = before[columns + (["charity_name"] if "charity_name" in before else [])].merge(
        after[columns], on="charity_number", suffixes=("_before", "_after"), how="inner")
    if "charity_name" not in joined:
        joined["charity_name"] = ""
    return joined


def _correlations(joined: pd.DataFrame, prefix: str) -> dict[str, float]:
    if len(joined) < 3:
        return {f"{prefix}spearman": float("nan"), f"{prefix}kendall": float("nan")}
    spearman = spearmanr(joined["rank_before"], joined["rank_after"]).statistic
    kendall = kendalltau(joined["rank_before"], joined["rank_after"]).statistic
    return {f"{prefix}spearman": float(spearman), f"{prefix}kendall": float(kendall)}


def compare_lists(before: pd.DataFrame, after: pd.DataFrame, capacity_k: int) -> tuple[dict[str, float], pd.DataFrame]:
    """Overlap and rank correlation of two ranked lists (charity_number, rank, score), and the movers.

    Ranks are re-counted over the charities both lists hold, so a charity on one register only
    does not shift the other's ranks. Returns the figures and MOVER_COLUMNS for every charity
    entering or leaving the top k, entering first, each by its new (or old) rank.
    """
    joined = _joined(before, after)
    for side in ("before", "after"):
        joined[f"rank_{side}"] = joined[f"rank_{side}"].rank(method="first").astype(int)
    top_before = set(joined.loc[joined["rank_before"] <= capacity_k, "charity_number"])
    top_after = set(joined.loc[joined["rank_after"] <= capacity_k, "charity_number"])
    either = top_before | top_after
    figures = {
        "charities_compared": float(len(joined)), "k": float(capacity_k),
        "top_k_shared": float(len(top_before & top_after)),
        "top_k_jaccard": len(top_before & top_after) / len(either) if either else float("nan"),
        **_correlations(joined, ""),
        **_correlations(joined.loc[joined["charity_number"].isin(either)], "top_k_union_"),
    }
    entering = joined.loc[joined["charity_number"].isin(top_after - top_before)].sort_values("rank_after")
    leaving = joined.loc[joined["charity_number"].isin(top_before - top_after)].sort_values("rank_before")
    movers = pd.concat([entering.assign(movement="entering"), leaving.assign(movement="leaving")],
                       ignore_index=True)
    figures |= {"entering": float(len(entering)), "leaving": float(len(leaving))}
    return figures, movers[list(MOVER_COLUMNS)]


def mover_factors(
    pipeline_before,
    pipeline_after,
    features: pd.DataFrame,
    movers: pd.DataFrame,
    n: int = 3,
) -> pd.DataFrame:
    """For each mover, the n factors whose contribution changed most between the two models.

    `features` holds the movers' feature rows (one per charity number). Empty when either model
    has no log-odds contributions (the rule baseline).
    """
    empty = pd.DataFrame({c: pd.Series(dtype=object) for c in MOVER_FACTOR_COLUMNS})
    rows = features.loc[features["charity_number"].isin(movers["charity_number"])].reset_index(drop=True)
    if rows.empty:
        return empty
    if not (explainable(pipeline_before) and explainable(pipeline_after)):
        return empty
    before_frame = explain(pipeline_before, rows).by_factor()
    after_frame = explain(pipeline_after, rows).by_factor()
    factors = np.asarray(after_frame.columns)
    before, after = before_frame.to_numpy(), after_frame[before_frame.columns].to_numpy()
    change = after - before
    n = min(n, change.shape[1])
    order = np.argsort(-np.abs(change), axis=1, kind="stable")[:, :n]
    row_index = np.repeat(np.arange(len(rows)), n)
    column_index = order.ravel()
    movement = movers.set_index("charity_number")["movement"]
    numbers = rows["charity_number"].to_numpy()[row_index]
    table = pd.DataFrame({
        "charity_number": numbers, "movement": movement.reindex(numbers).to_numpy(),
        "position": np.tile(np.arange(1, n + 1), len(rows)), "factor": factors[column_index],
        "label": [FACTOR_BY_ID[f].label for f in factors[column_index]],
        "group": [FACTOR_BY_ID[f].group for f in factors[column_index]],
        "before_log_odds": before[row_index, column_index], "after_log_odds": after[row_index, column_index],
        "change_log_odds": change[row_index, column_index],
    })
    order_of_movers = {number: i for i, number in enumerate(movers["charity_number"])}
    table = table.assign(_order=table["charity_number"].map(order_of_movers))
    return table.sort_values(["_order", "position"], kind="stable").drop(columns="_order").reset_index(drop=True)
