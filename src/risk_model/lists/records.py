"""Score charities given as records: register, return and case-log facts in, lists, scores and reasons out.

The same library calls as training and `risk-model rank`: features from
`features.build_features`, the review list from `lists.review_list`, probabilities from
`train.score`, contributions from `explain.explain(...).by_factor()` put into words by
`reasons.reason_codes`. Nothing here re-implements a feature, so a charity scored on its own
gets the list and the score it has in the full lists.

A *record* is one charity as plain Python values under canonical names:

    {"charity_number": "SC000123", "charity_name": "Friends of the Park",
     "registered_date": "2004-05-01", "ceased_date": None, "constitutional_form": "...",
     "geographical_spread": "...", "main_operating_location": "Fife", "regulatory_type": "...",
     "purposes": ["The advancement of education"], "beneficiaries": [...], "activities": [...],
     "returns": [{"year_end": "2020-03-31", "date_received": "2020-11-02",
                  "income_gbp": 1200.0, "expenditure_gbp": 900.0, ...}],
     "case_log": [{"date": "2019-06-01", "event": "concern_received", "outcome": None}]}

Dates are ISO strings, money and counts floats, missing values None. Two records hold the same
facts exactly when their `fingerprint`s agree, which lets a stored list answer for a charity
whose data have not changed since the list was scored.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

import numpy as np
import orjson
import pandas as pd

from risk_model.domain.columns import RETURNS_CANONICAL
from risk_model.domain.factors import FACTOR_BY_ID
from risk_model.features import build_features, population
from risk_model.ingest.tables import CASE_LOG_DTYPES, REGISTER_DTYPES, RETURNS_DTYPES
from risk_model.lists import rank
from risk_model.lists.explain import has_reasons, reason_contributions, what_changed
from risk_model.lists.membership import review_list
from risk_model.lists.reasons import REASON_COLUMNS
from risk_model.models import score

REGISTER_FIELDS: tuple[str, ...] = (
    "charity_number", "charity_name", "registered_date", "ceased_date", "constitutional_form",
    "geographical_spread", "main_operating_location", "regulatory_type",
    "purposes", "beneficiaries", "activities",
)
RETURN_FIELDS: tuple[str, ...] = tuple(c for c in RETURNS_CANONICAL.values() if c != "charity_number")
CASE_LOG_FIELDS: tuple[str, ...] = ("date", "event", "outcome")
LIST_FIELDS: tuple[str, ...] = ("purposes", "beneficiaries", "activities")
DATE_FIELDS: frozenset[str] = frozenset({"registered_date", "ceased_date", "year_end", "date_received", "date"})
_TEXT_FIELDS = frozenset(REGISTER_FIELDS) - DATE_FIELDS - frozenset(LIST_FIELDS) | {"event", "outcome"}
SCORE_COLUMNS: tuple[str, ...] = ("record", "charity_number", "in_population", "under_open_inquiry", "review_list",
                                  "score")
CHANGE_COLUMNS: tuple[str, ...] = (
    "charity_number", "position", "factor", "label", "group", "change_log_odds", "before_log_odds", "now_log_odds",
)


# --- records ------------------------------------------------------------------------------------

def _is_missing(value) -> bool:
    return value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and math.isnan(value))


def _as_date(value) -> str | None:
    if _is_missing(value):
        return None
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return date.fromisoformat(str(value)[:10]).isoformat()


def _as_float(value) -> float | None:
    if _is_missing(value):
        return None
    number = float(value)
    if not math.isfinite(number):  # no record holds one: ingest and the service refuse them
        raise ValueError(f"a record's numbers are finite, not {value!r}")
    return number


def _as_text(value) -> str | None:
    return None if _is_missing(value) else str(value)


def _as_items(value) -> list[str]:
    if isinstance(value, (list, tuple, np.ndarray)):
        return [str(item) for item in value]
    return [] if _is_missing(value) else [str(value)]


def _converter(field: str):
    if field in LIST_FIELDS:
        return _as_items
    if field in DATE_FIELDS:
        return _as_date
    return _as_text if field in _TEXT_FIELDS else _as_float


# (field, converter) pairs, looked up once: records are built on every scoring request.
_REGISTER_PLAIN = tuple((f, _converter(f)) for f in REGISTER_FIELDS)
_RETURN_PLAIN = tuple((f, _converter(f)) for f in RETURN_FIELDS)
_CASE_LOG_PLAIN = tuple((f, _converter(f)) for f in CASE_LOG_FIELDS)


def charity_record(register_row: Mapping, returns: Iterable[Mapping] = (), case_log: Iterable[Mapping] = ()) -> dict:
    """A charity's record from its register row, its returns and its case-log events (extra keys ignored)."""
    record = {field: plain(register_row.get(field)) for field, plain in _REGISTER_PLAIN}
    record["returns"] = sorted(
        ({field: plain(row.get(field)) for field, plain in _RETURN_PLAIN} for row in returns),
        key=lambda row: row["year_end"] or "",
    )
    record["case_log"] = sorted(
        ({field: plain(row.get(field)) for field, plain in _CASE_LOG_PLAIN} for row in case_log),
        key=lambda row: (row["date"] or "", row["event"] or "", row["outcome"] or ""),
    )
    return record


