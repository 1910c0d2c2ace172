"""The review lists at a date: every charity on the register placed on its list, scored and ordered.

Each list is ranked on its own (`lists`): the proactive list by the proactive model, the
concern-triage list by the triage model, with rank, percentile, band and capacity within the
list. Charities on neither list are written apart with the reason. `ranked_lists` is the one
way a list is made: the command line, the audit and the service all call it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from risk_model.domain.bands import rank_percentile, risk_band
from risk_model.evaluate import ranking_order
from risk_model.features import build_features
from risk_model.lists.explain import has_reasons, reason_contributions
from risk_model.lists.membership import REVIEW_LISTS, WHY_ON_LIST, review_list
from risk_model.lists.reasons import REASON_COLUMNS, reason_codes
from risk_model.models import score
from risk_model.partitions import PARTITION_CHARITIES, charity_ranges, rows_between

LIST_COLUMNS: tuple[str, ...] = (
    "review_list", "rank", "charity_number", "charity_name", "score", "rank_percentile", "risk_band",
    "within_capacity", "main_operating_location", "income_band", "constitutional_form", "geographical_spread",
    "as_of", "model", "model_version",
)
# What describes a charity beside its place: the groups analysts filter by and audits compare.
DESCRIBED: tuple[str, ...] = ("main_operating_location", "income_band", "constitutional_form", "geographical_spread")
NOT_LISTED_COLUMNS: tuple[str, ...] = ("charity_number", "charity_name", "review_list", "why", "score", "as_of",
                                       *DESCRIBED)


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


@dataclass(frozen=True)
class RankedLists:
    """Every charity on the register at a date: on its review list, or on neither and why."""

    ranked: pd.DataFrame  # both lists (REVIEW_LISTS order), each ranked on its own: LIST_COLUMNS and more
    features: pd.DataFrame  # build_features' rows of the listed charities, the lists' order of members
    not_listed: pd.DataFrame  # NOT_LISTED_COLUMNS: why each is on neither, and its proactive-model score
    reasons: pd.DataFrame  # REASON_COLUMNS of every charity of both frames; empty without n_reasons


def ranked_lists(
    model,
    register: pd.DataFrame,
    returns: pd.DataFrame,
    case_log: pd.DataFrame,
    as_of: pd.Timestamp,
    capacities: dict[str, int],
    model_name: str,
    model_version: str,
    *,
    features: pd.DataFrame | None = None,
    n_reasons: int = 0,
    batch_charities: int = PARTITION_CHARITIES,
) -> RankedLists:
    """The review lists at `as_of`, as `risk-model rank` writes them and the service stores them.

    `features`, when given, is build_features' table for `as_of`. With `n_reasons`, each charity's
    top reasons each way, worked out for ranges of `batch_charities` charity numbers at a time.
    """
    as_of = pd.Timestamp(as_of)
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
    # scored too (by the proactive model), so that a charity on neither list still has a score
    not_listed = off_rows[["charity_number", "charity_name", "as_of", *DESCRIBED]].assign(
        review_list=on.loc[off_rows.index].to_numpy(), why=on.loc[off_rows.index].map(WHY_ON_LIST).to_numpy(),
        score=score(model, off_rows) if len(off_rows) else np.empty(0))[list(NOT_LISTED_COLUMNS)]
    reasons = reasons_by_range(model, features, returns, case_log, n_reasons, batch_charities)
    return RankedLists(pd.concat(parts, ignore_index=True), pd.concat(listed, ignore_index=True),
                       not_listed.reset_index(drop=True), reasons)


def review_list_of(ranked: pd.DataFrame, name: str) -> pd.DataFrame:
    """One list's rows of `ranked_lists`' table, in rank order."""
    return ranked.loc[ranked["review_list"] == name].reset_index(drop=True)


# Between the reason sentences of one cell of a CSV: a sentence may itself hold "; ", never " | ".
REASON_JOINER = " | "


def joined_reasons(sentences) -> str:
    """One charity's sentences of one direction as one CSV cell, in their order."""
    return REASON_JOINER.join(sentences)


def _joined_sentences(reasons: pd.DataFrame) -> pd.Series:
    """Each (charity, direction)'s sentences in their order, joined by REASON_JOINER, without a Python call per
    group."""
    keys = ["charity_number", "direction"]
    slot = reasons.groupby(keys, sort=False).cumcount().to_numpy()
    wide = reasons.assign(slot=slot).pivot(index=keys, columns="slot", values="sentence")
    joined = wide[0].to_numpy(dtype=object)
    for column in wide.columns[1:]:
        more = wide[column].to_numpy(dtype=object)
        joined = np.where(pd.isna(more), joined, joined + REASON_JOINER + np.where(pd.isna(more), "", more))
    return pd.Series(joined, index=wide.index, name="sentence")


def reasons_by_range(
    model,
    features: pd.DataFrame,
    returns: pd.DataFrame,
    case_log: pd.DataFrame,
    n: int,
    batch_charities: int = PARTITION_CHARITIES,
) -> pd.DataFrame:
    """Each charity's top n reasons up and down (REASON_COLUMNS), none negligible; none at all when n is 0
    or the model has no reasons to give (`has_reasons`).

    Worked out for ranges of `batch_charities` charity numbers at a time (each charity's reasons
    cite only its own returns and events), so memory stays bounded on registers of millions.
    """
    if n <= 0 or features.empty or not has_reasons(model):
        return pd.DataFrame({c: pd.Series(dtype=object) for c in REASON_COLUMNS})
    parts = []
    for first, last in charity_ranges(features["charity_number"], batch_charities):
        rows = rows_between(features, first, last)
        explained = reason_contributions(model, rows)
        parts.append(reason_codes(rows, explained.by_factor(), rows_between(returns, first, last),
                                  rows_between(case_log, first, last), n,
                                  base_log_odds=explained.base_value_log_odds, rule_points=explained.rule_points))
    return pd.concat(parts, ignore_index=True)


def with_reasons(ranked: pd.DataFrame, reasons: pd.DataFrame) -> pd.DataFrame:
    """The list with each charity's reasons up and down, each a cell of joined sentences (`reasons_up`,
    `reasons_down`)."""
    no_reasons = pd.DataFrame(index=pd.Index([], dtype="string", name="charity_number"))
    joined = (_joined_sentences(reasons).unstack() if len(reasons) else no_reasons).reindex(columns=["up", "down"])
    return ranked.join(joined.rename(columns={"up": "reasons_up", "down": "reasons_down"}), on="charity_number")
