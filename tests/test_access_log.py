"""The access log holds every request that reads a charity's data or is refused, each with the status
it was answered with, the client's address, where the browser said it came from, and no key.

One client makes a known sequence of requests (refused and accepted, API and pages); the log then
read back holds exactly that sequence, entry for entry."""

from __future__ import annotations

import json
import logging
import re

import pytest
from fastapi.testclient import TestClient

from serve.internal.access_log import REDACTED, RedactQueries, redacted_query
from serve.internal.security import Role
from serve.main import create_app
from tests.support import serve as support

pytestmark = pytest.mark.service

SITE = "https://testserver"
ADDRESS = "203.0.113.7"
ANALYST, OFFICER, AUDITOR = (support.headers(r) for r in (Role.analyst, Role.case_officer, Role.auditor))


@pytest.fixture(scope="module")
def client(world, tmp_path_factory):
    app = create_app(support.settings_for(world, support.database_url("sqlite", tmp_path_factory.mktemp("db")),
                                          max_body_bytes=1_000_000))
    with TestClient(app, base_url=SITE, follow_redirects=False, client=(ADDRESS, 40000)) as client:
        yield client


def test_every_refused_and_accepted_read_is_logged_with_its_true_status(client):
    number = sorted(client.app.state.serving.current.current.entries)[0]
    wrong = {"X-API-Key": "not-a-key"}
    sent = [  # (who the log should name, method, path, status, charity)
        ("anonymous", "GET", "/rankings", client.get("/rankings").status_code, None),
        ("anonymous", "GET", "/rankings", client.get("/rankings", headers=wrong).status_code, None),
        ("analyst-tester", "GET", "/rankings",
         client.get("/rankings", params={"page_size": 2, "api_key": "leaked"}, headers=ANALYST).status_code, None),
        ("analyst-tester", "GET", f"/charities/{number}",
         client.get(f"/charities/{number}", headers=ANALYST).status_code, number),
        ("case_officer-tester", "GET", f"/charities/{number}",
         client.get(f"/charities/{number}", headers=OFFICER).status_code, number),
        ("analyst-tester", "POST", "/score",
         client.post("/score", content=b"{not json", headers=ANALYST | {"Content-Type": "application/json"})
         .status_code, None),
        ("anonymous", "POST", "/score",
         client.post("/score", content=b"{not json", headers={"Content-Type": "application/json"}).status_code, None),
        ("anonymous", "POST", "/score",
         client.post("/score", content=b"x" * 1_000_001, headers=ANALYST).status_code, None),
        ("analyst-tester", "GET", "/rankings",
         client.get("/rankings", params={"format": "csv", "list": "triage"}, headers=ANALYST).status_code, None),
        ("anonymous", "GET", f"/ui/charities/{number}", client.get(f"/ui/charities/{number}").status_code, number),
    ]
    # (a query parameter the API does not know, the leaked key, is refused: the refusal is still logged)
    assert [s[3] for s in sent] == [401, 401, 422, 403, 200, 422, 401, 413, 200, 303]

    # Signing in through the form: the sign-in page itself reads nothing and is not logged.
    form = client.get("/ui/sign-in")
    token = re.search(r'name="csrf_token" value="([^"]*)"', form.text).group(1)
    signed = client.post("/ui/sign-in", data={"api_key": support.KEYS[Role.case_officer], "csrf_token": token},
                         headers={"Origin": SITE})
    sent.append(("case_officer-tester", "POST", "/ui/sign-in", signed.status_code, None))
    page = client.get(f"/ui/charities/{number}", headers={"Referer": f"{SITE}/ui/"})
    sent.append(("case_officer-tester", "GET", f"/ui/charities/{number}", page.status_code, number))
    assert (signed.status_code, page.status_code) == (303, 200)

    log = client.get("/access-log", params={"page_size": 1000}, headers=AUDITOR).json()["items"][::-1]
    assert [(e["who"], e["method"], e["path"], e["status"], e["charity_number"]) for e in log] == sent
    assert {e["client"] for e in log} == {ADDRESS}
    assert log[-1]["origin"] == f"{SITE}/ui/" and log[-2]["origin"] == SITE and log[0]["origin"] is None

    # No key is ever written down: a key passed in the query is redacted, and headers are not kept.
    assert f"api_key={REDACTED}" in log[2]["query"] and "leaked" not in json.dumps(log)
    assert not any(key in json.dumps(log) for key in support.KEYS.values())

    # An export says which stored list it came from and how many rows it held, so its charities can be found.
    export = json.loads(log[8]["detail"])
    served = client.app.state.serving.current
    assert export == {"list": "triage", "as_of": served.as_of.isoformat(), "model_version": served.model.version,
                      "rows": served.current.listed("triage")}


@pytest.mark.parametrize(("query", "expected"), [
    ("page=2&api_key=abc", f"page=2&api_key={REDACTED}"),
    ("X-API-Key=abc&sort=rank", f"X-API-Key={REDACTED}&sort=rank"),
    ("token=1&csrf_token=2&q=key", f"token={REDACTED}&csrf_token={REDACTED}&q=key"),
    ("list=triage&page_size=5", "list=triage&page_size=5"),
    ("", ""),
])
def test_key_like_query_parameters_are_redacted(query, expected):
    assert redacted_query(query) == expected


def test_uvicorn_access_lines_are_redacted():
    record = logging.LogRecord("uvicorn.access", logging.INFO, "", 0, '%s - "%s %s HTTP/%s" %d',
                               ("127.0.0.1:5000", "GET", "/rankings?api_key=secret-key&page=2", "1.1", 200), None)
    assert RedactQueries().filter(record)
    assert "secret-key" not in record.getMessage() and f"api_key={REDACTED}&page=2" in record.getMessage()