def fingerprint(record: Mapping) -> str:
    """sha256 of a record's normalised JSON: equal exactly when two records hold the same facts.

    The JSON is `json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False)` as
    UTF-8, so anyone can recompute a stored `input_sha256`. Records hold finite numbers only (ingest
    and the service refuse others, and `charity_record` makes a missing one None).
    """
    return hashlib.sha256(_canonical_json(record)).hexdigest()


# orjson writes the same bytes as the standard library for everything a record holds except floats
# below 1e-4 in size ("0.00001" for 1e-05, "1e-7" for 1e-07): an output that may hold one is
# written again by the standard library. The pattern also meets text such as "0.00001" in a name,
# which is only slower. `tests/test_serve_scoring.py` compares the two on random records.
_DIGIT_E_MINUS = re.compile(rb"\de-")


def _canonical_json(record: Mapping) -> bytes:
    try:
        payload = orjson.dumps(record, option=orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_DATETIME
                               | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_SUBCLASS)
        # (`in` first: a regular expression scans the whole payload far more slowly)
        if b"0.0000" not in payload and not (b"e-" in payload and _DIGIT_E_MINUS.search(payload)):
            return payload
    except TypeError:  # what orjson does not write the standard way (a subclass, a huge int): the standard way
        pass
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _rows_by_charity(table: pd.DataFrame, fields: Sequence[str], numbers: set[str] | None) -> dict[str, list[dict]]:
    if numbers is not None:
        table = table.loc[table["charity_number"].isin(list(numbers))]
    grouped: dict[str, list[dict]] = {}
    for row in table[["charity_number", *fields]].to_dict("records"):
        grouped.setdefault(row["charity_number"], []).append(row)
    return grouped


def records_from_tables(
    register: pd.DataFrame, returns: pd.DataFrame, case_log: pd.DataFrame, numbers: Iterable[str] | None = None,
) -> dict[str, dict]:
    """Records of the charities in canonical tables (all of them, or those in `numbers`), by number."""
    wanted = None if numbers is None else set(numbers)
    rows = register if wanted is None else register.loc[register["charity_number"].isin(list(wanted))]
    returns_of = _rows_by_charity(returns, RETURN_FIELDS, wanted)
    events_of = _rows_by_charity(case_log, CASE_LOG_FIELDS, wanted)
    return {
        row["charity_number"]: charity_record(row, returns_of.get(row["charity_number"], ()),
                                              events_of.get(row["charity_number"], ()))
        for row in rows[list(REGISTER_FIELDS)].to_dict("records")
    }


def _typed(rows: list[dict], columns: Sequence[str], dtypes: Mapping[str, str]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=list(columns))
    for column in columns:
        if column in DATE_FIELDS:
            frame[column] = pd.to_datetime(frame[column], format="%Y-%m-%d")
    return frame.astype({c: dtypes[c] for c in columns if c not in LIST_FIELDS})


