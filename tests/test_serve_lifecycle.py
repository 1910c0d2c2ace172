"""Start-up, restart and reload: state survives a restart, a reload fails no request, nothing at import."""

from __future__ import annotations

import asyncio
import copy
import json
import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date

import pandas as pd
import pytest
import typer
from fastapi.testclient import TestClient
from mlflow.tracking import MlflowClient
from sqlalchemy import create_engine, func, inspect, select, text
from typer.testing import CliRunner

from risk_model.cli import serve as cli_serve
from risk_model.features import population
from risk_model.lists.records import records_from_tables
from serve.internal.access_log import AccessLogWriter
from serve.internal.batching import MicroBatcher
from serve.internal.db import AccessLogEntry, Feedback, ScoredCharity, connect, utc_now
from serve.internal.security import Principal, Role, hash_api_key
from serve.main import create_app, create_app_from_env
from serve.settings import get_settings
from tests.support import serve as support

pytestmark = pytest.mark.service

CASE_OFFICER = support.headers(Role.case_officer)
AUDITOR = support.headers(Role.auditor)
ADMIN = support.headers(Role.admin)


@pytest.fixture(params=support.BACKENDS)
def database_url(request, tmp_path):
    return support.database_url(request.param, tmp_path)


# Each read in a session closed at once: a session left open holds its PostgreSQL transaction, and with it a
# lock that the next test's emptying of the database waits on for ever.
def latest_scored_at(db):
    with db.sessions() as session:
        return session.scalar(select(func.max(ScoredCharity.scored_at)))


def rows_stored(db) -> int:
    with db.sessions() as session:
        return session.scalar(select(func.count()).select_from(ScoredCharity))


def test_feedback_and_the_access_log_survive_a_restart(world, database_url):
    settings = support.settings_for(world, database_url)
    with TestClient(create_app(settings)) as first:
        number = first.get("/rankings", headers=ADMIN).json()["items"][0]["charity_number"]
        saved = first.post(f"/charities/{number}/feedback", headers=CASE_OFFICER,
                           json={"outcome": "reviewed_no_concern", "note": "Trustees explained the late return."})
        assert saved.status_code == 201
        scored_at = latest_scored_at(first.app.state.db)
    with TestClient(create_app(settings)) as second:
        page = second.get(f"/charities/{number}", headers=CASE_OFFICER).json()
        assert saved.json() in page["feedback"]
        log = second.get("/access-log", params={"charity_number": number}, headers=AUDITOR).json()
        assert {"POST", "GET"} <= {e["method"] for e in log["items"]}
        assert any(e["who"] == "case_officer-tester" and e["status"] == 201 for e in log["items"])
        # The stored list was reused, not scored again.
        assert latest_scored_at(second.app.state.db) == scored_at


# On PostgreSQL only: tests/test_hardening_load.py swaps the champion under load on SQLite, in a real process.
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_reload_swaps_the_champion_under_load_without_failing_a_request(own_world, database_url):
    world = own_world
    with TestClient(create_app(support.settings_for(world, database_url))) as client:
        serving = client.app.state.serving.current
        numbers = sorted(serving.current.entries)[:30]
        records = records_from_tables(serving.data.register, serving.data.returns, serving.data.case_log, numbers)
        outcomes: list[tuple[int, str]] = []
        stop = threading.Event()

        def load(worker: int) -> None:
            sent = 0
            while not stop.is_set():
                record = copy.deepcopy(records[numbers[(worker * 7 + sent) % len(numbers)]])
                if worker % 3 == 1:  # data that differ from the stored list's: scored afresh
                    record["returns"][-1]["income_gbp"] = (record["returns"][-1]["income_gbp"] or 0) + sent + 1
                if worker % 3 == 2:
                    response = client.get("/rankings", params={"page_size": 5}, headers=ADMIN)
                else:
                    response = client.post("/score", json={"charities": [record]}, headers=ADMIN)
                outcomes.append((response.status_code, response.json().get("model", {}).get("version")))
                sent += 1

        new_version = support.promote_other_model(world)
        with ThreadPoolExecutor(6) as pool:
            workers = [pool.submit(load, i) for i in range(6)]
            time.sleep(0.5)
            reload = client.post("/models/reload", headers=ADMIN)
            time.sleep(0.5)
            stop.set()
            for worker in workers:
                worker.result()
        assert reload.status_code == 200, reload.text
        assert reload.json()["changed"] and reload.json()["version"] == new_version
        assert {status for status, _ in outcomes} == {200}
        assert {version for _, version in outcomes} == {world.champion_version, new_version}
        assert client.get("/health/detail", headers=ADMIN).json()["model_version"] == new_version
        assert client.get("/models", headers=ADMIN).json()["serving_version"] == new_version
        # The new champion brings its own capacity for each list.
        for name, capacity in support.CHALLENGER_CAPACITIES.items():
            page = client.get("/rankings", params={"list": name, "page_size": 100}, headers=ADMIN).json()
            assert page["model"]["version"] == new_version and page["capacity"] == capacity
            assert [r["rank"] for r in page["items"] if r["within_capacity"]] == list(range(1, capacity + 1))

        # With no champion registered, a reload fails and the service keeps what it serves.
        MlflowClient(tracking_uri=world.tracking_uri).delete_registered_model_alias(support.REGISTERED_MODEL,
                                                                                   "champion")
        refused = client.post("/models/reload", headers=ADMIN)
        assert refused.status_code == 503 and "previous version" in refused.json()["detail"]
        assert client.get("/health/detail", headers=ADMIN).json()["model_version"] == new_version


