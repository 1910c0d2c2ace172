"""The review lists in the database, read: the order of the rows matching a query, a page of them, the
CSV, one charity's row. (Scoring and storing a list is `serve.internal.building`'s; the lists held in
memory, `serve.internal.memory`'s.)

Every charity on the register at the date is stored: those on the proactive or the triage list with
their rank within it, those on neither with their status (under an open inquiry, recently inquired
into) and no rank, so that the service can say where any charity stands and why. A stored list never
changes, so what is counted of it once (how many rows match a filter) is remembered.
"""

from __future__ import annotations

import csv
import io
import json
import threading
from collections import OrderedDict
from collections.abc import Callable
from datetime import date
from functools import cache

import numpy as np
from sqlalchemy import Select, bindparam, select
from sqlalchemy.orm import Session

from risk_model.domain.vocab import PURPOSE_SHORT
from risk_model.export import safe_cell
from risk_model.lists.membership import REVIEW_LISTS
from risk_model.lists.rank import LIST_COLUMNS, joined_reasons
from serve.internal.db import ScoredCharity, StoredListRecord
from serve.schemas import ModelInfo, RankedCharity, RankingsQuery

# The command line's columns (`risk-model rank`, with `--reasons`), then the charity's purposes in words.
CSV_COLUMNS: tuple[str, ...] = (*LIST_COLUMNS, "reasons_up", "reasons_down", "purposes")
# What a row of a ranked list shows (not its reasons or what changed, read only where they are shown).
RANKED_COLUMNS = (ScoredCharity.review_list, ScoredCharity.rank, ScoredCharity.charity_number,
                  ScoredCharity.charity_name, ScoredCharity.score, ScoredCharity.rank_percentile,
                  ScoredCharity.risk_band, ScoredCharity.within_capacity, ScoredCharity.local_authority,
                  ScoredCharity.income_band, ScoredCharity.constitutional_form, ScoredCharity.geographical_spread,
                  ScoredCharity.purposes)
# What a row of the CSV is read from: those columns and the reasons (from the table, not an index: an export
# reads every matching row once).
CSV_READ = (*RANKED_COLUMNS, ScoredCharity.reasons)


PURPOSE_WORDS: dict[str, str] = {short: words for words, short in PURPOSE_SHORT.items()}


def purposes_list(text: str) -> list[str]:
    return [p for p in text.split("|") if p]


def reason_sentences(reasons: list[dict], direction: str) -> list[str]:
    """A stored row's reasons one way ("up" raises the score), in words, strongest first."""
    return [r["sentence"] for r in sorted(reasons, key=lambda r: r["position"]) if r["direction"] == direction]


def catalogued(session: Session, as_of: date, version: str) -> StoredListRecord | None:
    """The catalogue's entry for the lists of a date and model version: None when they are not stored."""
    return session.get(StoredListRecord, (as_of, version))


_SORTS = {"rank": ScoredCharity.rank, "score": ScoredCharity.score, "charity_number": ScoredCharity.charity_number,
          "charity_name": ScoredCharity.charity_name}


def matching_rows(as_of: date, version: str, q: RankingsQuery, *columns) -> Select:
    """The rows of the query's review list for a date and model version that pass its filters (the columns
    a ranked list shows, unless others are named)."""
    query = select(*(columns or RANKED_COLUMNS)).where(
        ScoredCharity.as_of == as_of, ScoredCharity.model_version == version,
        ScoredCharity.review_list == q.review_list)
    for name, column in EQUAL_FILTERS.items():
        if getattr(q, name) is not None:
            query = query.where(column == getattr(q, name))
    if q.purpose is not None:
        query = query.where(ScoredCharity.purposes.contains(purpose_token(q.purpose), autoescape=True))
    return query


# The filters a stored column must equal (the query's field -> the column), and the purpose, which a row's
# stored purposes must hold (as `purpose_token`): `matching_rows` on the database, `StoredList.matching` in memory.
EQUAL_FILTERS = {"local_authority": ScoredCharity.local_authority, "income_band": ScoredCharity.income_band,
                 "constitutional_form": ScoredCharity.constitutional_form, "band": ScoredCharity.risk_band}


def purpose_token(purpose: str) -> str:
    """How a purpose is held in a row's stored purposes ("|health|education|")."""
    return f"|{purpose}|"


