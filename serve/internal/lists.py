"""The review lists in the database: scored once per as-of date and model version, then read from there.

Every charity on the register at the date is stored: those on the proactive or the triage list with
their rank within it, those on neither with their status (under an open inquiry, recently inquired
into) and no rank, so that the service can say where any charity stands and why.
"""

from __future__ import annotations

import csv
import io
from datetime import date

import numpy as np
import pandas as pd
from sqlalchemy import Select, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from risk_model.domain.vocab import PURPOSE_SHORT
from risk_model.export import safe_cell
from risk_model.lists.membership import REVIEW_LISTS, UNDER_INQUIRY, WHY_ON_LIST
from risk_model.lists.rank import ranked_lists
from risk_model.lists.reasons import REASON_COLUMNS
from risk_model.lists.records import fingerprint, records_from_tables
from serve.internal.db import Database, ScoredCharity, utc_now
from serve.internal.registry import Champion
from serve.schemas import CharityScore, ModelInfo, RankedCharity, RankingsQuery, Reason

_REASON_FIELDS = [c for c in REASON_COLUMNS if c != "charity_number"]
CSV_COLUMNS: tuple[str, ...] = tuple(RankedCharity.model_fields) + ("as_of", "registered_model", "model_version")


def _purposes_text(purposes: list[str]) -> str:
    shorts = [PURPOSE_SHORT.get(p, p) for p in purposes]
    return "|" + "|".join(shorts) + "|" if shorts else ""


def purposes_list(text: str) -> list[str]:
    return [p for p in text.split("|") if p]


def _reasons_by_charity(reasons: pd.DataFrame) -> dict[str, list[dict]]:
    grouped: dict[str, list[dict]] = {}
    for row in reasons.to_dict("records"):
        number = row.pop("charity_number")
        row["contribution_log_odds"] = float(row["contribution_log_odds"])
        row["position"] = int(row["position"])
        grouped.setdefault(number, []).append({k: row[k] for k in _REASON_FIELDS})
    return grouped


def list_exists(session: Session, as_of: date, version: str) -> bool:
    query = select(ScoredCharity.charity_number).where(ScoredCharity.as_of == as_of,
                                                       ScoredCharity.model_version == version).limit(1)
    return session.scalar(query) is not None


def score_and_store(db: Database, champion: Champion, register: pd.DataFrame, returns: pd.DataFrame,
                    case_log: pd.DataFrame, as_of: date, n_reasons: int) -> None:
    """Score the register at `as_of` with the champion and store its lists, unless they are stored already."""
    version = champion.info.version
    with db.sessions() as session:
        if list_exists(session, as_of, version):
            return
    scored = ranked_lists(champion.model, register, returns, case_log, pd.Timestamp(as_of), champion.capacities,
                          champion.info.model, version, n_reasons=n_reasons)
    numbers = pd.concat([scored.ranked["charity_number"], scored.not_listed["charity_number"]])
    records = records_from_tables(register, returns, case_log, numbers)
    reasons_of = _reasons_by_charity(scored.reasons)
    purposes_of = dict(zip(register["charity_number"], register["purposes"], strict=True))
    scored_at = utc_now()
    unranked = {"rank": None, "rank_percentile": None, "risk_band": None, "within_capacity": None}
    rows = [
        {
            "as_of": as_of, "model_version": version, "charity_number": r["charity_number"],
            "review_list": r["review_list"], "registered_model": champion.info.registered_model,
            "model": champion.info.model, "score": float(r["score"]),
            **(unranked if "rank" not in r else {
                "rank": int(r["rank"]), "rank_percentile": float(r["rank_percentile"]), "risk_band": r["risk_band"],
                "within_capacity": bool(r["within_capacity"])}),
            "charity_name": r["charity_name"], "local_authority": _text(r["main_operating_location"]),
            "income_band": r["income_band"], "constitutional_form": _text(r["constitutional_form"]),
            "geographical_spread": _text(r["geographical_spread"]),
            "purposes": _purposes_text(purposes_of[r["charity_number"]]),
            "reasons": reasons_of.get(r["charity_number"], []),
            "input_sha256": fingerprint(records[r["charity_number"]]), "scored_at": scored_at,
        }
        for frame in (scored.ranked, scored.not_listed) for r in frame.to_dict("records")
    ]
    try:
        with db.sessions.begin() as session:
            for start in range(0, len(rows), 5000):
                session.execute(insert(ScoredCharity), rows[start:start + 5000])
    except IntegrityError:
        # Another worker stored the same list first; theirs is identical.
        return


def _text(value) -> str | None:
    return None if pd.isna(value) or value == "Unknown" else str(value)


