"""Stored lists as jobs, fast reads and champion drift: a date whose lists are not stored is answered at
once (202 with a job, or 409), the job builds it off the event loop, the dates kept are bounded, a page
reads an index, a charity page builds nothing, and the service says when the registry moved on."""

from __future__ import annotations

import re
import threading
import time
from datetime import date, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text

import serve.internal.building as building
import serve.internal.follow as follow
from risk_model.lists.membership import REVIEW_LISTS
from serve.internal.db import ListJob, ScoredCharity, StoredListRecord, utc_now
from serve.internal.jobs import INTERRUPTED
from serve.internal.lists import matching_rows, ordering, rows_by_rank
from serve.internal.security import Role
from serve.main import create_app
from serve.schemas import RankingsQuery
from tests.support import serve as support

pytestmark = pytest.mark.service

ANALYST, CASE_OFFICER, AUDITOR, ADMIN = (support.headers(r) for r in (Role.analyst, Role.case_officer, Role.auditor,
                                                                     Role.admin))
SITE = "https://testserver"


@pytest.fixture(scope="module")
def client(world, tmp_path_factory):
    url = support.database_url("sqlite", tmp_path_factory.mktemp("db"))
    with TestClient(create_app(support.settings_for(world, url, stored_lists=3)), base_url=SITE) as client:
        yield client


@pytest.fixture
def held(monkeypatch):
    """Jobs wait at their first step until the test lets them go (`held.set()`)."""
    release = threading.Event()
    scored = building.ranked_lists

    def slow(*args, **kwargs):
        assert release.wait(120), "the test never let the job go"
        return scored(*args, **kwargs)

    monkeypatch.setattr(building, "ranked_lists", slow)
    yield release
    release.set()


def stored_dates(client: TestClient) -> set[date]:
    with client.app.state.db.sessions() as session:
        return set(session.scalars(select(StoredListRecord.as_of)))


def rows_of(client: TestClient, as_of: date) -> int:
    with client.app.state.db.sessions() as session:
        return session.scalar(select(func.count()).select_from(ScoredCharity).where(ScoredCharity.as_of == as_of))


def a_charity(client: TestClient) -> str:
    return client.get("/rankings", params={"page_size": 1}, headers=ANALYST).json()["items"][0]["charity_number"]


def test_a_new_date_is_answered_at_once_with_a_job_and_served_once_it_is_done(client):
    started = time.monotonic()
    accepted = client.get("/rankings", params={"as_of": "2020-06-30", "page_size": 5}, headers=ANALYST)
    assert accepted.status_code == 202 and time.monotonic() - started < 5
    body = accepted.json()
    assert body["status"] in ("queued", "building") and body["as_of"] == "2020-06-30"
    assert accepted.headers["location"] == body["poll"] == f"/lists/jobs/{body['id']}"
    done = support.wait_for_job(client, accepted, ANALYST)
    assert done["status"] == "done" and done["steps"] >= 3 and done["step"] == done["steps"]
    assert done["requested_by"] == "analyst-tester" and done["finished_at"] >= done["started_at"]
    page = client.get("/rankings", params={"as_of": "2020-06-30", "page_size": 5}, headers=ANALYST)
    assert page.status_code == 200 and page.json()["as_of"] == "2020-06-30" and len(page.json()["items"]) == 5
    log = client.get("/access-log", params={"who": "analyst-tester"}, headers=AUDITOR).json()["items"]
    assert any(e["path"] == "/rankings" and "2020-06-30" in e["query"] and e["status"] == 202 for e in log)


