"""Scoring the lists of an as-of date and storing them: the work of a list job, a step at a time, and
the bound on how many dates are kept.

Every charity on the register at the date is stored (`scored_list`): on a review list with its rank,
or on neither with its status; with its reasons, and with what changed since the as-of date a year
earlier (the library's `changes_between`, the same call a charity page made per request before), so
that reading a charity is a lookup. The work is cut into ranges of charity numbers (each charity's
features, reasons and changes are its own), which bounds memory and gives the job its steps:

    step 1            features and scores of the whole register (`ranked_lists`, no reasons yet)
    steps 2 .. R + 1  reasons and what changed, one range of charity numbers at a time
    step R + 2        storing the rows, then evicting the oldest other list beyond the bound
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import pandas as pd
from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError

from risk_model.domain.vocab import PURPOSE_SHORT
from risk_model.features import build_features
from risk_model.lists.membership import LIST_TITLES, REVIEW_LISTS, standing
from risk_model.lists.rank import ranked_lists, reasons_by_range
from risk_model.lists.reasons import REASON_COLUMNS
from risk_model.lists.records import changes_between, fingerprint, records_from_tables
from risk_model.partitions import charity_ranges, rows_between
from serve.internal.db import Database, ScoredCharity, StoredListRecord, utc_now
from serve.internal.registry import Champion

# Charities whose reasons and changes are worked out together: a step of a job.
BUILD_CHARITIES = 5_000
_REASON_FIELDS = [c for c in REASON_COLUMNS if c != "charity_number"]
_UNRANKED = {"rank": None, "rank_percentile": None, "risk_band": None, "within_capacity": None}
# step, steps, what it is doing
Progress = Callable[[int, int, str], None]


def _ignore(step: int, steps: int, stage: str) -> None:
    return None


@dataclass(frozen=True)
class ListKey:
    """Which lists: an as-of date and the model version that scores them."""

    as_of: date
    version: str


def purposes_text(purposes: list[str]) -> str:
    shorts = [PURPOSE_SHORT.get(p, p) for p in purposes]
    return "|" + "|".join(shorts) + "|" if shorts else ""


def _text(value) -> str | None:
    return None if pd.isna(value) or value == "Unknown" else str(value)


def _reasons_by_charity(reasons: pd.DataFrame) -> dict[str, list[dict]]:
    grouped: dict[str, list[dict]] = {}
    for row in reasons.to_dict("records"):
        number = row.pop("charity_number")
        row["contribution_log_odds"] = float(row["contribution_log_odds"])
        row["contribution_points"] = None if pd.isna(row["contribution_points"]) else float(row["contribution_points"])
        row["position"] = int(row["position"])
        grouped.setdefault(number, []).append({k: row[k] for k in _REASON_FIELDS})
    return grouped


def _changes_by_charity(changes, since: date) -> dict[str, dict]:
    """What changed of each charity scored now, as the charity page gives it (`WhatChanged`)."""
    factors: dict[str, list[dict]] = {}
    for row in changes.factors.to_dict("records"):
        factors.setdefault(row.pop("charity_number"), []).append(
            {"position": int(row["position"]), "factor": row["factor"], "label": row["label"], "group": row["group"],
             **{k: float(row[k]) for k in ("change_log_odds", "before_log_odds", "now_log_odds")}})
    return {
        number: {"since": since.isoformat(), "score_before": None if pd.isna(before) else float(before),
                 "score_now": float(now), "factors": factors.get(number, []),
                 **({"moved_from": standing(then), "scored_by_before": LIST_TITLES[model]}
                    if model is not None and model != model_now else {})}
        for number, before, now, then, model, model_now in changes.scores[
            ["charity_number", "score_before", "score_now", "list_before", "model_before", "model_now"]].itertuples(
            index=False)
        if not pd.isna(now)
    }


def score_rows(champion: Champion, register: pd.DataFrame, returns: pd.DataFrame, case_log: pd.DataFrame,
               as_of: date, n_reasons: int, progress: Progress = _ignore,
               batch_charities: int = BUILD_CHARITIES) -> list[dict]:
    """Every charity on the register at `as_of`, scored and placed by the champion, as `scored_list` rows."""
    when = pd.Timestamp(as_of)
    since = (when - pd.DateOffset(years=1)).date()
    version = champion.info.version
    features = build_features(register, returns, case_log, when)
    ranges = charity_ranges(features["charity_number"], batch_charities)
    steps = len(ranges) + 2
    progress(1, steps, "features and scores of the register")
    scored = ranked_lists(champion.model, register, returns, case_log, when, champion.capacities,
                          champion.info.model, version, features=features)
    reasons_of: dict[str, list[dict]] = {}
    changed_of: dict[str, dict] = {}
    for i, (first, last) in enumerate(ranges):
        progress(i + 2, steps, f"reasons and what changed, charities {first} to {last}")
        returns_part, events_part = rows_between(returns, first, last), rows_between(case_log, first, last)
        reasons_of |= _reasons_by_charity(reasons_by_range(champion.model, rows_between(features, first, last),
                                                           returns_part, events_part, n_reasons, batch_charities))
        changed_of |= _changes_by_charity(changes_between(champion.model, rows_between(register, first, last),
                                                          returns_part, events_part, pd.Timestamp(since), when,
                                                          n_reasons), since)
    progress(steps, steps, "storing the lists")
    numbers = pd.concat([scored.ranked["charity_number"], scored.not_listed["charity_number"]])
    records = records_from_tables(register, returns, case_log, numbers)
    purposes_of = dict(zip(register["charity_number"], register["purposes"], strict=True))
    scored_at = utc_now()
    return [
        {
            "as_of": as_of, "model_version": version, "charity_number": r["charity_number"],
            "review_list": r["review_list"], "registered_model": champion.info.registered_model,
            "model": champion.info.model, "score": float(r["score"]),
            **(_UNRANKED if "rank" not in r else {
                "rank": int(r["rank"]), "rank_percentile": float(r["rank_percentile"]), "risk_band": r["risk_band"],
                "within_capacity": bool(r["within_capacity"])}),
            "charity_name": r["charity_name"], "local_authority": _text(r["main_operating_location"]),
            "income_band": r["income_band"], "constitutional_form": _text(r["constitutional_form"]),
            "geographical_spread": _text(r["geographical_spread"]),
            "purposes": purposes_text(purposes_of[r["charity_number"]]),
            "reasons": reasons_of.get(r["charity_number"], []), "what_changed": changed_of.get(r["charity_number"]),
            "input_sha256": fingerprint(records[r["charity_number"]]), "scored_at": scored_at,
        }
        for frame in (scored.ranked, scored.not_listed) for r in frame.to_dict("records")
    ]


def is_stored(db: Database, key: ListKey) -> bool:
    with db.sessions() as session:
        return session.get(StoredListRecord, (key.as_of, key.version)) is not None


def store_rows(db: Database, key: ListKey, rows: list[dict]) -> bool:
    """Store a list's rows and its entry in the catalogue, together; False if another worker stored it first."""
    listed = {name: sum(r["review_list"] == name for r in rows) for name in REVIEW_LISTS}
    try:
        with db.sessions.begin() as session:
            session.add(StoredListRecord(as_of=key.as_of, model_version=key.version, stored_at=utc_now(),
                                         listed=listed))
            session.flush()
            for start in range(0, len(rows), 5000):
                session.execute(insert(ScoredCharity), rows[start:start + 5000])
    except IntegrityError:
        # Another worker stored the same list first; theirs is identical.
        return False
    return True


