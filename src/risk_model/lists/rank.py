"""The review lists at a date: every charity on the register placed on its list, scored and ordered.

Each list is ranked on its own (`lists`): the proactive list by the proactive model, the
concern-triage list by the triage model, with rank, percentile, band and capacity within the
list. Charities on neither list are written apart with the reason.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from risk_model.domain.bands import rank_percentile, risk_band
from risk_model.evaluate import ranking_order
from risk_model.features import build_features
from risk_model.lists.explain import explain
from risk_model.lists.membership import REVIEW_LISTS, WHY_ON_LIST, review_list
from risk_model.lists.reasons import reason_codes
from risk_model.partitions import PARTITION_CHARITIES, charity_ranges, rows_between
from risk_model.train import score

LIST_COLUMNS: tuple[str, ...] = (
    "review_list", "rank", "charity_number", "charity_name", "score", "rank_percentile", "risk_band",
    "within_capacity", "main_operating_location", "income_band", "constitutional_form", "geographical_spread",
    "as_of", "model", "model_version",
)
NOT_LISTED_COLUMNS: tuple[str, ...] = ("charity_number", "charity_name", "review_list", "why", "score", "as_of")


def rank_charities(
    features: pd.DataFrame,
    scores: np.ndarray,
    capacity_k: int,
    model: str,
    model_version: str,
) -> pd.DataFrame:
    """Order charities by score (ties by charity number) with rank, percentile and band."""
    frame = (
        features.assign(score=np.asarray(scores, dtype=float))
        .sort_values("charity_number", kind="stable")
        .reset_index(drop=True)
    )
    ranked = frame.iloc[ranking_order(frame["score"].to_numpy())].reset_index(drop=True)
    n = len(ranked)
    ranked["rank"] = np.arange(1, n + 1)
    ranked["rank_percentile"] = rank_percentile(ranked["rank"], n)
    ranked["risk_band"] = risk_band(ranked["rank_percentile"])
    ranked["within_capacity"] = ranked["rank"] <= capacity_k
    ranked["model"] = model
    ranked["model_version"] = str(model_version)
    if "review_list" not in ranked:
        ranked["review_list"] = ""
    return ranked[list(LIST_COLUMNS)]


def ranked_lists(
    model,
    register: pd.DataFrame,
    returns: pd.DataFrame,
    case_log: pd.DataFrame,
    as_of: pd.Timestamp,
    capacities: dict[str, int],
    model_name: str,
    model_version: str,
    features: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The review lists at `as_of` (REVIEW_LISTS order, each ranked on its own), the features of the
    charities on them, and the charities on neither with the reason and their score under the
    proactive model. `features`, when given, is build_features' table for `as_of`."""
    if features is None:
        features = build_features(register, returns, case_log, as_of)
    on = review_list(features)
    parts, listed = [], []
    for name in REVIEW_LISTS:
        members = features.loc[(on == name).to_numpy()].reset_index(drop=True)
        listed.append(members)
        ranked = rank_charities(members, score(model, members) if len(members) else np.empty(0),
                                capacities[name], model=model_name, model_version=model_version)
        parts.append(ranked.assign(review_list=name))
    off_rows = features.loc[~on.isin(REVIEW_LISTS).to_numpy()]
    off = off_rows[["charity_number", "charity_name", "as_of"]]
    # scored too (by the proactive model), so that a charity on neither list still has a score
    not_listed = off.assign(review_list=on.loc[off.index].to_numpy(), why=on.loc[off.index].map(WHY_ON_LIST).to_numpy(),
                            score=score(model, off_rows) if len(off_rows) else np.empty(0))[list(NOT_LISTED_COLUMNS)]
    return (pd.concat(parts, ignore_index=True), pd.concat(listed, ignore_index=True),
            not_listed.reset_index(drop=True))


def review_list_of(ranked: pd.DataFrame, name: str) -> pd.DataFrame:
    """One list's rows of `ranked_lists`' table, in rank order."""
    return ranked.loc[ranked["review_list"] == name].reset_index(drop=True)


def _joined_sentences(reasons: pd.DataFrame) -> pd.Series:
    """Each (charity, direction)'s sentences in their order, '; '-joined, without a Python call per group."""
    keys = ["charity_number", "direction"]
    slot = reasons.groupby(keys, sort=False).cumcount().to_numpy()
    wide = reasons.assign(slot=slot).pivot(index=keys, columns="slot", values="sentence")
    joined = wide[0].to_numpy(dtype=object)
    for column in wide.columns[1:]:
        more = wide[column].to_numpy(dtype=object)
        joined = np.where(pd.isna(more), joined, joined + "; " + np.where(pd.isna(more), "", more))
    return pd.Series(joined, index=wide.index, name="sentence")


def with_reasons(
    ranked: pd.DataFrame,
    features: pd.DataFrame,
    pipeline,
    returns: pd.DataFrame,
    case_log: pd.DataFrame,
    n: int,
    batch_charities: int = PARTITION_CHARITIES,
) -> pd.DataFrame:
    """The list with each charity's top n reasons up and down, as '; '-joined sentences.

    Worked out for ranges of `batch_charities` charity numbers at a time (each charity's reasons
    cite only its own returns and events), so memory stays bounded on registers of millions.
    """
    parts = []
    for first, last in charity_ranges(features["charity_number"], batch_charities):
        rows = rows_between(features, first, last)
        reasons = reason_codes(rows, explain(pipeline, rows).by_factor(), rows_between(returns, first, last),
                               rows_between(case_log, first, last), n)
        parts.append(_joined_sentences(reasons))
    no_reasons = pd.DataFrame(index=pd.Index([], dtype="string", name="charity_number"))
    joined = (pd.concat(parts).unstack() if parts else no_reasons).reindex(columns=["up", "down"])
    return ranked.join(joined.rename(columns={"up": "reasons_up", "down": "reasons_down"}), on="charity_number")
