"""A charity's page (which list it is on and why, its place there, reasons, what changed, returns,
feedback) and feedback."""

from __future__ import annotations

from datetime import date

import pandas as pd
from fastapi import HTTPException, status
from sqlalchemy import select
from sqlalchemy.orm import Session

from risk_model.features import due_dates
from risk_model.lists.membership import LIST_TITLES, REVIEW_LISTS, WHY_ON_LIST
from risk_model.lists.records import RETURN_FIELDS, changes_between
from serve.internal.db import Feedback, utc_now
from serve.internal.lists import list_size, stored_row
from serve.internal.security import Principal
from serve.internal.state import ServingState
from serve.schemas import CharityPage, FactorChange, FeedbackIn, FeedbackOut, Reason, ReturnRow, WhatChanged


def _value(value):
    if pd.isna(value):
        return None
    return value.date() if isinstance(value, pd.Timestamp) else value


def return_history(returns: pd.DataFrame) -> list[ReturnRow]:
    """A charity's returns, oldest first, with the date each was due."""
    frame = returns.assign(due_date=due_dates(returns["year_end"]))
    return [ReturnRow(**{k: _value(v) for k, v in row.items()})
            for row in frame[["due_date", *RETURN_FIELDS]].to_dict("records")]


def what_changed(serving: ServingState, number: str, as_of: date) -> WhatChanged | None:
    """How the charity's score and its factors moved since the as-of date a year earlier."""
    register, returns, case_log = serving.data.charity(number)
    since = (pd.Timestamp(as_of) - pd.DateOffset(years=1)).date()
    changes = changes_between(serving.champion.model, register, returns, case_log, pd.Timestamp(since),
                              pd.Timestamp(as_of), serving.options.n_reasons)
    scores = changes.scores.iloc[0]
    if pd.isna(scores["score_now"]):
        return None
    return WhatChanged(
        since=since, score_before=None if pd.isna(scores["score_before"]) else float(scores["score_before"]),
        score_now=float(scores["score_now"]),
        factors=[FactorChange(**{k: v for k, v in row.items() if k != "charity_number"})
                 for row in changes.factors.to_dict("records")],
    )


def feedback_of(session: Session, number: str) -> list[FeedbackOut]:
    rows = session.scalars(select(Feedback).where(Feedback.charity_number == number).order_by(Feedback.id))
    return [FeedbackOut.model_validate(row, from_attributes=True) for row in rows]


def charity_page(session: Session, serving: ServingState, number: str, as_of: date) -> CharityPage:
    """Everything a case officer needs about one charity on the register at `as_of`: the list it is on
    and why (or why it is on neither), its place on that list, and what lies behind its score."""
    row = stored_row(session, as_of, serving.model.version, number)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND,
                            f"{number} was not on the register as of {as_of}: it is not in the data, had not been "
                            "registered yet, or had left the register")
    on_a_list = row.review_list in REVIEW_LISTS
    return CharityPage(
        charity_number=number, charity_name=row.charity_name, as_of=as_of, model=serving.model,
        review_list=row.review_list, list_title=LIST_TITLES[row.review_list], why=WHY_ON_LIST[row.review_list],
        score=row.score, rank=row.rank,
        listed=list_size(session, as_of, serving.model.version, row.review_list) if on_a_list else None,
        capacity=serving.champion.capacities[row.review_list] if on_a_list else None,
        rank_percentile=row.rank_percentile, risk_band=row.risk_band, within_capacity=row.within_capacity,
        local_authority=row.local_authority, income_band=row.income_band,
        constitutional_form=row.constitutional_form, reasons=[Reason(**r) for r in row.reasons],
        what_changed=what_changed(serving, number, as_of),
        returns=return_history(serving.data.charity(number)[1]), feedback=feedback_of(session, number),
    )


def record_feedback(session: Session, serving: ServingState, number: str, feedback: FeedbackIn,
                    principal: Principal) -> FeedbackOut:
    """Store what a case officer did about a charity, against the current list."""
    if serving.data.charity(number) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"{number} is not in the register data")
    row = Feedback(charity_number=number, outcome=feedback.outcome.value, note=feedback.note,
                   recorded_by=principal.name, role=str(principal.role), recorded_at=utc_now(),
                   as_of=serving.as_of, model_version=serving.model.version)
    session.add(row)
    session.commit()
    return FeedbackOut.model_validate(row, from_attributes=True)