def in_order(query: Select, sort: str) -> Select:
    """Rows in the order asked for (`-` for descending), ties broken by rank (charity numbers have none).

    Within a list the rank is the order of descending score, ties by charity number, so `-score` is
    the rank's order itself, read from its index."""
    if sort == "-score":
        sort = "rank"
    name = sort.lstrip("-")
    column = _SORTS[name]
    ordered = query.order_by(column.desc() if sort.startswith("-") else column.asc())
    return ordered if name in ("rank", "charity_number") else ordered.order_by(ScoredCharity.rank.asc())


class Orderings:
    """The order of the rows of a stored list that match a query (as their ranks, which name a row within
    its list), worked out once per query from an index: a stored list never changes. A page is then a
    slice of it, and the count its length. Also what else is worked out once of a list (a filter's
    choices). The last `most` worked out are kept, and besides them, for good, the whole lists' orders that
    `warm` works out: every filtered page answered from memory is cut from one of them."""

    def __init__(self, most: int = 512) -> None:
        self._most = most
        self._found: OrderedDict[tuple, object] = OrderedDict()
        self._pinned: dict[tuple, object] = {}
        # One at a time: a thread reading thousands of rows gives up the GIL at each, so several at once
        # slow each other down far more than they gain (and two asking the same work it out once).
        self._working = threading.Lock()

    def remembered(self, key: tuple, work: Callable[[], object], pinned: bool = False):
        found = self.found(key)
        if found is None:
            with self._working:
                found = self.found(key)
                if found is None:
                    found = self._keep(key, work(), pinned)
        return found

    def _keep(self, key: tuple, value, pinned: bool = False):
        if pinned:
            self._pinned[key] = value
            return value
        self._found[key] = value
        if len(self._found) > self._most:
            self._found.popitem(last=False)
        return value

    def found(self, key: tuple):
        """What was worked out under `key`, if it was."""
        found = self._pinned.get(key)
        return self._found.get(key) if found is None else found

    def known(self, key: tuple, sort: str) -> np.ndarray | None:
        """The ranks of the rows matching a query, in the order asked for, if they were worked out already."""
        return self.found(("ranks", *key, sort))

    def ranks(self, session: Session, key: tuple, matching: Callable[[], Select], sort: str,
              pinned: bool = False) -> np.ndarray:
        """The ranks of the rows `matching()` selects, in the order asked for (`pinned`: kept for good)."""
        def work() -> np.ndarray:
            return np.fromiter(session.connection().execute(ordering(matching(), sort)).scalars(), dtype=np.int64)

        return self.remembered(("ranks", *key, sort), work, pinned)

    def keep_ranks(self, key: tuple, sort: str, ranks: np.ndarray) -> np.ndarray:
        """Keep ranks worked out without the database (no lock: nothing here waits on one)."""
        return self._keep(("ranks", *key, sort), ranks)


def ordering(matching: Select, sort: str) -> Select:
    """The ranks of the rows `matching` selects, in the order asked for: read from an index alone."""
    return in_order(matching.with_only_columns(ScoredCharity.rank), sort)


def ranked_charity(row) -> RankedCharity:
    return RankedCharity(
        review_list=row.review_list, rank=row.rank, charity_number=row.charity_number, charity_name=row.charity_name,
        score=row.score, rank_percentile=row.rank_percentile, risk_band=row.risk_band,
        within_capacity=row.within_capacity, local_authority=row.local_authority, income_band=row.income_band,
        constitutional_form=row.constitutional_form, geographical_spread=row.geographical_spread,
        purposes=purposes_list(row.purposes),
    )


def query_key(q: RankingsQuery) -> str:
    """What of a query decides which rows match (not their order, nor the page)."""
    return q.model_dump_json(exclude={"page", "page_size", "sort", "format", "as_of"})


@cache
def rows_by_rank(columns: tuple = RANKED_COLUMNS) -> Select:
    """The rows of a list with these ranks (built once for each set of columns: a page asks it every time)."""
    return select(*columns, ScoredCharity.rank.label("_rank")).where(
        ScoredCharity.as_of == bindparam("as_of"), ScoredCharity.model_version == bindparam("version"),
        ScoredCharity.review_list == bindparam("review_list"),
        ScoredCharity.rank.in_(bindparam("ranks", expanding=True)))


def rows_of_ranks(session: Session, as_of: date, version: str, review_list: str, wanted: list[int], *columns) -> list:
    """A list's rows with these ranks, in their order: read from the rank's index (which holds every column a
    ranked list shows)."""
    if not wanted:
        return []
    found = session.connection().execute(rows_by_rank(columns or RANKED_COLUMNS), {
        "as_of": as_of, "version": version, "review_list": review_list, "ranks": wanted})
    by_rank = {row._rank: row for row in found}
    return [by_rank[rank] for rank in wanted]


