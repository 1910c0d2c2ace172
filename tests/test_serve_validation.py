"""Bad input gets a 422 that names the field and the reason; never a 500."""

from __future__ import annotations

import copy
from typing import Annotated

import pytest
from fastapi import FastAPI, Query, Request
from fastapi.testclient import TestClient

from serve.deps import get_principal
from serve.internal.queries import read_query
from serve.main import create_app
from serve.schemas import RankingsQuery
from tests.support import serve as support

pytestmark = pytest.mark.service

CHARITY = {
    "Charity Number": "SC900001", "Charity Name": "Valid Charity", "Registered Date": "01/04/2010",
    "returns": [{"Year End": "31/03/2020", "Date Received": "01/10/2020", "Total income": 1000,
                 "Total expenditure": 900, "Number of trustees": 4}],
    "case_log": [{"Date": "2021-01-05", "Event": "concern_received", "Outcome": None}],
}


@pytest.fixture(scope="module")
def client(world, tmp_path_factory):
    app = create_app(support.settings_for(world, support.database_url("sqlite", tmp_path_factory.mktemp("db"))))
    app.dependency_overrides[get_principal] = lambda: support.ADMIN
    with TestClient(app) as client:
        yield client


def charity(**changes) -> dict:
    """The valid charity with changes: top-level fields, or 'returns.0.Field' / 'case_log.0.Field'."""
    out = copy.deepcopy(CHARITY)
    for key, value in changes.items():
        *path, field = key.replace("__", " ").split(".")
        target = out
        for part in path:
            target = target[int(part)] if part.isdigit() else target[part]
        if value is ...:
            target.pop(field)
        else:
            target[field] = value
    return out


def assert_422(response, loc: tuple, reason: str) -> None:
    assert response.status_code == 422, response.text
    errors = response.json()["detail"]
    matching = [e for e in errors if tuple(e["loc"][:len(loc)]) == loc and reason.lower() in e["msg"].lower()]
    assert matching, f"no error at {loc} saying {reason!r}: {errors}"


def test_the_valid_charity_is_accepted(client):
    response = client.post("/score", json={"charities": [charity()]})
    assert response.status_code == 200, response.text


BODY_CASES = {
    "impossible date": ({"Registered__Date": "31/02/2020"}, ("Registered Date",), "not a valid date"),
    "date out of range": ({"Registered__Date": "0001-01-01"}, ("Registered Date",), "between"),
    "negative total": ({"returns.0.Total__income": -5}, ("returns", 0, "Total income"), "greater than or equal"),
    "money that is not a number": ({"returns.0.Total__expenditure": "lots"}, ("returns", 0, "Total expenditure"),
                                   "not a number"),
    # ingest reads 1e400 as infinite, which is not a number it accepts: the API says the same
    "infinite money": ({"returns.0.Total__income": "1e400"}, ("returns", 0, "Total income"), "not a number"),
    "part of a trustee": ({"returns.0.Number__of__trustees": 2.5}, ("returns", 0, "Number of trustees"),
                          "whole number"),
    "received before year end": ({"returns.0.Date__Received": "01/01/2020"}, ("returns", 0),
                                 "Date Received is before Year End"),
    "unknown event": ({"case_log.0.Event": "complaint"}, ("case_log", 0, "Event"), "concern_received"),
    "misspelt header": ({"Charity__Nmae": "x"}, (), "'Charity Nmae'"),
    "missing name": ({"Charity__Name": ...}, ("Charity Name",), "required"),
    "bad charity number": ({"Charity__Number": "XX12"}, ("Charity Number",), "pattern"),
    "return of another charity": ({"returns.0.Charity__Number": "SC900002"}, (), "SC900002"),
    "ceased before registered": ({"Ceased__Date": "01/01/2009"}, (), "Ceased Date is before Registered Date"),
    "returns not a list": ({"returns": {"Year End": "2020-03-31"}}, ("returns",), "valid list"),
}


@pytest.mark.parametrize("case", sorted(BODY_CASES))
def test_a_bad_charity_is_a_422_naming_the_field(client, case):
    changes, loc, reason = BODY_CASES[case]
    response = client.post("/score", json={"charities": [charity(**changes)]})
    assert_422(response, ("body", "charities", 0, *loc), reason)


@pytest.mark.parametrize(("body", "loc", "reason"), [
    ({"charities": []}, ("body", "charities"), "at least 1"),
    ({"charities": [charity(), charity()]}, ("body",), "appears more than once"),
    ({"charities": "SC900001"}, ("body", "charities"), "valid list"),
    ({"charities": [charity()], "as_of": "2030-01-01"}, ("body", "as_of"), "extract date"),
    ({"charities": [charity(Registered__Date="2022-05-01")], "as_of": "2021-06-30"},
     ("body", "charities", 0, "Registered Date"), "registered after"),
    ({"charities": [charity()], "colour": "red"}, ("body", "colour"), "extra"),
])
def test_a_bad_request_is_a_422_naming_the_field(client, body, loc, reason):
    assert_422(client.post("/score", json=body), loc, reason)