def test_a_second_request_for_the_same_date_joins_its_job_and_other_dates_queue(client, held):
    first = client.get("/rankings", params={"as_of": "2019-06-30"}, headers=ANALYST)
    again = client.post("/lists/jobs", params={"as_of": "2019-06-30"}, headers=ADMIN)
    other = client.get("/rankings", params={"as_of": "2018-06-30"}, headers=ANALYST)
    assert first.status_code == again.status_code == other.status_code == 202
    assert first.json()["id"] == again.json()["id"] != other.json()["id"]
    assert client.get(other.headers["location"], headers=CASE_OFFICER).json()["status"] == "queued"
    with client.app.state.db.sessions() as session:
        active = session.scalars(select(ListJob.as_of).where(ListJob.status.in_(("queued", "building")))).all()
    assert sorted(active) == [date(2018, 6, 30), date(2019, 6, 30)]
    held.set()
    assert support.wait_for_job(client, first, ANALYST)["status"] == "done"
    assert support.wait_for_job(client, other, ANALYST)["status"] == "done"
    stored = client.post("/lists/jobs", params={"as_of": "2019-06-30"}, headers=ADMIN)
    assert stored.status_code == 200 and stored.json()["status"] == "done"


def test_a_case_officer_asking_for_an_unbuilt_date_is_told_who_can_build_it(client):
    number = a_charity(client)
    response = client.get(f"/charities/{number}", params={"as_of": "2017-03-31"}, headers=CASE_OFFICER)
    assert response.status_code == 409
    detail = response.json()["detail"]
    assert "2017-03-31 are not built" in detail and "an analyst" in detail and "an admin" in detail
    assert client.get("/rankings", params={"as_of": "2017-03-31"}, headers=AUDITOR).status_code == 409
    with client.app.state.db.sessions() as session:
        assert session.scalar(select(ListJob).where(ListJob.as_of == date(2017, 3, 31))) is None
    assert client.post("/lists/jobs", params={"as_of": "2017-03-31"}, headers=CASE_OFFICER).status_code == 403


def test_stored_lists_are_bounded_and_the_current_ones_always_kept(client):
    current = client.app.state.serving.current.as_of
    for day in ("2016-06-30", "2016-09-30", "2016-12-31"):
        accepted = client.post("/lists/jobs", params={"as_of": day}, headers=ANALYST)
        assert accepted.status_code == 202 and support.wait_for_job(client, accepted, ANALYST)["status"] == "done"
        kept = stored_dates(client)
        assert len(kept) <= 3 and current in kept and date.fromisoformat(day) in kept
    assert stored_dates(client) == {current, date(2016, 9, 30), date(2016, 12, 31)}
    assert rows_of(client, date(2016, 6, 30)) == 0 and rows_of(client, date(2016, 12, 31)) > 0
    evicted = client.get("/rankings", params={"as_of": "2016-06-30"}, headers=AUDITOR)
    assert evicted.status_code == 409


def query_plan(client: TestClient, statement, **params) -> str:
    compiled = statement.compile(client.app.state.db.engine, compile_kwargs={"literal_binds": True,
                                                                             "render_postcompile": True})
    with client.app.state.db.engine.connect() as connection:
        return " ".join(str(row[-1]) for row in connection.execute(text(f"EXPLAIN QUERY PLAN {compiled}")))


@pytest.mark.parametrize(("filters", "index"), [({}, "ix_scored_list_rank"),
                                                ({"sort": "-score"}, "ix_scored_list_rank"),
                                                ({"sort": "score"}, "ix_scored_list_score"),
                                                ({"sort": "charity_name"}, "ix_scored_list_name"),
                                                ({"sort": "-charity_number"}, "ix_scored_list_number"),
                                                ({"local_authority": "Fife"}, "ix_scored_list_area"),
                                                ({"income_band": "up to 25k"}, "ix_scored_list_income"),
                                                ({"constitutional_form": "Trust"}, "ix_scored_list_form"),
                                                ({"band": "high"}, "ix_scored_list_band"),
                                                ({"purpose": "education"}, "ix_scored_list_rank")])