FILTERS = ("local_authority", "income_band", "constitutional_form", "purpose", "band")
# The orders of a whole list other than the rank's own, worked out when a list is first served.
WHOLE_LIST_SORTS = ("score", "charity_name", "-charity_name", "charity_number", "-charity_number")


def warm(session: Session, as_of: date, version: str, orderings: Orderings) -> None:
    """Work out the orders of each whole list, so that no first request for one waits for it."""
    for review_list in REVIEW_LISTS:
        for sort in WHOLE_LIST_SORTS:
            q = RankingsQuery.model_validate({"list": review_list, "sort": sort})
            orderings.ranks(session, (as_of, version, query_key(q)), lambda q=q: matching_rows(as_of, version, q), sort,
                            pinned=True)


def rank_order(q: RankingsQuery, listed: int | None, filters: tuple[str, ...] = FILTERS) -> np.ndarray | None:
    """The ranks in the order asked for without reading them, when it is the rank's own order of the whole
    list (ranks run from 1 to the list's size): None otherwise."""
    if listed is None or q.sort not in ("rank", "-rank", "-score") or any(getattr(q, f) is not None for f in filters):
        return None
    ranks = np.arange(1, listed + 1)
    return ranks[::-1] if q.sort == "-rank" else ranks


def page_ranks(session: Session, as_of: date, version: str, q: RankingsQuery, orderings: Orderings | None = None,
               listed: int | None = None) -> tuple[int, list[int]]:
    """How many rows match the filters, and the ranks of one page of them in the order asked for.
    `listed`: the list's size."""
    ranks = rank_order(q, listed)
    if ranks is None:
        ranks = (orderings or Orderings()).ranks(session, (as_of, version, query_key(q)),
                                                 lambda: matching_rows(as_of, version, q), q.sort)
    return len(ranks), ranks[(q.page - 1) * q.page_size:q.page * q.page_size].tolist()


_RANKED_KEYS = tuple(column.key for column in RANKED_COLUMNS)


def item_json(row) -> bytes:
    """A row of a ranked list (the columns of RANKED_COLUMNS first) as a `RankedCharity`'s JSON."""
    item = dict(zip(_RANKED_KEYS, row, strict=False))
    item["purposes"] = purposes_list(item["purposes"])
    return json.dumps(item, separators=(",", ":")).encode()


def page_json(page: dict, items: list[bytes]) -> bytes:
    """A `RankingsPage` as JSON, written around its items' JSON (no model is built per row)."""
    head = json.dumps(page, separators=(",", ":"))
    return head[:-1].encode() + b',"items":[' + b",".join(items) + b"]}"


def csv_name(review_list: str, as_of: date) -> str:
    """The exported file's name: which list, and its date."""
    return f"{review_list}_list_{as_of}.csv"


def csv_text(session: Session, as_of: date, model: ModelInfo, q: RankingsQuery) -> str:
    """Every row matching the filters (not just one page), as CSV."""
    return rows_as_csv(session.execute(in_order(matching_rows(as_of, model.version, q, *CSV_READ), q.sort)),
                       as_of, model)


def rows_as_csv(rows, as_of: date, model: ModelInfo) -> str:
    """Stored list rows (CSV_READ) in the CSV layout the API and the pages both export: the command line's,
    reasons and purposes in words."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        named = {"main_operating_location": row.local_authority, "as_of": as_of.isoformat(), "model": model.model,
                 "model_version": model.version, "reasons_up": joined_reasons(reason_sentences(row.reasons, "up")),
                 "reasons_down": joined_reasons(reason_sentences(row.reasons, "down")),
                 "purposes": "; ".join(PURPOSE_WORDS.get(p, p) for p in purposes_list(row.purposes))}
        writer.writerow([safe_cell(named[c] if c in named else getattr(row, c)) for c in CSV_COLUMNS])
    return buffer.getvalue()


def stored_row(session: Session, as_of: date, version: str, number: str) -> ScoredCharity | None:
    return session.get(ScoredCharity, (as_of, version, number))


def csv_rows(text: str) -> int:
    """How many charities an exported CSV holds (its records less the header; a name may hold a newline)."""
    return max(sum(1 for _ in csv.reader(io.StringIO(text))) - 1, 0)
