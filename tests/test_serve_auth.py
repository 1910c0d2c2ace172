"""API keys and roles: no key is 401, each role gets exactly its endpoints, keys are only ever hashed."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pydantic
import pytest
import typer
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from risk_model.lists.records import records_from_tables
from serve import keys
from serve.internal.security import Role, hash_api_key
from serve.main import create_app
from serve.settings import ApiKey, Settings
from tests.support import serve as support

pytestmark = pytest.mark.service

ANALYST, CASE_OFFICER, AUDITOR, ADMIN = Role.analyst, Role.case_officer, Role.auditor, Role.admin
# Written out rather than read from serve.internal.security, so that a change to the permissions fails here.
ALLOWED: dict[str, set[Role]] = {
    "score": {ANALYST, CASE_OFFICER, AUDITOR, ADMIN},
    "rankings": {ANALYST, AUDITOR, ADMIN},
    "build_lists": {ANALYST, ADMIN},
    "list_jobs": {ANALYST, CASE_OFFICER, AUDITOR, ADMIN},
    "charity": {CASE_OFFICER, AUDITOR, ADMIN},
    "feedback": {CASE_OFFICER, ADMIN},
    "models": {ANALYST, CASE_OFFICER, AUDITOR, ADMIN},
    "reload": {ADMIN},
    "access_log": {AUDITOR, ADMIN},
    "version": {ANALYST, CASE_OFFICER, AUDITOR, ADMIN},
}


@pytest.fixture(scope="module")
def client(world, tmp_path_factory):
    # Enough unknown keys allowed for every endpoint's 401 test (the throttle has tests of its own).
    app = create_app(support.settings_for(world, support.database_url("sqlite", tmp_path_factory.mktemp("db")),
                                          failed_key_limit=100))
    with TestClient(app) as client:
        yield client


@pytest.fixture(scope="module")
def calls(client):
    serving = client.app.state.serving.current
    number = sorted(serving.current.entries)[0]
    data = serving.data
    record = records_from_tables(data.register, data.returns, data.case_log, [number])[number]
    job_id = client.app.state.list_jobs.request(serving.key(date(2020, 6, 30)), "tester").id
    return {
        "score": ("POST", "/score", {"charities": [record]}),
        "rankings": ("GET", "/rankings", None),
        # The current lists' date: stored, so a 200 with no job for the roles that may.
        "build_lists": ("POST", f"/lists/jobs?as_of={serving.as_of}", None),
        "list_jobs": ("GET", f"/lists/jobs/{job_id}", None),
        "charity": ("GET", f"/charities/{number}", None),
        "feedback": ("POST", f"/charities/{number}/feedback", {"outcome": "not_reviewed", "note": "Queued."}),
        "models": ("GET", "/models", None),
        "reload": ("POST", "/models/reload", None),
        "access_log": ("GET", "/access-log", None),
        "version": ("GET", "/version", None),
    }


@pytest.mark.parametrize("endpoint", sorted(ALLOWED))
@pytest.mark.parametrize("role", list(Role))
def test_each_role_gets_exactly_its_endpoints(client, calls, role, endpoint):
    method, path, body = calls[endpoint]
    response = client.request(method, path, json=body, headers=support.headers(role))
    if role in ALLOWED[endpoint]:
        assert response.status_code in (200, 201), response.text
    else:
        assert response.status_code == 403
        assert role.value in response.json()["detail"]


@pytest.mark.parametrize("endpoint", sorted(ALLOWED))
@pytest.mark.parametrize("key", [None, "not-a-key", ""])
def test_no_key_or_an_unknown_key_is_401(client, calls, endpoint, key):
    method, path, body = calls[endpoint]
    headers = {} if key is None else {"X-API-Key": key}
    response = client.request(method, path, json=body, headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "APIKey"


def test_health_needs_no_key(client):
    assert client.get("/health").status_code == 200


def test_a_refused_read_is_in_the_access_log(client, calls):
    path = calls["charity"][1]
    assert client.get(path, headers=support.headers(ANALYST)).status_code == 403
    log = client.get("/access-log", params={"who": "analyst-tester"}, headers=support.headers(AUDITOR)).json()
    assert any(e["path"] == path and e["status"] == 403 and e["role"] == "analyst" for e in log["items"])


def test_keys_are_configured_only_as_hashes(monkeypatch, world, tmp_path):
    with pytest.raises(pydantic.ValidationError, match="sha256"):
        ApiKey(name="x", role=ANALYST, sha256="a-plain-key-is-refused")
    entry = {"name": "env-analyst", "role": "analyst", "sha256": hash_api_key("from-the-environment")}
    monkeypatch.setenv("RISK_SERVE_API_KEYS", f"[{str(entry).replace(chr(39), chr(34))}]")
    assert Settings().api_keys == (ApiKey(**entry),)


def test_no_plain_key_reaches_the_database(client, calls, world):
    for role in Role:
        client.get("/version", headers=support.headers(role))
    client.get("/access-log", headers=support.headers(AUDITOR))
    database = Path(client.app.state.db.engine.url.database)
    content = b"".join(p.read_bytes() for p in database.parent.glob(database.name + "*"))
    assert b"-tester" in content
    assert not any(key.encode() in content for key in support.KEYS.values())


def test_a_new_key_is_printed_once_with_its_hashed_entry():
    command = typer.Typer()
    command.command()(keys.main)
    result = CliRunner().invoke(command, ["case_officer", "j.smith"])
    assert result.exit_code == 0, result.output
    key = result.output.split("): ")[1].split()[0]
    entry = json.loads(result.output.split("RISK_SERVE_API_KEYS: ")[1])
    assert entry == {"name": "j.smith", "role": "case_officer", "sha256": hash_api_key(key)}
    assert ApiKey(**entry).role == CASE_OFFICER