def evict(db: Database, keep: int, kept: set[ListKey]) -> list[ListKey]:
    """Delete the oldest stored lists until at most `keep` are left, never one of `kept` (the current
    list, the one just stored); the lists evicted."""
    with db.sessions() as session:
        stored = [ListKey(r.as_of, r.model_version) for r in
                  session.scalars(select(StoredListRecord).order_by(StoredListRecord.stored_at))]
    evicted = [k for k in stored if k not in kept][:max(0, len(stored) - keep)]
    for key in evicted:
        with db.sessions.begin() as session:
            session.execute(delete(StoredListRecord).where(StoredListRecord.as_of == key.as_of,
                                                           StoredListRecord.model_version == key.version))
            session.execute(delete(ScoredCharity).where(ScoredCharity.as_of == key.as_of,
                                                        ScoredCharity.model_version == key.version))
    return evicted


def score_and_store(db: Database, champion: Champion, register: pd.DataFrame, returns: pd.DataFrame,
                    case_log: pd.DataFrame, as_of: date, n_reasons: int, progress: Progress = _ignore) -> bool:
    """Score the register at `as_of` with the champion and store its lists, unless they are stored already;
    True if this call stored them."""
    key = ListKey(as_of, champion.info.version)
    if is_stored(db, key):
        return False
    return store_rows(db, key, score_rows(champion, register, returns, case_log, as_of, n_reasons, progress))
