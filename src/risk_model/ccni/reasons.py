"""Scoring a snapshot file: a ranked list, each charity's contributions in log-odds, and its reasons.

Contributions are exact, as in ``explain``: LightGBM's own tree SHAP values (``pred_contrib``), or
``coef * (x - training mean)`` for logistic regression, so that for every charity

    base_value_log_odds + sum(contributions) == the model's raw score (log-odds).

They are summed to a small table of snapshot factors a case officer knows ("income", "latest
financial year end on file", "what the charity does"), and the largest each way become reasons:
a sentence from the charity's own register entry, and the file and row it came from.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from risk_model.ccni.snapshot import (
    FEATURE_COLUMNS,
    LIST_COUNTS,
    YEAR_END_FEATURE,
    build_snapshot_features,
    score_snapshot,
)
from risk_model.domain.bands import rank_percentile, risk_band
from risk_model.domain.factors import Factor
from risk_model.evaluate import ranking_order
from risk_model.ingest.adapters import RegulatorExtract
from risk_model.ingest.adapters.ccni_vocab import LISTS
from risk_model.lists.explain import explain, top_factors
from risk_model.lists.explain import global_importance as factor_importance
from risk_model.lists.points import material
from risk_model.lists.rank import joined_reasons
from risk_model.lists.reasons import NEUTRAL, REASSURING, RISK, pushed


def _multi_hot(list_column: str) -> tuple[str, ...]:
    prefix, vocabulary = LISTS[list_column]
    return tuple(prefix + short for short in vocabulary.values()) + (LIST_COUNTS[list_column],)


SNAPSHOT_FACTORS: tuple[Factor, ...] = (
    Factor("income", "income, latest accounts", "finance", ("income_gbp",)),
    Factor("spending", "spending against income", "finance", ("spending_gbp", "spending_over_income")),
    Factor("spending_parts", "parts of spending", "finance",
           ("charitable_spending_gbp", "income_generation_governance_gbp", "retained_for_future_use_gbp")),
    Factor("figures_reported", "figures reported", "finance", ("no_figures_reported",)),
    Factor("year_end", "latest financial year end on file", "filing", (YEAR_END_FEATURE,)),
    Factor("age", "time on the register", "profile", ("age_years",)),
    Factor("company", "company number", "profile", ("has_company_number",)),
    Factor("website", "website", "profile", ("has_website",)),
    Factor("purposes", "what the charity does", "profile", _multi_hot("purposes")),
    Factor("beneficiaries", "who the charity helps", "profile", _multi_hot("beneficiaries")),
    Factor("activities", "how the charity works", "profile", _multi_hot("activities")),
)
FACTOR_BY_ID: dict[str, Factor] = {f.id: f for f in SNAPSHOT_FACTORS}
FEATURE_TO_FACTOR: dict[str, str] = {feature: f.id for f in SNAPSHOT_FACTORS for feature in f.features}
RANKED_COLUMNS: tuple[str, ...] = (
    "rank", "charity_number", "charity_name", "score", "rank_percentile", "risk_band", "status",
    "income_gbp", "year_end", "registered_date", "reasons_up", "reasons_down", "model", "variant",
)
REASON_COLUMNS: tuple[str, ...] = (
    "charity_number", "direction", "position", "factor", "label", "group", "contribution_log_odds",
    "contribution_points", "sentence", "source",
)
# Whom the model compares a charity with, per factor, and the facts that are a risk or a reassurance in
# themselves (`lists.reasons.pushed` words the direction from them).
_LIKE: dict[str, str] = {
    "income": "charities of this income", "spending": "charities spending like this",
    "spending_parts": "charities spending like this", "figures_reported": "charities reporting like this",
    "year_end": "charities with accounts this old", "age": "charities registered this long",
    "company": "charities like this", "website": "charities like this",
    "purposes": "charities like this", "beneficiaries": "charities like this", "activities": "charities like this",
}


@dataclass(frozen=True)
class SnapshotContributions:
    """Per-row contributions by feature and by factor, the base value and the raw score, in log-odds."""

    by_feature: pd.DataFrame
    by_factor: pd.DataFrame
    base_value_log_odds: float
    raw_score_log_odds: np.ndarray


def _feature_of(encoded_column: str) -> str:
    """'log__income_gbp' -> 'income_gbp'; 'num__missingindicator_age_years' -> 'age_years' (a gap's
    flag counts with its feature)."""
    head, _, tail = encoded_column.partition("__")
    tail = tail.removeprefix("missingindicator_")
    return tail if head in {"log", "num"} and tail in FEATURE_TO_FACTOR else encoded_column


def snapshot_contributions(pipeline: Pipeline, features: pd.DataFrame) -> SnapshotContributions:
    """Exact contributions of each feature to each row's raw score (`lists.explain`), summed to
    SNAPSHOT_FACTORS."""
    contributions = explain(pipeline, features)
    named = contributions.columns.rename(columns=lambda name: _feature_of(str(name)))
    # A feature and its missing flag are one feature to a reader: their contributions add up.
    by_feature = named.T.groupby(level=0, sort=False).sum().T
    factor_ids = [f.id for f in SNAPSHOT_FACTORS]
    # 0/1 matrix (features x factors): which factor each feature is summed into.
    membership = np.zeros((by_feature.shape[1], len(factor_ids)))
    membership[np.arange(by_feature.shape[1]), [factor_ids.index(FEATURE_TO_FACTOR[c]) for c in by_feature.columns]] = 1
    by_factor = pd.DataFrame(by_feature.to_numpy() @ membership, index=features.index, columns=factor_ids)
    base = float(contributions.base_value_log_odds[0]) if len(features) else float("nan")
    return SnapshotContributions(by_feature, by_factor, base, contributions.raw_score_log_odds.astype(float))


# --- sentences ------------------------------------------------------------------------------------


def _gbp(value) -> str:
    return "unknown" if pd.isna(value) else f"£{value:,.0f}"


def _date(value) -> str:
    return "an unknown date" if pd.isna(value) else pd.Timestamp(value).strftime("%d %b %Y").lstrip("0")


_LIST_HEADINGS = {"purposes": "What it does", "beneficiaries": "Who it helps", "activities": "How it works"}
_ITEM_OF = {prefix + short: item for prefix, vocabulary in LISTS.values() for item, short in vocabulary.items()}
_SENTENCE_COLUMNS: tuple[str, ...] = (
    "charity_number", "income_gbp", "spending_gbp", "charitable_spending_gbp", "income_generation_governance_gbp",
    "retained_for_future_use_gbp", "no_figures_reported", "year_end", YEAR_END_FEATURE, "registered_date",
    "age_years", "company_number", "website", "has_website", "source_file", "source_row",
)


def _list_sentence(factor: str, r: dict, drivers: list[tuple[str, float]]) -> str:
    """What in a category list moved the score: the items listed (or not), or how many there are."""
    parts = []
    for feature, _ in drivers[:2]:
        if feature == LIST_COUNTS[factor]:
            parts.append(f"{r[feature]:.0f} listed in all")
        else:
            parts.append(f"{'lists' if r[feature] == 1 else 'does not list'} {_ITEM_OF[feature]}")
    return f"{_LIST_HEADINGS[factor]}: {'; '.join(parts) if parts else 'none listed'}"


def _sentence(factor: str, r: dict) -> str:
    """One factor of one charity in words, from its own register entry."""
    income, spending = r["income_gbp"], r["spending_gbp"]
    if factor == "income":
        return f"Income of {_gbp(income)} in its latest accounts (year ending {_date(r['year_end'])})"
    if factor == "spending":
        known = pd.notna(income) and income > 0 and pd.notna(spending)
        share = f" ({spending / income:.0%} of income)" if known else ""
        return f"Spending of {_gbp(spending)} against income of {_gbp(income)}{share}"
    if factor == "spending_parts":
        return (f"Charitable spending {_gbp(r['charitable_spending_gbp'])}, income generation and governance "
                f"{_gbp(r['income_generation_governance_gbp'])}, retained for future use "
                f"{_gbp(r['retained_for_future_use_gbp'])}")
    if factor == "figures_reported":
        return ("Income and spending both shown as £0: no figures reported" if r["no_figures_reported"] == 1
                else "Income and spending figures reported")
    if factor == "year_end":
        days = r[YEAR_END_FEATURE]
        if pd.isna(days):
            return "No financial year end on file"
        when = f"{abs(days):,.0f} days {'before' if days >= 0 else 'after'} the extract date"
        return f"Latest financial year end on file is {_date(r['year_end'])}, {when}"
    if factor == "age":
        return f"Registered {_date(r['registered_date'])}, {r['age_years']:.1f} years before the extract date"
    if factor == "company":
        number = r["company_number"]
        if isinstance(number, str):
            return f"Company number {number} on the register"
        return "No company number on the register"
    if factor == "website":
        return f"Website listed: {r['website']}" if r["has_website"] == 1 else "No website listed"
    raise KeyError(f"no sentence for factor {factor!r}")


def _tone(factor: str, r: dict) -> str:
    """Whether a fact is a risk in itself (no figures reported), a reassurance (figures reported), or neither."""
    if factor == "figures_reported":
        return RISK if r["no_figures_reported"] == 1 else REASSURING
    return NEUTRAL


def reason_codes(snapshot: pd.DataFrame, features: pd.DataFrame, contributions: SnapshotContributions,
                 n: int) -> pd.DataFrame:
    """Each row's n factors pushing its score up most and n pushing it down most, with sentences saying which
    way each pushes and their steps in percentage points from the base rate (none negligible)."""
    top = material(top_factors(contributions.by_factor, n),
                   pd.Series(contributions.base_value_log_odds, index=contributions.by_factor.index),
                   key="index").reset_index(drop=True)
    facts = pd.concat([snapshot, features[[c for c in FEATURE_COLUMNS if c not in snapshot.columns]]], axis=1)
    rows = facts.index.get_indexer(top["index"])
    records = facts[list(_SENTENCE_COLUMNS)].to_dict("records")
    by_feature = contributions.by_feature
    # Per list factor: its features the model reads, their contributions and values, as arrays.
    lists = {}
    for factor in _LIST_HEADINGS:
        columns = [c for c in FACTOR_BY_ID[factor].features if c in by_feature.columns]
        lists[factor] = (columns, by_feature[columns].to_numpy(dtype=float), facts[columns].to_numpy(dtype=float))
    sentences = []
    for row, factor, direction in zip(rows, top["factor"], top["direction"]):
        r = records[row]
        if factor not in lists:
            sentences.append(pushed(_sentence(factor, r), direction == "up", _tone(factor, r), _LIKE[factor]))
            continue
        columns, pushes, values = lists[factor]
        push = pushes[row] * (1.0 if direction == "up" else -1.0)
        order = [i for i in np.argsort(-push, kind="stable")[:2] if push[i] > 0]
        sentences.append(pushed(_list_sentence(factor, r | {columns[i]: values[row, i] for i in order},
                                               [(columns[i], push[i]) for i in order]),
                                direction == "up", NEUTRAL, _LIKE[factor]))
    picked = [records[row] for row in rows]
    return pd.DataFrame({
        "charity_number": [r["charity_number"] for r in picked], "direction": top["direction"].to_numpy(),
        "position": top["position"].to_numpy(), "factor": top["factor"].to_numpy(),
        "label": [FACTOR_BY_ID[f].label for f in top["factor"]],
        "group": [FACTOR_BY_ID[f].group for f in top["factor"]],
        "contribution_log_odds": top["contribution_log_odds"].to_numpy(),
        "contribution_points": top["contribution_points"].to_numpy(), "sentence": sentences,
        "source": [f"{r['source_file']}, row {r['source_row']}" for r in picked],
    }, columns=list(REASON_COLUMNS))


# --- the ranked list --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScoredSnapshot:
    """A scored file: the ranked list, every reason, and the charities left off it (and why)."""

    ranked: pd.DataFrame  # RANKED_COLUMNS, rank 1 first
    reasons: pd.DataFrame  # REASON_COLUMNS
    excluded: pd.DataFrame  # charity_number, charity_name, status, exclusion


def score_extract(pipeline: Pipeline, extract: RegulatorExtract, n_reasons: int = 3,
                  model: str = "", variant: str = "") -> ScoredSnapshot:
    """Rank every charity of an extract still in scope (not removed, not recently registered), with reasons."""
    snapshot = extract.snapshot
    out_of_scope = snapshot["label_role"].eq("excluded").fillna(False).to_numpy()
    listed = snapshot.loc[~out_of_scope].sort_values("charity_number", kind="stable").reset_index(drop=True)
    features = build_snapshot_features(listed, extract.extract_date)
    scores = score_snapshot(pipeline, features) if len(listed) else np.array([])
    order = ranking_order(scores)
    n = len(listed)
    ranked = features.iloc[order].assign(score=scores[order]).reset_index()
    ranked["rank"] = np.arange(1, n + 1)
    ranked["rank_percentile"] = rank_percentile(ranked["rank"], n)
    ranked["risk_band"] = risk_band(ranked["rank_percentile"])
    ranked = ranked.assign(model=model, variant=variant)
    reasons = pd.DataFrame(columns=list(REASON_COLUMNS))
    if n and n_reasons:
        contributions = snapshot_contributions(pipeline, features)
        reasons = reason_codes(listed, features, contributions, n_reasons)
        joined = reasons.groupby(["charity_number", "direction"], sort=False)["sentence"].agg(joined_reasons).unstack()
        ranked = ranked.join(joined.reindex(columns=["up", "down"]).rename(
            columns={"up": "reasons_up", "down": "reasons_down"}), on="charity_number")
    ranked = ranked.reindex(columns=list(RANKED_COLUMNS))
    excluded = snapshot.loc[out_of_scope, ["charity_number", "charity_name", "status", "exclusion"]]
    return ScoredSnapshot(ranked=ranked, reasons=reasons, excluded=excluded.reset_index(drop=True))


def global_importance(by_factor: pd.DataFrame) -> pd.DataFrame:
    """Mean |contribution| per snapshot factor over rows, largest first."""
    return factor_importance(by_factor, SNAPSHOT_FACTORS)