def test_the_page_query_reads_only_indexes(client, filters, index):
    serving = client.app.state.serving.current
    query = RankingsQuery(**filters)
    order = query_plan(client, ordering(matching_rows(serving.as_of, serving.model.version, query), query.sort))
    assert f"COVERING INDEX {index}" in order and "TEMP B-TREE" not in order, order
    page = rows_by_rank().params(as_of=serving.as_of, version=serving.model.version, review_list="proactive",
                                 ranks=list(range(101, 151)))
    assert "COVERING INDEX ix_scored_list_rank (as_of=? AND model_version=? AND review_list=? AND rank=?)" in (
        query_plan(client, page))


def test_a_charity_page_builds_nothing_at_request_time(client, monkeypatch):
    # a charity on the same list a year before, whose page compares its factors
    ranked = client.get("/rankings", params={"page_size": 20}, headers=ANALYST).json()["items"]
    number = next(r["charity_number"] for r in ranked
                  if client.get(f"/charities/{r['charity_number']}", headers=CASE_OFFICER).json()["what_changed"][
                      "factors"])

    def refuse(*args, **kwargs):
        raise AssertionError("a charity page built features or explained a score")

    import risk_model.lists.explain
    import risk_model.lists.records
    for module in (building, risk_model.lists.records):
        monkeypatch.setattr(module, "build_features", refuse)
    for name in ("reason_contributions", "what_changed"):
        monkeypatch.setattr(risk_model.lists.records, name, refuse)
    monkeypatch.setattr(risk_model.lists.explain, "explain", refuse)
    page = client.get(f"/charities/{number}", headers=CASE_OFFICER)
    assert page.status_code == 200
    body = page.json()
    assert body["reasons"] and body["what_changed"]["factors"] and body["what_changed"]["score_now"] == body["score"]
    assert body["what_changed"]["since"] == str(date.fromisoformat(body["as_of"]) - timedelta(days=365))
    signed = TestClient(client.app, base_url=SITE, follow_redirects=False)
    sign_in(signed, Role.case_officer)
    html = signed.get(f"/ui/charities/{number}")
    assert html.status_code == 200 and "Factors that moved most since" in html.text


def token_in(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]*)"', html).group(1)


def sign_in(browser: TestClient, role: Role) -> None:
    token = token_in(browser.get("/ui/sign-in").text)
    response = browser.post("/ui/sign-in", data={"api_key": support.KEYS[role], "csrf_token": token},
                            headers={"Origin": SITE})
    assert response.status_code == 303, response.text


def test_the_list_page_builds_a_date_on_a_form_and_shows_its_progress(client, held):
    browser = TestClient(client.app, base_url=SITE, follow_redirects=False)
    sign_in(browser, Role.analyst)
    asked = browser.get("/ui/list", params={"as_of": "2015-06-30"})
    assert asked.status_code == 200 and "Build the lists as of 2015-06-30" in asked.text
    started = browser.post("/ui/lists/build", data={"as_of": "2015-06-30", "next": "/ui/list?as_of=2015-06-30",
                                                    "csrf_token": token_in(asked.text)}, headers={"Origin": SITE})
    assert started.status_code == 303 and started.headers["location"] == "/ui/list?as_of=2015-06-30"
    waiting = browser.get("/ui/list", params={"as_of": "2015-06-30"})
    assert waiting.status_code == 202 and waiting.headers["refresh"] == "3"
    assert "being built" in waiting.text and "<progress" in waiting.text and "<script" not in waiting.text
    held.set()
    with client.app.state.db.sessions() as session:
        job_id = session.scalar(select(ListJob.id).where(ListJob.as_of == date(2015, 6, 30)))
    deadline = time.monotonic() + 300
    while client.get(f"/lists/jobs/{job_id}", headers=ANALYST).json()["status"] != "done":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert browser.get("/ui/list", params={"as_of": "2015-06-30"}).status_code == 200
    officer = TestClient(client.app, base_url=SITE, follow_redirects=False)
    sign_in(officer, Role.case_officer)
    refused = officer.get(f"/ui/charities/{a_charity(client)}", params={"as_of": "2014-06-30"})
    assert refused.status_code == 409 and "an analyst" in refused.text and "Build the lists" not in refused.text


