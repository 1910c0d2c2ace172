"""The analyst's filters through TestClient: matched in any case, their values listed, pages bounded, and the
CSV in the command line's columns with the reasons in words."""

from __future__ import annotations

import csv
import io
import json
import random
from typing import get_args

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from risk_model.domain.vocab import PURPOSE_SHORT
from risk_model.lists.membership import REVIEW_LISTS
from risk_model.lists.rank import LIST_COLUMNS, REASON_JOINER, with_reasons
from risk_model.lists.reasons import REASON_COLUMNS
from serve.internal.filters import STORED, values_query
from serve.internal.lists import Orderings, matching_rows, ordering
from serve.internal.memory import CodedColumn
from serve.internal.security import Role
from serve.main import create_app
from serve.routes.rankings import _from_memory
from serve.schemas import RankingsQuery, SortKey
from serve.web.listing import ListQuery, within_top_query
from tests.support import serve as support

pytestmark = pytest.mark.service

ANALYST = support.headers(Role.analyst)


@pytest.fixture(scope="module")
def client(world, tmp_path_factory):
    app = create_app(support.settings_for(world, support.database_url("sqlite", tmp_path_factory.mktemp("db"))))
    with TestClient(app, headers=ANALYST) as client:
        yield client


@pytest.fixture(scope="module")
def values(client) -> dict:
    response = client.get("/rankings/values", params={"list": "proactive"})
    assert response.status_code == 200, response.text
    return response.json()


def matching(client: TestClient, **params) -> dict:
    response = client.get("/rankings", params={"page_size": 1000, **params})
    assert response.status_code == 200, response.text
    return response.json()


def cli_columns() -> list[str]:
    """The columns `risk-model rank --reasons` writes: its list's, with the reasons it joins on."""
    empty = pd.DataFrame({c: pd.Series(dtype=object) for c in LIST_COLUMNS})
    return list(with_reasons(empty, pd.DataFrame({c: pd.Series(dtype=object) for c in REASON_COLUMNS})).columns)