def test_settings_come_from_the_environment_and_nothing_is_built_before_start(world, tmp_path, monkeypatch):
    database = tmp_path / "env" / "service.db"
    analyst = {"name": "env-analyst", "role": "analyst", "sha256": hash_api_key("env-key")}
    # CAPACITY_K is a setting of the single list of old: each list's capacity is now the model's.
    environment = {"DATA_DIR": str(world.data_dir), "DATABASE_URL": f"sqlite:///{database}",
                   "TRACKING_URI": world.tracking_uri, "REGISTERED_MODEL": support.REGISTERED_MODEL,
                   "EXPERIMENT": "serve-tests", "N_REASONS": "2", "CAPACITY_K": "12",
                   "API_KEYS": json.dumps([analyst])}
    for name, value in environment.items():
        monkeypatch.setenv(f"RISK_SERVE_{name}", value)
    get_settings.cache_clear()
    try:
        app = create_app_from_env()
        assert app.state.settings.n_reasons == 2 and "capacity_k" not in type(app.state.settings).model_fields
        assert not database.exists()
        with TestClient(app) as client:
            assert database.exists()
            for name, capacity in support.CAPACITIES.items():
                top = client.get("/rankings", params={"list": name, "page_size": 50},
                                 headers={"X-API-Key": "env-key"}).json()
                assert top["capacity"] == capacity and sum(r["within_capacity"] for r in top["items"]) == capacity
            serving = client.app.state.serving.current
            number = next(iter(serving.current.entries))
            record = records_from_tables(serving.data.register, serving.data.returns, serving.data.case_log,
                                         [number])[number]
            scored = client.post("/score", json={"charities": [record]}, headers={"X-API-Key": "env-key"}).json()
            reasons = scored["results"][0]["reasons"]
            assert reasons and max(r["position"] for r in reasons) == 2
    finally:
        get_settings.cache_clear()


def test_lists_stored_before_the_review_lists_are_scored_again_and_feedback_kept(world, world_tables, tmp_path):
    database = f"sqlite:///{tmp_path / 'service.db'}"
    tables = world_tables
    number = population(tables.register, pd.Timestamp("2021-12-31"))["charity_number"].iloc[0]
    engine = create_engine(database)
    with engine.begin() as connection:  # the single ranked list's table, as the service used to store it
        connection.execute(text("CREATE TABLE scored_list (as_of DATE, model_version VARCHAR(40), charity_number "
                                "VARCHAR(20), rank INTEGER, score FLOAT, PRIMARY KEY (as_of, model_version, "
                                "charity_number))"))
        connection.execute(text(f"INSERT INTO scored_list VALUES ('2021-12-31', '{world.champion_version}', "
                                f"'{number}', 1, 0.5)"))
    engine.dispose()
    db = connect(database)
    with db.sessions.begin() as session:
        session.add(Feedback(charity_number=number, outcome="not_reviewed", note="Kept.", recorded_by="x",
                             role="case_officer", recorded_at=utc_now(), as_of=date(2021, 12, 31),
                             model_version=world.champion_version))
    assert "review_list" in {c["name"] for c in inspect(db.engine).get_columns("scored_list")}
    db.dispose()
    with TestClient(create_app(support.settings_for(world, database))) as client:
        listed = client.get("/rankings", params={"list": "triage"}, headers=ADMIN).json()
        assert listed["total"] == listed["listed"] > 0 and {r["review_list"] for r in listed["items"]} == {"triage"}
        page = client.get(f"/charities/{number}", headers=ADMIN).json()
        assert page["review_list"] and [f["note"] for f in page["feedback"]] == ["Kept."]
        stored = rows_stored(client.app.state.db)
    # The new table is kept as it is at the next start.
    again = connect(database)
    assert rows_stored(again) == stored > 1000
    again.dispose()


