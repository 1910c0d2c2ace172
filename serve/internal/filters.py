"""The values the filters of a review list take, and an area or form as someone typed it read as one of them.

The income band, purpose and band take fixed values (`serve.schemas` reads those loosely itself); the area
and the constitutional form take those stored on the lists of a date. A typed area or form is put in
OSCR's spelling as ingest puts a file's (`ingest.vocabulary`), matched loosely (`domain.names.loose_key`),
and failing that taken as the one stored value it is the start of:

    "glasgow city", "Glasgow", "Glaschu"  -> "Glasgow City"
    "perth and kinross"                   -> "Perth & Kinross"
    "trust"                               -> "Trust (founding document is a deed of trust) (...)"

Anything else is a 422 naming the filter, the nearest value and the values it takes, not an empty list.
The value is mapped to the stored one, rather than compared in lower case in SQL, so that the filter's
index still answers.
"""

from __future__ import annotations

from datetime import date
from typing import TypeVar, get_args

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from risk_model.domain.names import loose_key, nearest
from risk_model.ingest.vocabulary import oscr_spelling
from risk_model.lists.membership import REVIEW_LISTS
from serve.internal.db import ScoredCharity
from serve.internal.lists import PURPOSE_WORDS, Orderings
from serve.internal.scorer import invalid
from serve.schemas import FilterValues, IncomeBand, Purpose, PurposeValue, RankingsQuery, RiskBand

# The filters whose values are those stored on a date's lists: the column, and the register field ingest
# spells it as.
STORED = {"local_authority": (ScoredCharity.local_authority, "Main Operating Location"),
          "constitutional_form": (ScoredCharity.constitutional_form, "Constitutional Form")}

Q = TypeVar("Q", bound=RankingsQuery)


def stored_values(session: Session, as_of: date, version: str, orderings: Orderings) -> dict[str, list[str]]:
    """The values of each stored filter on a date's review lists (the same on both lists, so that a filter kept
    while switching lists stays valid), worked out once: a stored list never changes."""
    def work() -> dict[str, list[str]]:
        return {name: list(session.scalars(values_query(as_of, version, column))) for name, (column, _) in STORED.items()}

    return orderings.remembered(("values", as_of, version), work)


def values_query(as_of: date, version: str, column) -> Select:
    """The distinct values of a column on a date's review lists, in order."""
    return (select(column).distinct().where(ScoredCharity.as_of == as_of, ScoredCharity.model_version == version,
                                            ScoredCharity.review_list.in_(REVIEW_LISTS), column.is_not(None))
            .order_by(column))


def known_values(orderings: Orderings, as_of: date, version: str) -> dict[str, list[str]] | None:
    """The stored filters' values, if they were worked out already (no database needed)."""
    return orderings.found(("values", as_of, version))


def _stored_value(name: str, typed: str, values: list[str]) -> str:
    field = STORED[name][1]
    spelt = oscr_spelling(field, typed.strip())
    key = loose_key(spelt)
    same = [v for v in values if loose_key(v) == key]
    begun = same or [v for v in values if key and loose_key(v).startswith(key + " ")]
    if len(begun) == 1:
        return begun[0]
    if begun:
        raise invalid(("query", name), f"{typed!r} begins more than one {field.lower()}: "
                                       f"{'; '.join(begun)}", typed)
    near = nearest(typed, values)
    hint = f"did you mean {near!r}? " if near else ""
    raise invalid(("query", name), f"no {field.lower()} {typed!r} on these lists: {hint}it is one of "
                                   f"{'; '.join(values)} (GET /rankings/values)", typed)


def filters_stored_values(q: RankingsQuery) -> bool:
    """Whether the query filters on an area or a form (whose values are the stored ones)."""
    return any(getattr(q, name) is not None for name in STORED)


def read_as_stored(q: Q, values: dict[str, list[str]]) -> Q:
    """The query with its area and form as stored (a 422 naming the filter when one matches no stored value)."""
    found = {name: _stored_value(name, getattr(q, name), values[name]) for name in STORED
             if getattr(q, name) is not None}
    return q.model_copy(update=found) if found else q


def filter_values(review_list: str, as_of: date, values: dict[str, list[str]]) -> FilterValues:
    """What each filter takes for a list's date."""
    return FilterValues(
        review_list=review_list, as_of=as_of, local_authority=values["local_authority"],
        income_band=list(get_args(IncomeBand)), constitutional_form=values["constitutional_form"],
        purpose=[PurposeValue(value=p, words=PURPOSE_WORDS.get(p, p)) for p in get_args(Purpose)],
        band=list(get_args(RiskBand)))