def test_a_job_interrupted_by_a_restart_is_marked_failed(world, tmp_path):
    settings = support.settings_for(world, support.database_url("sqlite", tmp_path))
    with TestClient(create_app(settings)) as first:
        with first.app.state.db.sessions.begin() as session:
            session.add(ListJob(as_of=date(2019, 3, 31), model_version=world.champion_version, status="building",
                                step=2, steps=3, stage="reasons", requested_by="analyst-tester",
                                requested_at=utc_now(), worker="elsewhere:1:gone",
                                heartbeat_at=utc_now() - timedelta(minutes=5),
                                active=f"2019-03-31/{world.champion_version}"))
    with TestClient(create_app(settings)) as restarted:
        with restarted.app.state.db.sessions() as session:
            job = session.scalar(select(ListJob).where(ListJob.as_of == date(2019, 3, 31)))
        assert job.status == "failed" and job.reason == INTERRUPTED and job.active is None
        again = restarted.get("/rankings", params={"as_of": "2019-03-31"}, headers=ANALYST)
        assert again.status_code == 202 and again.json()["id"] != job.id


def test_version_and_health_say_when_the_registry_moved_on(own_world, tmp_path):
    settings = support.settings_for(own_world, support.database_url("sqlite", tmp_path), check_alias_seconds=0,
                                    version_reads_alias_seconds=0)
    with TestClient(create_app(settings)) as client:
        before = client.get("/version", headers=CASE_OFFICER).json()
        assert before["stale"] is False and before["registry_champion_version"] == own_world.champion_version
        assert client.get("/health").json() == {"status": "ok"}
        challenger = support.promote_other_model(own_world)
        after = client.get("/version", headers=CASE_OFFICER).json()
        assert after["stale"] is True and after["registry_champion_version"] == challenger
        assert after["model"]["version"] == own_world.champion_version
        assert client.get("/health").json() == {"status": "stale"}


@pytest.mark.parametrize(("least_s", "reads"), [(0, 3), (3600, 0)])
def test_version_reads_the_registry_at_most_as_often_as_set(world, tmp_path, monkeypatch, least_s, reads):
    """Loading the champion reads the alias; /version reads it again only once the time set has passed."""
    read = []
    monkeypatch.setattr(follow, "champion_version", lambda settings: read.append(1) or world.champion_version)
    settings = support.settings_for(world, support.database_url("sqlite", tmp_path), check_alias_seconds=0,
                                    version_reads_alias_seconds=least_s)
    with TestClient(create_app(settings)) as client:
        answers = [client.get("/version", headers=CASE_OFFICER).json() for _ in range(3)]
    assert len(read) == reads
    # Each answer says when the registry was last read: the load's, or its own read's.
    assert len({a["registry_checked_at"] for a in answers}) == max(reads, 1)
    assert {a["registry_champion_version"] for a in answers} == {world.champion_version}


def test_following_the_alias_reloads_by_itself(own_world, tmp_path):
    settings = support.settings_for(own_world, support.database_url("sqlite", tmp_path), follow_alias_seconds=0.2)
    with TestClient(create_app(settings)) as client:
        challenger = support.promote_other_model(own_world)
        deadline = time.monotonic() + 300
        while client.app.state.serving.current.model.version != challenger:
            assert time.monotonic() < deadline, "the service never followed the alias"
            time.sleep(0.2)
        body = client.get("/version", headers=ANALYST).json()
        assert body["model"]["version"] == challenger and body["stale"] is False
        assert client.get("/health").json() == {"status": "ok"}
        listed = client.get("/rankings", headers=ANALYST).json()
        assert listed["model"]["version"] == challenger and listed["review_list"] in REVIEW_LISTS