def test_a_body_that_is_not_json_is_a_422(client):
    response = client.post("/score", content=b"{not json", headers={"Content-Type": "application/json"})
    assert response.status_code == 422


@pytest.mark.parametrize(("params", "loc", "reason"), [
    ({"sort": "colour"}, ("query", "sort"), "rank"),
    ({"band": "medium"}, ("query", "band"), "very high"),
    ({"page_size": 0}, ("query", "page_size"), "greater than or equal"),
    ({"purpose": "knitting"}, ("query", "purpose"), "education"),
    ({"as_of": "2030-01-01"}, ("query", "as_of"), "extract date"),
    ({"as_of": "yesterday"}, ("query", "as_of"), "not a valid date"),
    ({"colour": "red"}, ("query", "colour"), "extra"),
])
def test_bad_rankings_queries_are_422s(client, params, loc, reason):
    assert_422(client.get("/rankings", params=params), loc, reason)


def test_the_rankings_query_is_read_as_fastapi_reads_a_declared_query_model():
    """GET /rankings reads its query itself (`serve.internal.queries`): every answer, and every refusal with
    its `detail`, is the one FastAPI gives for `Annotated[RankingsQuery, Query()]`."""
    declared, read = FastAPI(), FastAPI()

    @declared.get("/")
    async def as_declared(query: Annotated[RankingsQuery, Query()]) -> dict:
        return query.model_dump(mode="json")

    @read.get("/")
    async def as_read(request: Request) -> dict:
        return read_query(request, RankingsQuery).model_dump(mode="json")

    queries = ["", "list=triage", "list=bogus", "review_list=triage", "list=triage&list=proactive", "page=0",
               "page=x&page_size=2000", "page=", "page=1.0", "page=%202", "colour=red&sort=colour", "as_of=",
               "as_of=31/12/2020", "as_of=2020-02-30", "income_band=", "income_band=25K-100K", "band=HIGH",
               "purpose=The%20advancement%20of%20health", "local_authority=" + "x" * 101, "format=xml",
               "local_authority=Glasgow&local_authority=Fife", "sort=-charity_name&page_size=1000"]
    with TestClient(declared) as one, TestClient(read) as other:
        for query in queries:
            expected, got = one.get(f"/?{query}"), other.get(f"/?{query}")
            assert (got.status_code, got.json()) == (expected.status_code, expected.json()), query
    refused = [q for q in queries if TestClient(declared).get(f"/?{q}").status_code == 422]
    assert len(refused) >= 8  # the comparison covers refusals, not only answers


def test_the_rankings_query_is_documented_as_fastapi_documents_it(client):
    operation = client.app.openapi()["paths"]["/rankings"]["get"]
    assert [p["name"] for p in operation["parameters"]] == [
        f.alias or name for name, f in RankingsQuery.model_fields.items()]
    assert {p["in"] for p in operation["parameters"]} == {"query"}
    assert operation["responses"]["422"]["description"] == "Validation Error"


@pytest.mark.parametrize(("body", "loc", "reason"), [
    ({"outcome": "closed", "note": "x"}, ("body", "outcome"), "reviewed_no_concern"),
    ({"outcome": "inquiry_opened", "note": "   "}, ("body", "note"), "a note is needed"),
    ({"outcome": "regulatory_action"}, ("body", "note"), "a note is needed"),
    ({"note": "x"}, ("body", "outcome"), "required"),
    ({"outcome": "not_reviewed", "note": "x", "officer": "me"}, ("body", "officer"), "extra"),
])
def test_bad_feedback_is_a_422(client, body, loc, reason):
    number = sorted(client.app.state.serving.current.current.entries)[0]
    assert_422(client.post(f"/charities/{number}/feedback", json=body), loc, reason)


def test_a_bad_charity_number_in_the_path_is_a_422(client):
    assert_422(client.get("/charities/not-a-number"), ("path", "number"), "pattern")
    assert_422(client.get("/access-log", params={"charity_number": "12"}), ("query", "charity_number"), "pattern")


@pytest.mark.parametrize("body", [
    None, [], 42, {"charities": [None]}, {"charities": [{"returns": [None]}]},
    {"charities": [charity(**{"returns.0.Year__End": None})]}, {"charities": [charity(Purposes=[1, 2])]},
    {"charities": [charity(Purposes="x" * 10_000)]}, {"charities": [charity(case_log="everything")]},
    {"charities": [charity(**{"returns.0.Total__income": True})]}, {"as_of": 12, "charities": [charity()]},
])
def test_garbage_is_refused_with_a_422_not_a_500(client, body):
    response = client.post("/score", json=body)
    assert response.status_code == 422, response.text
    assert all(e["loc"] and e["msg"] for e in response.json()["detail"])