def tables_from_records(
    records: Sequence[Mapping], numbers: Sequence[str] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Canonical register, returns and case-log frames from records.

    `numbers` replaces the records' charity numbers (one per record), so that two records of the
    same charity, say two versions of its returns, can be scored side by side.
    """
    numbers = [r["charity_number"] for r in records] if numbers is None else list(numbers)
    register_rows, return_rows, event_rows = [], [], []
    for number, record in zip(numbers, records, strict=True):
        register_rows.append({**{f: record.get(f) for f in REGISTER_FIELDS}, "charity_number": number,
                              **{f: list(record.get(f) or []) for f in LIST_FIELDS}})
        return_rows.extend({**row, "charity_number": number} for row in record.get("returns", ()))
        event_rows.extend({**row, "charity_number": number} for row in record.get("case_log", ()))
    register = _typed(register_rows, REGISTER_FIELDS, REGISTER_DTYPES)
    returns = _typed(return_rows, ("charity_number", *RETURN_FIELDS), RETURNS_DTYPES)
    case_log = _typed(event_rows, ("charity_number", *CASE_LOG_FIELDS), CASE_LOG_DTYPES)
    return (register.sort_values("charity_number", kind="stable").reset_index(drop=True),
            returns.sort_values(["charity_number", "year_end"], kind="stable").reset_index(drop=True),
            case_log.sort_values(["charity_number", "date"], kind="stable").reset_index(drop=True))


# --- scoring --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ScoredRecords:
    """Scores of records, in the order given, and their reasons (keyed by `record`, the position)."""

    scores: pd.DataFrame  # SCORE_COLUMNS; score NaN where the charity is not on the register at as_of
    reasons: pd.DataFrame  # "record" plus REASON_COLUMNS


def score_records(pipeline, records: Sequence[Mapping], as_of, n_reasons: int = 3) -> ScoredRecords:
    """Score records as of a date, with their top reasons; one pass over all of them."""
    as_of = pd.Timestamp(as_of).normalize()
    keys = [f"R{i:08d}" for i in range(len(records))]
    register, returns, case_log = tables_from_records(records, keys)
    in_population = population(register, as_of)["charity_number"]
    scores = pd.DataFrame({
        "record": np.arange(len(records)),
        "charity_number": [r["charity_number"] for r in records],
        "in_population": np.asarray(pd.Series(keys).isin(in_population)),
        "under_open_inquiry": False,
        "review_list": None,
        "score": np.nan,
    })
    if in_population.empty:
        return ScoredRecords(scores, pd.DataFrame(columns=["record", *REASON_COLUMNS]))
    features = build_features(register, returns, case_log, as_of)
    position = features["charity_number"].str.slice(1).astype(int).to_numpy()
    scores.loc[position, "score"] = score(pipeline, features)
    scores.loc[position, "review_list"] = review_list(features).to_numpy()
    scores.loc[position, "under_open_inquiry"] = features["open_inquiry"].to_numpy() > 0
    reasons = rank.reasons_by_range(pipeline, features, returns, case_log, n_reasons)
    reasons.insert(0, "record", reasons["charity_number"].str.slice(1).astype(int))
    reasons["charity_number"] = scores["charity_number"].to_numpy()[reasons["record"].to_numpy()]
    return ScoredRecords(scores, reasons.reset_index(drop=True))


@dataclass(frozen=True)
class Changes:
    """What moved a charity's score between two as-of dates."""

    scores: pd.DataFrame  # charity_number, score_before, score_now (NaN where not on the register), list_before,
    # list_now (the list or standing at each date), model_before, model_now (the list whose model scored it;
    # None where not on the register)
    factors: pd.DataFrame  # CHANGE_COLUMNS: the factors that moved most, largest change first; none for a
    # charity scored by another list's model then, whose two scores answer different questions


def changes_between(
    pipeline,
    register: pd.DataFrame,
    returns: pd.DataFrame,
    case_log: pd.DataFrame,
    before,
    now,
    n: int = 3,
) -> Changes:
    """Scores at two as-of dates and the n factors whose contributions moved most between them (for a
    charity scored by the same list's model at both: another model measures its factors from another base)."""
    frames = {name: build_features(register, returns, case_log, when) for name, when in (("before", before),
                                                                                         ("now", now))}
    scores = pd.DataFrame({"charity_number": register["charity_number"].to_numpy()})
    for name, features in frames.items():
        by_number = pd.Series(score(pipeline, features) if len(features) else [], index=features["charity_number"],
                              dtype=float)
        scores[f"score_{name}"] = scores["charity_number"].map(by_number).astype(float)
        numbers = features["charity_number"].to_numpy()
        scoring = getattr(pipeline, "scoring_list", None)  # the review lists score each charity with one model
        for column, values in ((f"list_{name}", review_list(features).to_numpy()),
                               (f"model_{name}", scoring(features) if scoring else np.full(len(features), "model"))):
            scores[column] = scores["charity_number"].map(pd.Series(values, index=numbers, dtype=object)).astype(
                object).where(scores["charity_number"].isin(numbers), None)
    empty = pd.DataFrame({c: pd.Series(dtype=object) for c in CHANGE_COLUMNS})
    if not has_reasons(pipeline) or any(f.empty for f in frames.values()):
        return Changes(scores, empty)
    factor_values = {
        name: reason_contributions(pipeline, features).by_factor().set_axis(features["charity_number"].to_numpy())
        for name, features in frames.items()
    }
    n = min(n, factor_values["now"].shape[1])
    stayed = scores.loc[scores["model_before"].eq(scores["model_now"]), "charity_number"]
    moved = what_changed(factor_values["now"].loc[lambda f: f.index.isin(stayed)], factor_values["before"], n
                         ).rename(columns={"index": "charity_number"})
    moved["label"] = moved["factor"].map(lambda f: FACTOR_BY_ID[f].label)
    moved["group"] = moved["factor"].map(lambda f: FACTOR_BY_ID[f].group)
    return Changes(scores, moved[list(CHANGE_COLUMNS)] if len(moved) else empty)