@pytest.mark.slow  # imports the service in a fresh process
def test_importing_the_service_touches_nothing(tmp_path):
    code = "import serve.main, serve.deps, serve.routes.scoring, risk_model.cli.serve; serve.main.create_app_from_env()"
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert list(tmp_path.iterdir()) == []


def test_the_serve_command_runs_the_app_factory_under_uvicorn(monkeypatch, tmp_path):
    calls = []
    monkeypatch.setattr("uvicorn.run", lambda app, **options: calls.append((app, options)))
    monkeypatch.delenv("RISK_SERVE_DATA_DIR", raising=False)
    command = typer.Typer()
    command.command()(cli_serve.serve)
    result = CliRunner().invoke(command, ["--port", "8123", "--data-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    (app, options), = calls
    assert app == "serve.main:create_app_from_env" and options["factory"] is True and options["port"] == 8123
    assert os.environ["RISK_SERVE_DATA_DIR"] == str(tmp_path)
    monkeypatch.delenv("RISK_SERVE_DATA_DIR")


def test_concurrent_calls_are_scored_in_one_batch():
    batches: list[list[int]] = []
    release = threading.Event()

    def work(key, items):
        if not batches:
            release.wait(5)  # hold the first batch so that the others queue behind it
        batches.append(list(items))
        if key == "fail":
            raise ValueError("scoring failed")
        return [item * 10 for item in items]

    async def scenario():
        batcher = MicroBatcher(work, max_items=100)
        await batcher.start()
        first = asyncio.create_task(batcher.submit("ok", [0]))
        await asyncio.sleep(0.05)
        rest = [asyncio.create_task(batcher.submit("ok", [i, i + 100])) for i in range(1, 6)]
        failing = asyncio.create_task(batcher.submit("fail", [7]))
        await asyncio.sleep(0.05)
        release.set()
        results = [await first] + [await task for task in rest]
        with pytest.raises(ValueError, match="scoring failed"):
            await failing
        await batcher.stop()
        return results

    results = asyncio.run(scenario())
    assert results == [[0]] + [[i * 10, (i + 100) * 10] for i in range(1, 6)]
    assert batches[0] == [0] and sorted(batches[1]) == sorted(x for i in range(1, 6) for x in (i, i + 100))


def test_a_call_that_breaks_its_batch_fails_alone():
    def work(key, items):
        if -1 in items:
            raise ValueError("cannot score -1")
        return [item + 1 for item in items]

    async def scenario():
        batcher = MicroBatcher(work, max_items=100)
        await batcher.start()
        calls = [asyncio.create_task(batcher.submit("k", items)) for items in ([1, 2], [-1], [3])]
        outcomes = await asyncio.gather(*calls, return_exceptions=True)
        await batcher.stop()
        return outcomes

    good, bad, other = asyncio.run(scenario())
    assert good == [2, 3] and other == [4]
    assert isinstance(bad, ValueError)


def test_the_access_log_writes_everything_queued_before_it_stops(tmp_path):
    db = connect(f"sqlite:///{tmp_path / 'log.db'}")
    writer = AccessLogWriter(db, interval_s=0.5).start()
    who = Principal("reader", Role.auditor)
    for i in range(50):
        writer.record(who, "GET", f"/charities/SC{i:06d}", "", [f"SC{i:06d}"], 200)
    writer.record(who, "POST", "/score", "", ["SC000001", "SC000002"], 200)
    writer.stop()
    with db.sessions() as session:
        assert session.scalar(select(func.count()).select_from(AccessLogEntry)) == 52
    db.dispose()
