"""The list page's query: the API's list, filters and order, plus a search by name or number and a top k;
the filters in words, and what the rows matching them hold within the top k."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Annotated, get_args

from pydantic import Field
from sqlalchemy import Select, func, or_
from sqlalchemy.orm import Session

from serve.internal.db import ScoredCharity
from serve.internal.lists import (
    CSV_READ,
    FILTERS,
    PURPOSE_WORDS,
    RANKED_COLUMNS,
    Orderings,
    in_order,
    matching_rows,
    query_key,
    rank_order,
    ranked_charity,
    reason_sentences,
    rows_as_csv,
    rows_of_ranks,
)
from serve.schemas import IncomeBand, ModelInfo, Purpose, RankedCharity, RankingsQuery, RiskBand
from serve.values import BlankIsAny

BANDS: tuple[str, ...] = get_args(RiskBand)
INCOME_BANDS: tuple[str, ...] = get_args(IncomeBand)
PURPOSES: tuple[str, ...] = get_args(Purpose)


class ListQuery(BlankIsAny, RankingsQuery):
    """A page of the list as the form asks for it: empty fields mean "any"."""

    search: Annotated[str, Field(max_length=100)] | None = None
    top_k: int | None = Field(None, ge=1, le=100_000, description="Only the k highest-ranked charities of the list.")
    format: None = None

    def without_page(self) -> dict[str, str]:
        """The list and filters as query parameters (for links to other pages and the CSV)."""
        fields = self.model_dump(exclude={"page", "format"}, exclude_none=True, by_alias=True)
        return {k: str(v) for k, v in fields.items()}

    def on_list(self, review_list: str) -> dict[str, str]:
        """The same filters on another list: its own top k, from its first page."""
        return {k: v for k, v in self.without_page().items() if k != "top_k"} | {"list": review_list}


def matching(as_of: date, version: str, q: ListQuery, *columns) -> Select:
    query = matching_rows(as_of, version, q, *columns)
    if q.search:
        text = q.search.strip()
        query = query.where(or_(ScoredCharity.charity_name.icontains(text, autoescape=True),
                                ScoredCharity.charity_number.icontains(text, autoescape=True)))
    if q.top_k is not None:
        query = query.where(ScoredCharity.rank <= q.top_k)
    return query


def top_reason(row: ScoredCharity) -> str | None:
    """The sentence of the factor that raises the charity's score most."""
    raising = reason_sentences(row.reasons, "up")
    return raising[0] if raising else None


def list_page(session: Session, as_of: date, version: str, q: ListQuery, orderings: Orderings | None = None,
              listed: int | None = None) -> tuple[int, list[tuple[RankedCharity, str | None]]]:
    """Rows matching the form (their count, and one page of them with each one's top reason); `listed`:
    the list's size."""
    ranks = rank_order(q, listed, (*FILTERS, "search", "top_k"))
    if ranks is None:
        ranks = (orderings or Orderings()).ranks(session, (as_of, version, query_key(q)),
                                                 lambda: matching(as_of, version, q), q.sort)
    rows = rows_of_ranks(session, as_of, version, q.review_list, ranks[(q.page - 1) * q.page_size:q.page * q.page_size]
                         .tolist(), *RANKED_COLUMNS, ScoredCharity.reasons)
    return len(ranks), [(ranked_charity(row), top_reason(row)) for row in rows]


def list_csv(session: Session, as_of: date, model: ModelInfo, q: ListQuery) -> str:
    """Every row matching the form, in the API's CSV layout."""
    return rows_as_csv(session.execute(in_order(matching(as_of, model.version, q, *CSV_READ), q.sort)), as_of, model)


# The form's filters as the page names them, in its order.
FILTER_LABELS = {"search": "name or number", "local_authority": "area", "band": "band", "income_band": "income band",
                 "constitutional_form": "form", "purpose": "purpose"}


def applied(q: ListQuery) -> list[tuple[str, str]]:
    """The filters the form applies, each as (what, value) in words."""
    values = {name: getattr(q, name) for name in FILTER_LABELS}
    if q.purpose is not None:
        values["purpose"] = PURPOSE_WORDS.get(q.purpose, q.purpose)
    return [(label, values[name]) for name, label in FILTER_LABELS.items() if values[name] is not None]


def split_filters(q: ListQuery, names) -> tuple[dict[str, str], list[str]]:
    """The filters applied that are among `names` (name -> value), and the others applied, by the page's label."""
    among = {name: getattr(q, name) for name in names if getattr(q, name) is not None}
    others = [label for name, label in FILTER_LABELS.items() if getattr(q, name) is not None and name not in among]
    return among, others


@dataclass(frozen=True)
class WithinTop:
    """The rows matching the form among a list's top k, and the positives their calibrated scores add up to."""

    k: int
    matching: int
    expected: float


def within_top(session: Session, as_of: date, version: str, q: ListQuery, k: int,
               orderings: Orderings | None = None) -> WithinTop:
    """How many of the list's top k match the form, and their scores' sum: the label positives the model
    expects among them (its scores are calibrated probabilities). Read from a filter's index, once."""
    def work() -> WithinTop:
        count, total = session.execute(within_top_query(as_of, version, q, k)).one()
        return WithinTop(k, int(count), float(total))

    return (orderings or Orderings()).remembered(("within", as_of, version, query_key(q), k), work)


def within_top_query(as_of: date, version: str, q: ListQuery, k: int) -> Select:
    """The count and score sum of the rows matching the form among the top k."""
    summed = matching(as_of, version, q, func.count(), func.coalesce(func.sum(ScoredCharity.score), 0.0))
    return summed.where(ScoredCharity.rank <= k)
