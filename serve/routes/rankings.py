from __future__ import annotations

from datetime import date
from typing import Annotated

import numpy as np
from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool

from serve.deps import KEYED_ERRORS, DatabaseDep, ListJobsDep, RankingsAccess, RankingsCallDep, ServingDep
from serve.internal.filters import filter_values, filters_stored_values, known_values, read_as_stored, stored_values
from serve.internal.lists import (
    FILTERS,
    csv_name,
    csv_rows,
    csv_text,
    item_json,
    page_json,
    page_ranks,
    query_key,
    rank_order,
    rows_of_ranks,
)
from serve.internal.memory import StoredList
from serve.internal.queries import query_schema
from serve.internal.scorer import check_as_of, invalid
from serve.internal.state import ServingState
from serve.internal.unbuilt import UNBUILT_RESPONSES, answer_unbuilt
from serve.schemas import FilterValues, RankingsPage, RankingsQuery, ReviewList
from serve.values import OptionalDay

router = APIRouter(tags=["rankings"], responses=KEYED_ERRORS)


# The query is read once the key is checked and a model is served (`rankings_call`), so it is documented here.
@router.get("/rankings", response_model=RankingsPage,
            responses={200: {"content": {"text/csv": {}}, "description": "A page of the list, or all of it as CSV."},
                       **UNBUILT_RESPONSES}, openapi_extra=query_schema(RankingsQuery))
async def rankings(http: Request, call: RankingsCallDep) -> Response:
    """One review list (`list`: proactive or triage) for an as-of date, ranked within itself: filtered (in any
    case; the values each filter takes: `/rankings/values`), sorted, a page at a time (a page past the last is
    a 422), or every row as CSV (the command line's columns, reasons in words). For a date whose lists are not
    stored, at once: 202 with the job that builds them (analysts and admins), or 409."""
    query, access, serving = call.query, call.access, call.serving
    as_of = query.as_of or serving.as_of
    check_as_of(serving.data, as_of, ("query", "as_of"))
    # A page of lists held in memory, in an order already worked out, needs no database: answered here.
    # Anything else goes to a worker thread, all its database work in one trip. (The database and the list
    # jobs are read from the app's state, not as dependencies: resolving one costs more than reading it.)
    state = http.app.state
    return _from_memory(query, serving, as_of) or await run_in_threadpool(_answer, query, access, serving, state.db,
                                                                          state.list_jobs, as_of)


def _from_memory(query: RankingsQuery, serving: ServingState, as_of: date) -> Response | None:
    # The current lists only: they are never evicted, where another date's may have been since it was read.
    memory = serving.current if as_of == serving.as_of else None
    values = known_values(serving.orderings, as_of, serving.model.version)
    if memory is None or query.format == "csv" or (values is None and filters_stored_values(query)):
        return None
    query = read_as_stored(query, values or {})
    ranks = rank_order(query, memory.listed(query.review_list))
    if ranks is None:
        ranks = serving.orderings.known((as_of, serving.model.version, query_key(query)), query.sort)
    if ranks is None:
        ranks = _filtered(query, serving, memory, as_of)
    if ranks is None:
        return None
    _on_a_page(query, len(ranks))
    page = ranks[(query.page - 1) * query.page_size:query.page * query.page_size].tolist()
    return _page(query, serving, as_of, memory.listed(query.review_list), len(ranks),
                 memory.rows_json(query.review_list, page))


def _filtered(query: RankingsQuery, serving: ServingState, memory: StoredList, as_of: date) -> np.ndarray | None:
    """A filtered query's order, from the order of its whole list (worked out when the list was first served):
    a filter keeps the rows it passes in the order they had, so the two agree with the database's order,
    whatever its collation. None when the whole list's order is not known."""
    version = serving.model.version
    whole = rank_order(query, memory.listed(query.review_list), filters=())
    if whole is None:
        unfiltered = query.model_copy(update=dict.fromkeys(FILTERS))
        whole = serving.orderings.known((as_of, version, query_key(unfiltered)), query.sort)
    if whole is None:
        return None
    passes = memory.matching(query.review_list, query)
    return serving.orderings.keep_ranks((as_of, version, query_key(query)), query.sort, whole[passes[whole - 1]])


def _answer(query: RankingsQuery, access, serving: ServingState, db, jobs, as_of: date) -> Response:
    with db.sessions() as session:
        listed = serving.listed(session, as_of)
        if listed is None:
            return answer_unbuilt(jobs, serving.key(as_of), access.principal)
        query = read_as_stored(query, stored_values(session, as_of, serving.model.version, serving.orderings))
        if query.format == "csv":
            text = csv_text(session, as_of, serving.model, query)
            access.detail = {"list": query.review_list, "as_of": as_of.isoformat(),
                             "model_version": serving.model.version, "rows": csv_rows(text)}
            return Response(text, media_type="text/csv", headers={
                "Content-Disposition": f'attachment; filename="{csv_name(query.review_list, as_of)}"'})
        total, ranks = page_ranks(session, as_of, serving.model.version, query, serving.orderings,
                                  listed[query.review_list])
        _on_a_page(query, total)
        memory = serving.stored(as_of)
        items = (memory.rows_json(query.review_list, ranks) if memory is not None else
                 [item_json(row) for row in rows_of_ranks(session, as_of, serving.model.version, query.review_list,
                                                          ranks)])
    return _page(query, serving, as_of, listed[query.review_list], total, items)


def _on_a_page(query: RankingsQuery, total: int) -> None:
    """A page past the last holding a row is a 422 saying how many there are (page 1 of none is empty)."""
    pages = -(-total // query.page_size)
    if query.page > max(pages, 1):
        raise invalid(("query", "page"), f"page {query.page} is past the last: {total:,} rows match, "
                                         f"{pages:,} {'page' if pages == 1 else 'pages'} of {query.page_size}", query.page)


@router.get("/rankings/values", response_model=FilterValues, responses=UNBUILT_RESPONSES)
async def rankings_values(access: RankingsAccess, serving: ServingDep, db: DatabaseDep, jobs: ListJobsDep,
                          review_list: Annotated[ReviewList, Query(alias="list")] = "proactive",
                          as_of: OptionalDay = None) -> Response:
    """The values each filter of `/rankings` takes for a list's date: the areas and forms stored on its lists,
    the income bands, purposes (with their words) and bands. For a date whose lists are not stored, as
    `/rankings`."""
    as_of = as_of or serving.as_of
    check_as_of(serving.data, as_of, ("query", "as_of"))
    return await run_in_threadpool(_values, review_list, access, serving, db, jobs, as_of)


def _values(review_list: str, access, serving: ServingState, db, jobs, as_of: date) -> Response:
    with db.sessions() as session:
        if serving.listed(session, as_of) is None:
            return answer_unbuilt(jobs, serving.key(as_of), access.principal)
        values = stored_values(session, as_of, serving.model.version, serving.orderings)
    return Response(filter_values(review_list, as_of, values).model_dump_json(), media_type="application/json")


def _page(query: RankingsQuery, serving: ServingState, as_of: date, listed: int, total: int,
          items: list[bytes]) -> Response:
    """A RankingsPage, written as JSON around its rows' (tests/test_serve_api.py reads it through the model)."""
    return Response(page_json({"review_list": query.review_list, "as_of": as_of.isoformat(),
                               "model": serving.model.model_dump(mode="json"),
                               "capacity": serving.champion.capacities[query.review_list], "listed": listed,
                               "total": total, "page": query.page, "page_size": query.page_size,
                               "sort": query.sort}, items), media_type="application/json")