def test_the_values_endpoint_lists_what_each_filter_takes(client, values):
    rows = matching(client, list="triage")["items"] + matching(client)["items"]
    assert (values["review_list"], values["as_of"]) == ("proactive", "2021-12-31")
    assert set(values["local_authority"]) >= {r["local_authority"] for r in rows if r["local_authority"]}
    assert "Glasgow City" in values["local_authority"] and values["local_authority"] == sorted(values["local_authority"])
    assert set(values["constitutional_form"]) >= {r["constitutional_form"] for r in rows if r["constitutional_form"]}
    assert {p["words"]: p["value"] for p in values["purpose"]} == PURPOSE_SHORT
    assert "high" in values["band"] and "no return" in values["income_band"]
    schema = client.get("/openapi.json").json()
    answer = schema["paths"]["/rankings/values"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert answer["$ref"].endswith("/FilterValues")
    assert client.get("/rankings/values", headers=support.headers(Role.case_officer)).status_code == 403


@pytest.mark.parametrize("twice", [1, 2])  # the first from the database, the second from memory
def test_filters_match_in_any_case(client, values, twice):
    glasgow = matching(client, local_authority="Glasgow City")
    assert glasgow["total"] > 0
    for typed in ("glasgow city", "GLASGOW CITY", " Glasgow  city ", "Glasgow"):
        assert matching(client, local_authority=typed)["items"] == glasgow["items"]
    trust = next(f for f in values["constitutional_form"] if f.startswith("Trust"))
    trusts = matching(client, constitutional_form="trust")
    assert trusts["total"] > 0 and {r["constitutional_form"] for r in trusts["items"]} == {trust}
    assert matching(client, band="HIGH")["items"] == matching(client, band="high")["items"]
    assert matching(client, income_band="Up To 25K")["total"] == matching(client, income_band="up to 25k")["total"] > 0
    health = matching(client, purpose="The advancement of health")
    assert health["total"] == matching(client, purpose="Health")["total"] > 0


def test_a_value_that_matches_nothing_is_a_422_naming_the_filter_and_the_values(client):
    response = client.get("/rankings", params={"local_authority": "Glasgw Cty"})
    assert response.status_code == 422
    (problem,) = response.json()["detail"]
    assert problem["loc"] == ["query", "local_authority"]
    assert "did you mean 'Glasgow City'" in problem["msg"] and "Fife" in problem["msg"]
    north = client.get("/rankings", params={"local_authority": "north"}).json()["detail"][0]["msg"]
    assert "North Ayrshire" in north and "North Lanarkshire" in north
    band = client.get("/rankings", params={"band": "hgh"})
    assert band.status_code == 422 and band.json()["detail"][0]["loc"] == ["query", "band"]
    assert "'very high'" in band.json()["detail"][0]["msg"]
    assert client.get("/rankings", params={"constitutional_form": "no such form", "format": "csv"}).status_code == 422


def test_a_page_past_the_last_is_a_422_saying_how_many_there_are(client, values):
    first = matching(client, page_size=50)
    last = -(-first["total"] // 50)
    assert client.get("/rankings", params={"page": last}).json()["items"]
    for page in (last + 1, 99999):
        response = client.get("/rankings", params={"page": page})
        assert response.status_code == 422
        (problem,) = response.json()["detail"]
        assert problem["loc"] == ["query", "page"] and f"{last:,} pages" in problem["msg"]
    triage = matching(client, list="triage")["items"]
    absent = next(v for v in values["local_authority"] if v not in {r["local_authority"] for r in triage})
    empty = matching(client, list="triage", local_authority=absent)
    assert empty["total"] == 0 and empty["items"] == []
    assert client.get("/rankings", params={"list": "triage", "local_authority": absent, "page": 2}).status_code == 422


def test_the_csv_has_the_command_lines_columns_and_the_reasons_and_purposes_in_words(client):
    response = client.get("/rankings", params={"format": "csv", "local_authority": "glasgow city"})
    assert response.status_code == 200
    header = next(csv.reader(io.StringIO(response.text)))
    assert header[:len(cli_columns())] == cli_columns() and header[len(cli_columns()):] == ["purposes"]
    assert "local_authority" not in header and "registered_model" not in header
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert rows and {r["main_operating_location"] for r in rows} == {"Glasgow City"}
    words = set(PURPOSE_SHORT)
    assert all(set(r["purposes"].split("; ")) <= words for r in rows if r["purposes"])
    for row in rows[:5]:
        page = client.get(f"/charities/{row['charity_number']}", headers=support.headers(Role.admin)).json()
        reasons = sorted(page["reasons"], key=lambda r: r["position"])
        up, down = ([r["sentence"] for r in reasons if r["direction"] == way] for way in ("up", "down"))
        # Each cell splits back into the page's sentences, though a sentence may itself hold "; ".
        assert [cell.split(REASON_JOINER) if cell else [] for cell in (row["reasons_up"], row["reasons_down"])] == [
            up, down]
        assert row["reasons_up"] and "_" not in row["reasons_up"]
    assert rows[0]["model"] == client.get("/version").json()["model"]["model"]


def query_plan(client: TestClient, statement) -> str:
    compiled = statement.compile(client.app.state.db.engine, compile_kwargs={"literal_binds": True,
                                                                             "render_postcompile": True})
    with client.app.state.db.engine.connect() as connection:
        return " ".join(str(row[-1]) for row in connection.execute(text(f"EXPLAIN QUERY PLAN {compiled}")))


@pytest.mark.parametrize("filters", [{}, {"local_authority": "Fife"}, {"constitutional_form": "Other"},
                                     {"band": "high"}, {"purpose": "education"}, {"search": "trust"}])
def test_the_capacity_box_and_the_values_read_only_indexes(client, filters):
    serving = client.app.state.serving.current
    within = query_plan(client, within_top_query(serving.as_of, serving.model.version, ListQuery(**filters), 30))
    assert within.startswith("SEARCH scored_list USING COVERING INDEX"), within
    for name, (column, _) in STORED.items():
        plan = query_plan(client, values_query(serving.as_of, serving.model.version, column))
        assert plan.startswith("SEARCH scored_list USING COVERING INDEX"), (name, plan)


def test_a_filtered_page_answered_from_memory_is_in_the_databases_order(client, values):
    """A page of the current lists is answered from the rows held in memory, the filter applied there and the
    order taken from the whole list's; every query's rows and order must be those the database gives."""
    serving = client.app.state.serving.current
    as_of, version = serving.as_of, serving.model.version
    rng = random.Random(3)
    purposes = [p["value"] for p in values["purpose"]]
    filters = [{"local_authority": area} for area in rng.sample(values["local_authority"], 4)]
    filters += [{"band": band} for band in values["band"]] + [{"income_band": band} for band in values["income_band"]]
    filters += [{"purpose": purpose} for purpose in rng.sample(purposes, 4)]
    filters += [{"constitutional_form": form} for form in values["constitutional_form"][:3]]
    filters += [{"band": "low", "purpose": rng.choice(purposes)}, {"local_authority": "Glasgow City", "band": "high"}]
    matched = 0
    with client.app.state.db.sessions() as session:
        for review_list in REVIEW_LISTS:
            for chosen in filters:
                sort = rng.choice(get_args(SortKey))
                q = RankingsQuery.model_validate({"list": review_list, "sort": sort, "page_size": 1000, **chosen})
                answered = _from_memory(q, serving, as_of)
                assert answered is not None, (review_list, chosen)
                page = json.loads(answered.body)
                expected = list(session.scalars(ordering(matching_rows(as_of, version, q), sort)))
                assert [row["rank"] for row in page["items"]] == expected[:1000], (review_list, chosen, sort)
                assert page["total"] == len(expected)
                matched += len(expected)
    assert matched > 100  # the filters pass rows, not only empty lists


def test_the_whole_lists_orders_outlive_any_number_of_filtered_ones():
    """Filtered orders are cut from the whole list's, so however many filtered ones come and go, the whole
    list's (worked out by `warm`, pinned) are never evicted."""
    orderings = Orderings(most=2)
    whole = orderings.remembered(("ranks", "whole", "score"), lambda: np.arange(1, 4), pinned=True)
    for i in range(5):
        orderings.keep_ranks(("filtered", i), "rank", np.arange(i))
    assert orderings.known(("whole",), "score") is whole
    assert orderings.known(("filtered", 0), "rank") is None and orderings.known(("filtered", 4), "rank") is not None


def test_a_coded_column_finds_the_rows_equal_to_a_value_as_comparing_them_would():
    values = ["Fife", None, "Glasgow City", "Fife", "Highland", None]
    column = CodedColumn(values)
    for value in ["Fife", "Glasgow City", "Highland", "Angus", None]:
        assert column.equal(value).tolist() == [v == value for v in values], value
    assert CodedColumn([]).equal("Fife").tolist() == []
