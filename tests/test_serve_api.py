"""Every endpoint through TestClient, on SQLite and on PostgreSQL, calling as an admin by override."""

from __future__ import annotations

import csv
import io

import pytest
from fastapi.testclient import TestClient

from risk_model.scoring import records_from_tables
from serve.deps import get_principal
from serve.main import create_app
from tests import test_serve_support as support


@pytest.fixture(scope="module", params=support.BACKENDS)
def client(request, world, tmp_path_factory):
    url = support.database_url(request.param, tmp_path_factory.mktemp("db"))
    app = create_app(support.settings_for(world, url))
    app.dependency_overrides[get_principal] = lambda: support.ADMIN
    with TestClient(app) as client:
        yield client


def record_of(client: TestClient, number: str) -> dict:
    data = client.app.state.serving.current.data
    return records_from_tables(data.register, data.returns, data.case_log, [number])[number]


def top_of_list(client: TestClient, n: int = 1) -> list[dict]:
    return client.get("/rankings", params={"page_size": n}).json()["items"]


def test_health_needs_no_key_and_names_the_served_version(client, world):
    response = client.get("/health", headers={})
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "model_version": world.champion_version}


def test_version_gives_the_model_and_the_dates(client, world):
    body = client.get("/version").json()
    assert body["model"]["registered_model"] == support.REGISTERED_MODEL
    assert body["model"]["version"] == world.champion_version
    assert body["as_of"] == body["data_extract_date"] == "2021-12-31"


def test_openapi_docs_describe_every_endpoint(client):
    assert client.get("/docs").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/score", "/rankings", "/charities/{number}", "/charities/{number}/feedback", "/models",
            "/models/reload", "/health", "/version", "/access-log"} <= set(paths)


def test_score_answers_from_the_stored_list_when_the_data_match(client, world):
    top = top_of_list(client)[0]
    response = client.post("/score", json={"charities": [record_of(client, top["charity_number"])]})
    assert response.status_code == 200
    body = response.json()
    assert body["model"]["version"] == world.champion_version and body["as_of"] == "2021-12-31"
    (result,) = body["results"]
    assert result["from_stored_list"] is True
    assert result["score"] == pytest.approx(top["score"])
    assert result["risk_band"] == top["risk_band"] == "very high"
    assert result["rank_percentile"] == 100.0
    page = client.get(f"/charities/{top['charity_number']}").json()
    assert result["reasons"] == page["reasons"] and len(result["reasons"]) > 0


def test_score_computes_when_the_data_differ_and_keeps_the_order(client):
    first, second = (item["charity_number"] for item in top_of_list(client, 2))
    changed = record_of(client, second)
    changed["returns"].append({**changed["returns"][-1], "year_end": "2020-12-31", "date_received": None})
    response = client.post("/score", json={"charities": [record_of(client, first), changed]})
    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["charity_number"] for r in results] == [first, second]
    assert [r["from_stored_list"] for r in results] == [True, False]
    stored = client.post("/score", json={"charities": [record_of(client, second)]}).json()["results"][0]
    assert results[1]["score"] != stored["score"]
    assert {r["factor"] for r in results[1]["reasons"]} and 0 <= results[1]["rank_percentile"] <= 100


def test_score_at_an_earlier_date_scores_that_date(client):
    number = top_of_list(client)[0]["charity_number"]
    response = client.post("/score", json={"as_of": "2020-12-31", "charities": [record_of(client, number)]})
    assert response.status_code == 200
    body = response.json()
    assert body["as_of"] == "2020-12-31" and body["results"][0]["from_stored_list"] is True
    earlier = client.get("/rankings", params={"as_of": "2020-12-31", "page_size": 1000, "sort": "charity_number"})
    listed = {r["charity_number"]: r["score"] for r in earlier.json()["items"]}
    assert body["results"][0]["score"] == pytest.approx(listed[number])


def test_score_takes_records_as_the_files_write_them(client):
    charity = {
        "Charity Number": "SC 999 999", "Charity Name": "New Charity", "Registered Date": "01/05/2015",
        "Constitutional Form": "SCIO (Scottish Charitable Incorporated Organisation)",
        "Main Operating Location": "Fife", "Purposes": "'The advancement of education', 'The advancement of health'",
        "Postcode": "KY1 1AA",
        "returns": [{"Year End": "31 March 2019", "Date Received": "02/02/2020", "Total income": "£12,500",
                     "Total expenditure": "13,000", "Number of trustees": "3"},
                    {"Year End": "2020-03-31", "Date Received": "", "Total income": "", "Total expenditure": ""}],
        "case_log": [{"Date": "01/06/2021", "Event": "Concern received", "Outcome": ""}],
    }
    response = client.post("/score", json={"charities": [charity]})
    assert response.status_code == 200, response.text
    (result,) = response.json()["results"]
    assert result["charity_number"] == "SC999999" and result["from_stored_list"] is False
    sentences = " ".join(r["sentence"] for r in result["reasons"])
    assert "overdue" in sentences or "concern" in sentences


