from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from serve.deps import KEYED_ERRORS, DatabaseDep, RankingsAccess, ServingDep, SessionDep
from serve.internal.lists import csv_name, csv_text, query_page
from serve.internal.scorer import check_as_of
from serve.schemas import RankingsPage, RankingsQuery

router = APIRouter(tags=["rankings"], responses=KEYED_ERRORS)


@router.get("/rankings", response_model=RankingsPage,
            responses={200: {"content": {"text/csv": {}}, "description": "A page of the list, or all of it as CSV."}})
def rankings(query: Annotated[RankingsQuery, Query()], _: RankingsAccess, serving: ServingDep, session: SessionDep,
             db: DatabaseDep):
    """One review list (`list`: proactive or triage) for an as-of date, ranked within itself: filtered, sorted,
    a page at a time, or every row as CSV."""
    as_of = query.as_of or serving.as_of
    check_as_of(serving.data, as_of, ("query", "as_of"))
    stored = serving.list_for(db, as_of)
    if query.format == "csv":
        return Response(csv_text(session, as_of, serving.model, query), media_type="text/csv",
                        headers={"Content-Disposition": f'attachment; filename="{csv_name(query.review_list, as_of)}"'})
    total, items = query_page(session, as_of, serving.model.version, query)
    return RankingsPage(review_list=query.review_list, as_of=as_of, model=serving.model,
                        capacity=serving.champion.capacities[query.review_list],
                        listed=stored.listed(query.review_list), total=total,
                        page=query.page, page_size=query.page_size, sort=query.sort, items=items)
