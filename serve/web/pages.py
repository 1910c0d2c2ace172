"""The pages' routes: sign-in, the two review lists (and their CSV), and the models; the case officers'
pages are `serve.web.charities`'.

Each handler gets what it shows from the same service and library calls as the JSON routes
(`query_page`'s filters, `registered_versions`) and hands it to a template (`render`, shared by every
page module); access goes through the API's role check and access log.
"""

from __future__ import annotations

import math
from datetime import date
from pathlib import Path
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, HTTPException, Query, Request, Response, status
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from risk_model.lists.membership import LIST_TITLES, REVIEW_LISTS, WHY_ON_LIST
from serve.deps import (
    ListJobsDep,
    ServingDep,
    SessionDep,
    SettingsDep,
    client_of,
    note_request,
    too_many_failed_keys,
)
from serve.internal.filters import read_as_stored, stored_values
from serve.internal.lists import PURPOSE_WORDS, csv_name, csv_rows
from serve.internal.registry import registered_versions
from serve.internal.scorer import check_as_of
from serve.internal.security import Action, Principal
from serve.web import runs
from serve.web.building import REFRESH_S, BuildForm, start_from_form, unbuilt_view
from serve.web.legend import legend
from serve.web.listing import (
    BANDS,
    INCOME_BANDS,
    PURPOSES,
    ListQuery,
    applied,
    list_csv,
    list_page,
    split_filters,
    within_top,
)
from serve.web.session import (
    ModelsPage,
    RankingsPage,
    checked_form,
    clear_cookie,
    current,
    form_session,
    kept_feedback,
    may,
    set_cookie,
    sign_in,
    sign_out,
    signed_in,
)