class StoredList:
    """Stored lists held in memory for scoring: each charity's answer and the fingerprint of its data,
    and each review list's scores (where a charity scored afresh falls on its list)."""

    def __init__(self, as_of: date, model: ModelInfo, entries: dict[str, tuple[str, CharityScore]]) -> None:
        self.as_of = as_of
        self.model = model
        self.entries = entries
        self.sorted_scores = {name: np.sort(np.array([e[1].score for e in entries.values()
                                                      if e[1].review_list == name], dtype=float))
                              for name in REVIEW_LISTS}

    def __len__(self) -> int:
        """Charities on the review lists (both together)."""
        return sum(len(scores) for scores in self.sorted_scores.values())

    def listed(self, name: str) -> int:
        """Charities on one review list."""
        return len(self.sorted_scores[name])

    def answer(self, number: str, input_sha256: str) -> CharityScore | None:
        """The stored answer for a charity, if the data sent are the data it was scored on."""
        entry = self.entries.get(number)
        return entry[1] if entry is not None and entry[0] == input_sha256 else None


def load_stored(db: Database, as_of: date, model: ModelInfo) -> StoredList:
    """The stored lists of a date and model version, read into memory."""
    query = select(ScoredCharity).where(ScoredCharity.as_of == as_of, ScoredCharity.model_version == model.version)
    entries = {}
    with db.sessions() as session:
        for row in session.scalars(query):
            result = CharityScore(
                charity_number=row.charity_number, charity_name=row.charity_name, review_list=row.review_list,
                why=WHY_ON_LIST[row.review_list], score=row.score, risk_band=row.risk_band,
                rank_percentile=row.rank_percentile, under_open_inquiry=row.review_list == UNDER_INQUIRY,
                from_stored_list=True, reasons=[Reason(**r) for r in row.reasons],
            )
            entries[row.charity_number] = (row.input_sha256, result)
    return StoredList(as_of, model, entries)


_SORTS = {"rank": ScoredCharity.rank, "score": ScoredCharity.score, "charity_number": ScoredCharity.charity_number,
          "charity_name": ScoredCharity.charity_name}


def matching_rows(as_of: date, version: str, q: RankingsQuery) -> Select:
    """The rows of the query's review list for a date and model version that pass its filters."""
    query = select(ScoredCharity).where(ScoredCharity.as_of == as_of, ScoredCharity.model_version == version,
                                        ScoredCharity.review_list == q.review_list)
    equal = {ScoredCharity.local_authority: q.local_authority, ScoredCharity.income_band: q.income_band,
             ScoredCharity.constitutional_form: q.constitutional_form, ScoredCharity.risk_band: q.band}
    for column, value in equal.items():
        if value is not None:
            query = query.where(column == value)
    if q.purpose is not None:
        query = query.where(ScoredCharity.purposes.contains(f"|{q.purpose}|", autoescape=True))
    return query


def in_order(query: Select, sort: str) -> Select:
    """Rows in the order asked for (`-` for descending), ties broken by rank."""
    column = _SORTS[sort.lstrip("-")]
    return query.order_by(column.desc() if sort.startswith("-") else column.asc(), ScoredCharity.rank.asc())


def ranked_charity(row: ScoredCharity) -> RankedCharity:
    return RankedCharity(
        review_list=row.review_list, rank=row.rank, charity_number=row.charity_number, charity_name=row.charity_name,
        score=row.score, rank_percentile=row.rank_percentile, risk_band=row.risk_band,
        within_capacity=row.within_capacity, local_authority=row.local_authority, income_band=row.income_band,
        constitutional_form=row.constitutional_form, geographical_spread=row.geographical_spread,
        purposes=purposes_list(row.purposes),
    )


def query_page(session: Session, as_of: date, version: str, q: RankingsQuery) -> tuple[int, list[RankedCharity]]:
    """Rows matching the filters (their count, and one page of them) in the order asked for."""
    query = matching_rows(as_of, version, q)
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    page = session.scalars(in_order(query, q.sort).offset((q.page - 1) * q.page_size).limit(q.page_size))
    return int(total or 0), [ranked_charity(row) for row in page]


def csv_name(review_list: str, as_of: date) -> str:
    """The exported file's name: which list, and its date."""
    return f"{review_list}_list_{as_of}.csv"


def csv_text(session: Session, as_of: date, model: ModelInfo, q: RankingsQuery) -> str:
    """Every row matching the filters (not just one page), as CSV."""
    return rows_as_csv(session.scalars(in_order(matching_rows(as_of, model.version, q), q.sort)), as_of, model)


def rows_as_csv(rows, as_of: date, model: ModelInfo) -> str:
    """Stored list rows in the CSV layout the API and the pages both export."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        item = ranked_charity(row).model_dump()
        item["purposes"] = ";".join(item["purposes"])
        writer.writerow([safe_cell(v) for v in (*item.values(), as_of.isoformat(), model.registered_model,
                                                model.version)])
    return buffer.getvalue()


def stored_row(session: Session, as_of: date, version: str, number: str) -> ScoredCharity | None:
    return session.get(ScoredCharity, (as_of, version, number))


def list_size(session: Session, as_of: date, version: str, review_list: str) -> int:
    """Charities on one review list."""
    query = select(func.count()).where(ScoredCharity.as_of == as_of, ScoredCharity.model_version == version,
                                       ScoredCharity.review_list == review_list)
    return int(session.scalar(query) or 0)
