"""Finding a charity: by name or number among every charity in the register data (on a list, on neither,
or removed), and the ones a key holder opened lately, from the access log; each with where it stands.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import pandas as pd
from sqlalchemy import desc, func, select
from sqlalchemy.orm import Session

from risk_model.lists.membership import LIST_TITLES, REVIEW_LISTS
from serve.internal.db import AccessLogEntry, ScoredCharity, utc_now
from serve.internal.state import ServingState

# How far back "recently opened" looks: the access log's time index keeps the read short.
RECENT_DAYS = 30


@dataclass(frozen=True)
class Found:
    """A charity found, and where it stands at the as-of date, in words."""

    charity_number: str
    charity_name: str
    standing: str


def standings(session: Session, serving: ServingState, numbers: list[str], as_of: date) -> list[Found]:
    """Each charity in the register data among `numbers`, in their order, with its list and rank, why it is on
    neither, or when it left the register."""
    stored = {row.charity_number: row for row in session.execute(
        select(ScoredCharity.charity_number, ScoredCharity.review_list, ScoredCharity.rank).where(
            ScoredCharity.as_of == as_of, ScoredCharity.model_version == serving.model.version,
            ScoredCharity.charity_number.in_(numbers)))}
    found = []
    for number in numbers:
        charity = serving.data.charity(number)
        if charity is None:
            continue
        register = charity[0].iloc[0]
        row = stored.get(number)
        if row is None:
            standing = off_register(register, as_of)
        elif row.review_list in REVIEW_LISTS:
            standing = f"On the {LIST_TITLES[row.review_list]} list, rank {row.rank}"
        else:
            standing = f"On neither list: {LIST_TITLES[row.review_list]}"
        found.append(Found(number, str(register["charity_name"]), standing))
    return found


def off_register(register: pd.Series, as_of: date) -> str:
    """Why a charity of the register data has no place on the lists of `as_of`, in words."""
    ceased = register.get("ceased_date")
    if pd.notna(ceased) and ceased.date() <= as_of:
        return f"Removed from the register on {ceased.date()}"
    return f"Not yet registered on {as_of}: registered on {register['registered_date'].date()}"


def search(session: Session, serving: ServingState, text: str, as_of: date, most: int = 50) -> tuple[int, list[Found]]:
    """Charities whose name or number holds `text` (any case), by name: how many, and the first `most`."""
    register = serving.data.register
    text = text.strip()
    hits = (register["charity_name"].str.contains(text, case=False, regex=False, na=False)
            | register["charity_number"].str.contains(text, case=False, regex=False, na=False))
    matched = register.loc[hits.to_numpy(dtype=bool), ["charity_number", "charity_name"]]
    first = matched.sort_values(["charity_name", "charity_number"]).head(most)
    return len(matched), standings(session, serving, first["charity_number"].tolist(), as_of)


def recently_opened(session: Session, serving: ServingState, who: str, pages: str, most: int = 10) -> list[Found]:
    """The charities whose pages (paths under `pages`) `who` opened in the last RECENT_DAYS, latest first."""
    last = func.max(AccessLogEntry.id).label("last")
    query = (select(AccessLogEntry.charity_number, last)
             .where(AccessLogEntry.at >= utc_now() - timedelta(days=RECENT_DAYS), AccessLogEntry.who == who,
                    AccessLogEntry.method == "GET", AccessLogEntry.status == 200,
                    AccessLogEntry.path.startswith(pages, autoescape=True), AccessLogEntry.charity_number.is_not(None))
             .group_by(AccessLogEntry.charity_number).order_by(desc(last)).limit(most))
    numbers = [row.charity_number for row in session.execute(query)]
    return standings(session, serving, numbers, serving.as_of)