PREFIX = "/ui"
router = APIRouter(prefix=PREFIX, include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
templates.env.globals["legend"] = legend


def nav(principal: Principal | None) -> list[tuple[str, str]]:
    """The pages this role may open: only these are linked."""
    links = [("Review lists", f"{PREFIX}/list", Action.rankings), ("Charities", f"{PREFIX}/charities", Action.charity),
             ("Models", f"{PREFIX}/models", Action.models), ("Access log", f"{PREFIX}/access-log", Action.access_log)]
    return [(label, href) for label, href, action in links if may(principal, action)]


def render(request: Request, name: str, context: dict, status_code: int = 200) -> HTMLResponse:
    """A page, with who is signed in, the links their role may follow, and the session's form token."""
    principal = signed_in(request)
    session = current(request)
    return templates.TemplateResponse(request, name, {"principal": principal, "nav": nav(principal),
                                                      "may": lambda action: may(principal, Action[action]),
                                                      "csrf_token": session.csrf_token if session else None,
                                                      **context}, status_code=status_code)


def _next_page(value: str | None) -> str:
    # Only a page of this site: never an open redirect.
    return value if value and value.startswith(f"{PREFIX}/") and not value.startswith("//") else f"{PREFIX}/"


@router.get("/", name="home")
def home(request: Request) -> Response:
    """Sign in, or go to the first page the role may open."""
    links = nav(signed_in(request))
    return RedirectResponse(links[0][1] if links else f"{PREFIX}/sign-in", status.HTTP_303_SEE_OTHER)


def _kept_numbers(request: Request) -> list[str]:
    """The charities the browser's session holds unsent feedback on, for the sign-in form to say so."""
    return sorted({row.charity_number for row in kept_feedback(request)})


@router.get("/sign-in")
def sign_in_form(request: Request, next: str | None = None) -> HTMLResponse:
    """The sign-in form, with a session of its own for its token when the browser has none."""
    begun = form_session(request)
    response = render(request, "sign_in.html", {"next": _next_page(next), "error": None,
                                                "kept": _kept_numbers(request)})
    if begun is not None:
        set_cookie(response, request, begun)
    return response


@router.post("/sign-in")
def sign_in_submit(request: Request, api_key: Annotated[str, Form(max_length=500)] = "",
                   next: Annotated[str | None, Form()] = None,
                   csrf_token: Annotated[str, Form(max_length=100)] = "") -> Response:
    """Sign in, in this order: a client refused for unknown keys gets 429 (the key unchecked), a form from
    elsewhere or without its token 403, an unknown key 401 (counted against the client); each is logged."""
    throttle, client = request.app.state.throttle, client_of(request)
    if throttle.due():
        throttle.refresh()
    wait_s = throttle.retry_after(client)
    if wait_s is not None:
        note_request(request, signed_in(request))
        raise too_many_failed_keys(wait_s)
    checked_form(request, csrf_token)
    signed = sign_in(request, api_key.strip())
    if signed is None:
        if api_key.strip():
            throttle.failed(client)
        return render(request, "sign_in.html", {"next": _next_page(next), "error": "That key is not recognised.",
                                                "kept": _kept_numbers(request)}, status.HTTP_401_UNAUTHORIZED)
    principal, begun = signed
    note_request(request, principal)
    response = RedirectResponse(_next_page(next), status.HTTP_303_SEE_OTHER)
    set_cookie(response, request, begun)
    return response


@router.post("/sign-out")
def sign_out_submit(request: Request, csrf_token: Annotated[str, Form(max_length=100)] = "") -> Response:
    """End the session at once (its cookie, replayed, gets the sign-in page) and forget the cookie."""
    response = RedirectResponse(f"{PREFIX}/sign-in", status.HTTP_303_SEE_OTHER)
    if current(request) is None:
        return response
    checked_form(request, csrf_token)
    principal = signed_in(request)
    sign_out(request)
    note_request(request, principal)
    clear_cookie(response, request)
    return response


def _champions(uri: str, serving) -> tuple[runs.TrainingRun | None, dict[str, str]]:
    """The served version's training run and each list's champion in it (none when it cannot be found)."""
    run = runs.version_training_run(uri, serving.model.registered_model, serving.model.version)
    lists = runs.review_lists(uri, run.run_id) if run is not None else None
    return run, dict((lists or {}).get("champions", {}))


@router.get("/list")
def review_list(request: Request, query: Annotated[ListQuery, Query()], access: RankingsPage, serving: ServingDep,
                session: SessionDep, jobs: ListJobsDep, settings: SettingsDep) -> HTMLResponse:
    """One review list for an as-of date (a tab for each), filtered, searched and a page at a time (past the
    last, the last); the capacity box says what the rows matching the filters hold."""
    as_of: date = query.as_of or serving.as_of
    check_as_of(serving.data, as_of, ("query", "as_of"))
    listed = serving.listed(session, as_of)
    if listed is None:
        return unbuilt_page(request, jobs, serving, as_of, access)
    version = serving.model.version
    values = stored_values(session, as_of, version, serving.orderings)
    query = read_as_stored(query, values)
    name = query.review_list
    total, items = list_page(session, as_of, version, query, serving.orderings, listed[name])
    pages, asked = max(1, math.ceil(total / query.page_size)), query.page
    if asked > pages:
        query = query.model_copy(update={"page": pages})
        total, items = list_page(session, as_of, version, query, serving.orderings, listed[name])
    capacity = serving.champion.capacities[name]
    # What the top k held in validation, for a k no longer than the list.
    k = min(query.top_k or capacity, listed[name]) or 1
    uri = runs.tracking_uri(settings)
    run, champions = _champions(uri, serving)
    params = query.without_page()
    # Validation can be narrowed to the filters the out-of-fold predictions carry, and only to those.
    validated, unvalidated = split_filters(query, runs.PREDICTED_FILTERS)
    return render(request, "list.html", {
        "query": query, "as_of": as_of, "model": serving.model, "total": total, "items": items,
        "review_list": name, "title": LIST_TITLES[name], "why": WHY_ON_LIST[name], "champion": champions.get(name),
        "tabs": [{"name": other, "title": LIST_TITLES[other], "listed": listed[other],
                  "capacity": serving.champion.capacities[other], "current": other == name,
                  "link": f"{PREFIX}/list?{urlencode(query.on_list(other))}"} for other in REVIEW_LISTS],
        "pages": pages, "asked_page": asked, "params": params,
        "page_link": lambda page: f"{PREFIX}/list?{urlencode(params | {'page': page})}",
        "csv_link": f"{PREFIX}/list.csv?{urlencode(params)}", "capacity": capacity, "listed": listed[name],
        "expectation": runs.expected_positives(uri, run, name, champions.get(name), k),
        "within": within_top(session, as_of, version, query, k, serving.orderings), "applied": applied(query),
        "filtered": None if unvalidated else runs.filtered_positives(uri, run, name, champions.get(name), k, validated),
        "unvalidated": unvalidated,
        "label": runs.label_of(name, runs.review_lists(uri, run.run_id) if run is not None else None),
        "bands": BANDS, "income_bands": INCOME_BANDS, "purposes": [(p, PURPOSE_WORDS.get(p, p)) for p in PURPOSES],
        "areas": values["local_authority"], "forms": values["constitutional_form"],
    })


@router.get("/list.csv")
def review_list_csv(request: Request, query: Annotated[ListQuery, Query()], access: RankingsPage, serving: ServingDep,
                    session: SessionDep, jobs: ListJobsDep) -> Response:
    """Every row matching the list page's form, as the API's CSV (the command line's columns, reasons in words)."""
    as_of: date = query.as_of or serving.as_of
    check_as_of(serving.data, as_of, ("query", "as_of"))
    if serving.listed(session, as_of) is None:
        return unbuilt_page(request, jobs, serving, as_of, access)
    query = read_as_stored(query, stored_values(session, as_of, serving.model.version, serving.orderings))
    text = list_csv(session, as_of, serving.model, query)
    # For the access log: the stored list the rows came from (the query string holds the filter).
    access.detail = {"list": query.review_list, "as_of": as_of.isoformat(), "model_version": serving.model.version,
                     "rows": csv_rows(text)}
    return Response(text, media_type="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{csv_name(query.review_list, as_of)}"'})


def unbuilt_page(request: Request, jobs, serving, as_of: date, access) -> HTMLResponse:
    """A date whose lists are not stored: the job's progress (refreshing), the form that starts it, or 409."""
    context, status_code = unbuilt_view(request, jobs, serving, as_of, access, PREFIX)
    response = render(request, "building.html", context, status_code)
    if status_code == status.HTTP_202_ACCEPTED:
        response.headers["Refresh"] = str(REFRESH_S)
    return response


@router.post("/lists/build")
def build_lists(access: BuildForm, serving: ServingDep, session: SessionDep, jobs: ListJobsDep,
                as_of: Annotated[date, Form()], next: Annotated[str | None, Form(max_length=2000)] = None) -> Response:
    """Start (or join) the job building a date's lists, then go back to the page that asked (its progress)."""
    check_as_of(serving.data, as_of, ("body", "as_of"))
    stored = serving.listed(session, as_of) is not None
    return RedirectResponse(start_from_form(jobs, serving, as_of, access, next, PREFIX, stored),
                            status.HTTP_303_SEE_OTHER)


@router.get("/models")
def models(request: Request, _: ModelsPage, settings: SettingsDep, serving: ServingDep) -> HTMLResponse:
    """The registered versions; per review list, the champion's metrics on the folds that chose it and on
    the held-out one, its plots, its figures against the truth on a simulated world; and the bias audit."""
    registry = registered_versions(settings, serving.model.version)
    uri = runs.tracking_uri(settings)
    ui_url = request.app.state.settings.web_mlflow_ui_url
    versions = []
    for v in registry.versions:
        run = runs.training_run(uri, v.training_run_id)
        versions.append({"info": v, "run": run,
                         "link": runs.run_link(ui_url, run.experiment_id, run.run_id) if run else None})
    champion = next((v for v in versions if v["info"].is_champion), versions[0] if versions else None)
    run = champion["run"] if champion else None
    lists = (runs.review_lists(uri, run.run_id) if run else None) or {}
    capacities = lists.get("capacities") or (champion["info"].capacities if champion else {})
    sections = [runs.list_section(uri, run, name, lists, capacities) for name in REVIEW_LISTS]
    audit = runs.audit_of(uri, run)
    return render(request, "models.html", {
        "registry": registry, "versions": versions, "champion": champion, "run": run,
        "holdout": lists.get("holdout_fold"), "lists": sections, "audit": audit,
        "audit_link": runs.run_link(ui_url, run.experiment_id, audit["run_id"]) if audit and run else None,
    })


@router.get("/models/runs/{run_id}/plots/{name}.png")
def model_plot(run_id: str, name: str, settings: SettingsDep, _: ModelsPage) -> Response:
    """One of a training run's per-list plots (precision at k, calibration), from MLflow."""
    if name not in runs.PLOTS or not (len(run_id) == 32 and all(c in "0123456789abcdef" for c in run_id)):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such plot")
    png = runs.plot_png(runs.tracking_uri(settings), run_id, name)
    if png is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "the run has no such plot")
    return Response(png, media_type="image/png", headers={"Cache-Control": "private, max-age=3600"})
