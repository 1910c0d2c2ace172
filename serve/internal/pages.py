"""A charity's page (which list it is on and why, its place there, reasons, what changed, returns,
feedback), the page of one off the register at the date (removed, or not yet registered), and feedback.

The page is read, not worked out: its row of the stored list holds its place, reasons and what changed
(stored with the list, `serve.internal.building`), and its returns are the register data's own rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd
from fastapi import HTTPException, status
from sqlalchemy import select
from sqlalchemy.orm import Session

from risk_model.lists.membership import LIST_TITLES, PROACTIVE, REVIEW_LISTS, WHY_ON_LIST
from risk_model.lists.points import change_points, other_factors_points
from risk_model.lists.records import RETURN_FIELDS
from serve.internal.db import Feedback, utc_now
from serve.internal.finding import off_register
from serve.internal.lists import stored_row
from serve.internal.registry import Champion
from serve.internal.security import Principal
from serve.internal.state import RegisterData, ServingState
from serve.schemas import CharityPage, FeedbackIn, FeedbackOut, Reason, ReturnRow, WhatChanged


def return_history(data: RegisterData, number: str) -> list[ReturnRow]:
    """A charity's returns, oldest first, with the date each was due (`prepare_returns` gave each its own)."""
    return [ReturnRow(**row) for row in data.returns_of(number, ("due_date", *RETURN_FIELDS))]


def feedback_of(session: Session, number: str) -> list[FeedbackOut]:
    rows = session.scalars(select(Feedback).where(Feedback.charity_number == number).order_by(Feedback.id))
    return [FeedbackOut.model_validate(row, from_attributes=True) for row in rows]


def charity_page(session: Session, serving: ServingState, number: str, as_of: date,
                 listed: dict[str, int]) -> CharityPage:
    """Everything a case officer needs about one charity on the register at `as_of`: the list it is on
    and why (or why it is on neither), its place on that list, and what lies behind its score. `listed`:
    how many each list of the date holds."""
    row = stored_row(session, as_of, serving.model.version, number)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND,
                            f"{number} was not on the register as of {as_of}: it is not in the data, had not been "
                            "registered yet, or had left the register")
    on_a_list = row.review_list in REVIEW_LISTS
    reasons, base_rate, other = explained(serving.champion, row)
    return CharityPage(
        charity_number=number, charity_name=row.charity_name, as_of=as_of, model=serving.model,
        review_list=row.review_list, list_title=LIST_TITLES[row.review_list], why=WHY_ON_LIST[row.review_list],
        score=row.score, rank=row.rank,
        listed=listed[row.review_list] if on_a_list else None,
        capacity=serving.champion.capacities[row.review_list] if on_a_list else None,
        rank_percentile=row.rank_percentile, risk_band=row.risk_band, within_capacity=row.within_capacity,
        local_authority=row.local_authority, income_band=row.income_band,
        constitutional_form=row.constitutional_form, reasons=reasons, base_rate=base_rate, other_factors_points=other,
        what_changed=what_changed(row),
        returns=return_history(serving.data, number), feedback=feedback_of(session, number),
    )


@dataclass(frozen=True)
class OffRegisterPage:
    """A charity of the register data with no place on the lists of a date (removed before it, or registered
    after): where it stands, its returns and its feedback."""

    charity_number: str
    charity_name: str
    as_of: date
    standing: str
    removal_reason: str | None
    main_operating_location: str | None
    constitutional_form: str | None
    returns: list[ReturnRow]
    feedback: list[FeedbackOut]


def off_register_page(session: Session, serving: ServingState, number: str, as_of: date) -> OffRegisterPage:
    """The page of a charity with no row on the lists of `as_of`; 404 when it is not in the register data."""
    charity = serving.data.charity(number)
    if charity is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"{number} is not in the register data")
    register = charity[0].iloc[0]

    def text(name: str) -> str | None:
        value = register.get(name)
        return None if pd.isna(value) else str(value)

    return OffRegisterPage(
        charity_number=number, charity_name=str(register["charity_name"]), as_of=as_of,
        standing=off_register(register, as_of), removal_reason=text("removal_reason"),
        main_operating_location=text("main_operating_location"), constitutional_form=text("constitutional_form"),
        returns=return_history(serving.data, number), feedback=feedback_of(session, number))


def explained(champion: Champion, row) -> tuple[list[Reason], float | None, float | None]:
    """A stored row's reasons, the base rate of the model that scored it, and what the other factors add (in
    percentage points), so that base rate, steps and the rest end at the score."""
    reasons = [Reason(**r) for r in row.reasons]
    if champion.base_rates is None:
        return reasons, None, None
    base_rate = champion.base_rates[row.review_list if row.review_list in REVIEW_LISTS else PROACTIVE]
    steps = [r.contribution_points for r in reasons]
    if None in steps:
        return reasons, base_rate, None
    return reasons, base_rate, other_factors_points(row.score, base_rate, steps)


def what_changed(row) -> WhatChanged | None:
    """What changed since a year before, each factor's change also in percentage points of today's score."""
    if row.what_changed is None:
        return None
    changed = WhatChanged.model_validate(row.what_changed)
    factors = [f.model_copy(update={"change_points": float(change_points(changed.score_now, f.change_log_odds))})
               for f in changed.factors]
    return changed.model_copy(update={"factors": factors})


def record_feedback(session: Session, serving: ServingState, number: str, feedback: FeedbackIn,
                    principal: Principal) -> FeedbackOut:
    """Store what a case officer did about a charity, against the current list."""
    if number not in serving.data:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"{number} is not in the register data")
    row = Feedback(charity_number=number, outcome=feedback.outcome.value, note=feedback.note,
                   recorded_by=principal.name, role=str(principal.role), recorded_at=utc_now(),
                   as_of=serving.as_of, model_version=serving.model.version)
    session.add(row)
    session.commit()
    return FeedbackOut.model_validate(row, from_attributes=True)