def test_rankings_are_paged_sorted_and_filtered(client):
    first = client.get("/rankings", params={"page_size": 20}).json()
    second = client.get("/rankings", params={"page_size": 20, "page": 2}).json()
    assert [r["rank"] for r in first["items"] + second["items"]] == list(range(1, 41))
    assert first["total"] == second["total"] > 1000
    by_score = client.get("/rankings", params={"sort": "score", "page_size": 50}).json()["items"]
    assert [r["score"] for r in by_score] == sorted(r["score"] for r in by_score)
    assert by_score[0]["rank"] == first["total"]
    filters = {"local_authority": "Glasgow City", "income_band": "up to 25k",
               "constitutional_form": "Unincorporated association", "band": "elevated"}
    for name, value in filters.items():
        page = client.get("/rankings", params={name: value, "page_size": 1000}).json()
        key = {"band": "risk_band"}.get(name, name)
        assert 0 < page["total"] < first["total"] and len(page["items"]) == page["total"]
        assert {r[key] for r in page["items"]} == {value}
    health = client.get("/rankings", params={"purpose": "health", "page_size": 1000}).json()
    assert health["total"] > 0 and all("health" in r["purposes"] for r in health["items"])
    both = client.get("/rankings", params={"purpose": "health", "band": "low", "page_size": 1000}).json()
    assert both["total"] == sum(r["risk_band"] == "low" for r in health["items"])


def test_rankings_export_every_matching_row_as_csv(client):
    total = client.get("/rankings", params={"band": "high"}).json()["total"]
    response = client.get("/rankings", params={"band": "high", "format": "csv", "page_size": 1})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "ranking_2021-12-31.csv" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == total > 0
    assert {r["risk_band"] for r in rows} == {"high"}
    assert [int(r["rank"]) for r in rows] == sorted(int(r["rank"]) for r in rows)


def test_charity_page_has_score_reasons_changes_and_returns(client):
    top = top_of_list(client)[0]
    number = top["charity_number"]
    page = client.get(f"/charities/{number}").json()
    assert page["rank"] == 1 and page["score"] == pytest.approx(top["score"]) and page["listed"] > 1000
    assert {"sentence", "source", "group", "contribution_log_odds"} <= set(page["reasons"][0])
    assert page["what_changed"]["since"] == "2020-12-31"
    assert page["what_changed"]["score_now"] == pytest.approx(top["score"])
    data = client.app.state.serving.current.data
    assert len(page["returns"]) == int((data.returns["charity_number"] == number).sum())
    assert all(r["due_date"] > r["year_end"] for r in page["returns"])


def test_a_charity_not_on_the_list_is_not_found(client):
    response = client.get("/charities/SC999999")
    assert response.status_code == 404
    assert "SC999999" in response.json()["detail"]


def test_feedback_is_recorded_and_shown_on_the_charity_page(client):
    number = top_of_list(client)[0]["charity_number"]
    response = client.post(f"/charities/{number}/feedback",
                           json={"outcome": "inquiry_opened", "note": "Accounts show unexplained transfers."})
    assert response.status_code == 201
    saved = response.json()
    assert saved["recorded_by"] == support.ADMIN.name and saved["as_of"] == "2021-12-31"
    page = client.get(f"/charities/{number}").json()
    assert saved in page["feedback"]


def test_models_lists_versions_with_the_champion_and_metrics(client, world):
    body = client.get("/models").json()
    assert body["champion_version"] == body["serving_version"] == world.champion_version
    champion = next(v for v in body["versions"] if v["is_champion"])
    assert champion["aliases"] == ["champion"] and champion["is_serving"]
    assert "precision_at_k_mean" in champion["metrics"] and champion["model"]


def test_reload_without_a_new_champion_changes_nothing(client, world):
    body = client.post("/models/reload").json()
    assert body == {"previous_version": world.champion_version, "version": world.champion_version,
                    "changed": False, "as_of": "2021-12-31", "listed": body["listed"]}


def test_the_access_log_records_who_read_which_charity_and_when(client):
    number = top_of_list(client)[0]["charity_number"]
    client.get(f"/charities/{number}")
    client.post("/score", json={"charities": [record_of(client, number)]})
    log = client.get("/access-log", params={"charity_number": number}).json()
    reads = [(e["method"], e["path"]) for e in log["items"]]
    assert ("GET", f"/charities/{number}") in reads and ("POST", "/score") in reads
    assert {e["who"] for e in log["items"]} == {support.ADMIN.name}
    assert all(e["at"].endswith("Z") or "+00:00" in e["at"] for e in log["items"])
