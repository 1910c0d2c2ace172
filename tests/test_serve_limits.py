"""The service under attack through what a request carries: bodies, their size and count, headers, the
docs, /health, and text that displays as something else.

Each test is an attack that worked on a service that read and parsed a body before looking at the key,
with no size limit, validated every charity before counting them, sent no security headers, loaded
its docs from a CDN, told anyone why it was unhealthy and showed notes as typed; it must fail now.
A body too large to allocate in a test is sent as a Content-Length with a short body, or streamed
chunk by chunk straight into the started app, counting what the app reads.
"""

from __future__ import annotations

import base64
import hashlib
import re

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

import serve.records
import serve.routes.charities
from risk_model.lists.records import records_from_tables
from serve.internal.security import Role, hash_api_key
from serve.main import create_app
from serve.settings import ApiKey
from tests.support import serve as support

pytestmark = pytest.mark.service

SITE = "https://testserver"  # the pages' cookie is Secure
MiB = 1024 * 1024
ATTACK_BYTES = 200 * MiB
BIDI_NOTE = "see invoice_\u202efdp.exe"


@pytest.fixture(scope="module")
def client(world, tmp_path_factory):
    app = create_app(support.settings_for(world, support.database_url("sqlite", tmp_path_factory.mktemp("limits"))))
    with TestClient(app, base_url=SITE) as client:
        yield client


@pytest.fixture(scope="module")
def number(client) -> str:
    return sorted(client.app.state.serving.current.current.entries)[0]


@pytest.fixture(scope="module")
def record(client, number) -> dict:
    data = client.app.state.serving.current.data
    return records_from_tables(data.register, data.returns, data.case_log, [number])[number]


def streamed(client: TestClient, path: str, headers: dict[str, str], chunk: bytes,
             total: int) -> tuple[int, dict[str, str], bytes, int]:
    """POST `total` bytes of `chunk`s to the started app, without a Content-Length, as a client streams a
    body; the status, headers and body of the answer, and how many bytes the app read."""
    async def call() -> tuple[int, dict[str, str], bytes, int]:
        read = 0
        answer: dict = {"headers": {}, "body": b""}

        async def receive() -> dict:
            nonlocal read
            if read >= total:
                return {"type": "http.request", "body": b"", "more_body": False}
            read += len(chunk)
            return {"type": "http.request", "body": chunk, "more_body": True}

        async def send(message: dict) -> None:
            if message["type"] == "http.response.start":
                answer["status"] = message["status"]
                answer["headers"] = {k.decode(): v.decode() for k, v in message.get("headers", [])}
            elif message["type"] == "http.response.body":
                answer["body"] += message.get("body", b"")

        sent = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
                 "scheme": "https", "path": path, "raw_path": path.encode(), "root_path": "", "query_string": b"",
                 "headers": [*sent, (b"host", b"testserver"), (b"transfer-encoding", b"chunked")],
                 "client": ("127.0.0.1", 50000), "server": ("testserver", 443)}
        await client.app(scope, receive, send)
        return answer["status"], answer["headers"], answer["body"], read

    return client.portal.call(call)


JSON = {"Content-Type": "application/json"}
ADMIN = support.headers(Role.admin) | JSON


# --- bodies: the key first, then a bounded read -----------------------------------------------------

def test_a_200_mb_body_without_a_key_is_refused_unread(client):
    # Declared: refused on its Content-Length alone, before the app runs.
    declared = client.post("/score", content=b'{"charities": [', headers=JSON | {"Content-Length": str(ATTACK_BYTES)})
    assert declared.status_code == 413
    assert declared.json() == {"detail": "the request body is larger than the 16,777,216 bytes this service accepts"}
    # Streamed without a length: the key is checked first, so not a byte is read, and the connection is
    # to be closed rather than the rest of the body taken in.
    status, headers, _, read = streamed(client, "/score", JSON, b"x" * MiB, ATTACK_BYTES)
    assert status == 401
    assert read == 0
    assert headers["connection"] == "close"


def test_malformed_json_without_a_key_is_a_401_not_a_422(client, number):
    assert client.post("/score", content=b'{"charities": [', headers=JSON).status_code == 401
    feedback = client.post(f"/charities/{number}/feedback", content=b'{"outcome"', headers=JSON)
    assert feedback.status_code == 401
    wrong_key = client.post("/score", content=b'{"charities": [', headers=JSON | {"X-API-Key": "not-a-key"})
    assert wrong_key.status_code == 401


def test_an_oversize_body_with_a_key_is_refused_with_a_413_that_names_the_limit(client):
    declared = client.post("/score", content=b"{}", headers=ADMIN | {"Content-Length": str(ATTACK_BYTES)})
    assert declared.status_code == 413 and "16,777,216 bytes" in declared.json()["detail"]
    # Streamed: reading stops at the chunk that passes the limit.
    status, _, body, read = streamed(client, "/score", ADMIN, b" " * MiB, ATTACK_BYTES)
    assert status == 413 and b"16,777,216 bytes" in body
    assert read <= 16 * MiB + MiB


def test_a_malformed_body_with_a_key_gets_the_same_422_as_ever(client):
    refused = client.post("/score", content=b'{"charities": [', headers=ADMIN)
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["type"] == "json_invalid" and refused.json()["detail"][0]["loc"][0] == "body"
    assert client.post("/score", content=b'{"charities": "\xff"}', headers=ADMIN).status_code == 400


# --- counts before items ------------------------------------------------------------------------------

def test_1001_charities_are_refused_by_their_count_before_any_is_validated(client, record, monkeypatch):
    checked = []
    check_rules = serve.records._check_rules
    monkeypatch.setattr(serve.records, "_check_rules", lambda *a: checked.append(1) or check_rules(*a))
    invalid = dict(record, charity_number="XX1")
    response = client.post("/score", json={"charities": [record] * 1000 + [invalid]}, headers=ADMIN)
    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert error["loc"] == ["body", "charities"] and error["type"] == "too_long"
    assert "at most 1000 items, not 1001" in error["msg"]
    assert checked == []  # not one record was validated
    # Within the count, the records are validated as always (one with spaces around its name, which
    # validation strips: a record sent as stored, or as the files write it, is answered by its fingerprint).
    spaced = record | {"charity_name": f" {record['charity_name']} "}
    assert client.post("/score", json={"charities": [spaced]}, headers=ADMIN).status_code == 200
    assert checked


def test_each_role_has_its_own_most_charities_a_request(client, record):
    batch = {"charities": [record] * 101}
    officer = client.post("/score", json=batch, headers=support.headers(Role.case_officer))
    assert officer.status_code == 422
    assert "at most 100 items, not 101 (the most the case_officer role may score at once)" in officer.text
    # An analyst may send as many: the same body passes the count and is refused for what it holds.
    analyst = client.post("/score", json=batch, headers=support.headers(Role.analyst))
    assert analyst.status_code == 422 and "appears more than once" in analyst.text


def test_the_limits_are_settings(world, tmp_path, record):
    settings = support.settings_for(world, support.database_url("sqlite", tmp_path), max_body_bytes=4096,
                                    max_charities={"analyst": 1})
    assert settings.max_charities.of(Role.analyst) == 1 and settings.max_charities.of(Role.admin) == 1000
    with TestClient(create_app(settings)) as small:
        refused = small.post("/score", json={"charities": [record] * 2}, headers=support.headers(Role.analyst))
        assert refused.status_code == 413 and "4,096 bytes" in refused.json()["detail"]
    with pytest.raises(ValidationError):
        support.settings_for(world, "sqlite://", max_charities={"analyst": 1001})


# --- headers ------------------------------------------------------------------------------------------

def security_headers_of(response) -> None:
    policy = response.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "same-origin"


def test_every_answer_carries_the_security_headers(client, number):
    answers = {
        "api": client.get(f"/charities/{number}", headers=support.headers(Role.case_officer)),
        "page": client.get("/ui/sign-in"),
        "refused key": client.get("/rankings"),
        "invalid query": client.get("/rankings", params={"page": 0}, headers=support.headers(Role.analyst)),
        "not found": client.get("/no-such-page"),
        "too large": client.post("/score", content=b"{}", headers={"Content-Length": str(ATTACK_BYTES)}),
        "health": client.get("/health"),
    }
    assert [a.status_code for a in answers.values()] == [200, 200, 401, 422, 404, 413, 200]
    for name, answer in answers.items():
        security_headers_of(answer)
        assert answer.headers["cache-control"] == "no-store", name
    # Static files may be cached, and are never sniffed.
    style = client.get("/ui/static/style.css")
    assert style.status_code == 200 and style.headers["x-content-type-options"] == "nosniff"
    assert "no-store" not in style.headers.get("cache-control", "")


def test_an_error_no_handler_answered_is_a_500_with_the_headers_and_is_logged(client, number, monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(serve.routes.charities, "charity_page", broken)
    with caplog.at_level("ERROR", logger="serve"):
        answer = client.get(f"/charities/{number}", headers=support.headers(Role.case_officer))
    assert answer.status_code == 500 and answer.text == "Internal Server Error"  # nothing of the bug shown
    security_headers_of(answer)
    assert answer.headers["cache-control"] == "no-store"
    assert any(f"/charities/{number}" in r.getMessage() and r.exc_info for r in caplog.records)
    log = client.get("/access-log", params={"page_size": 5, "charity_number": number},
                     headers=support.headers(Role.auditor)).json()["items"]
    assert log[0]["status"] == 500 and log[0]["path"] == f"/charities/{number}"


def test_https_answers_tell_the_browser_to_stay_on_https(client):
    assert client.get("/health").headers["strict-transport-security"] == "max-age=31536000"
    plain = TestClient(client.app, base_url="http://testserver")
    assert "strict-transport-security" not in plain.get("/health").headers


def token_in(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]*)"', html)
    assert found is not None, "the sign-in form has no token"
    return found.group(1)


@pytest.fixture
def officer_pages(client):
    """A browser signed in to the pages as a case officer."""
    browser = TestClient(client.app, base_url=SITE, follow_redirects=False, client=("203.0.113.7", 50000))
    token = token_in(browser.get("/ui/sign-in").text)
    signed = browser.post("/ui/sign-in", data={"api_key": support.KEYS[Role.case_officer], "csrf_token": token},
                          headers={"Origin": SITE})
    assert signed.status_code == 303, signed.text
    return browser


def test_the_charity_page_cannot_be_framed_or_cached(officer_pages, number):
    page = officer_pages.get(f"/ui/charities/{number}")
    assert page.status_code == 200 and "<form" in page.text
    security_headers_of(page)
    assert page.headers["cache-control"] == "no-store"


# --- the API docs ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_the_api_docs_load_nothing_from_elsewhere(client, path):
    page = client.get(path)
    assert page.status_code == 200
    assets = re.findall(r'(?:src|href)="([^"]*)"', page.text)
    assert assets and not [a for a in assets if re.match(r"(https?:)?//", a)], assets
    for asset in assets:
        assert client.get(asset).status_code == 200, asset
    policy = page.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "http" not in policy and "unsafe-eval" not in policy
    # Swagger UI's one inline script runs by its hash, and no other.
    for script in re.findall(r"<script>(.*?)</script>", page.text, re.DOTALL):
        digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in policy


def test_the_docs_describe_the_bodies_read_after_the_key(client):
    schema = client.get("/openapi.json").json()
    for path in ("/score", "/charities/{number}/feedback"):
        operation = schema["paths"][path]["post"]
        body = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        assert body.removeprefix("#/components/schemas/") in schema["components"]["schemas"]
        assert {"401", "413", "422"} <= set(operation["responses"])
    assert schema["components"]["schemas"]["ScoreRequest"]["properties"]["charities"]["maxItems"] == 1000


# --- /health ------------------------------------------------------------------------------------------

def test_health_without_a_key_says_only_whether_it_is_healthy(client, world):
    health = client.get("/health")
    assert health.status_code == 200 and health.json() == {"status": "ok"}
    assert client.get("/health/detail").status_code == 401
    detail = client.get("/health/detail", headers=support.headers(Role.analyst))
    assert detail.json() == {"status": "ok", "model_version": world.champion_version}


# --- text and identifiers -------------------------------------------------------------------------------

def test_a_note_with_a_bidirectional_override_is_shown_neutralised(client, officer_pages, number):
    officer = support.headers(Role.case_officer)
    stored = client.post(f"/charities/{number}/feedback", json={"outcome": "not_reviewed", "note": BIDI_NOTE},
                         headers=officer)
    assert stored.status_code == 201 and stored.json()["note"] == "see invoice_[U+202E]fdp.exe"
    notes = [f["note"] for f in client.get(f"/charities/{number}", headers=officer).json()["feedback"]]
    assert "see invoice_[U+202E]fdp.exe" in notes and not any("\u202e" in n for n in notes)
    page = officer_pages.get(f"/ui/charities/{number}").text
    assert "see invoice_[U+202E]fdp.exe" in page and "\u202e" not in page


def test_identifiers_are_ascii(client, record):
    with pytest.raises(ValidationError):
        ApiKey(name="j.smith\u0430", role=Role.analyst, sha256=hash_api_key("k"))  # a Cyrillic a
    who = client.get("/access-log", params={"who": "analyst-t\u0435ster"}, headers=support.headers(Role.auditor))
    assert who.status_code == 422 and who.json()["detail"][0]["loc"] == ["query", "who"]
    event = {"date": "2020-02-01", "event": "concern_received", "outcome": "no_\u0430ction"}  # a Cyrillic a
    scored = client.post("/score", json={"charities": [dict(record, case_log=[event])]}, headers=ADMIN)
    assert scored.status_code == 422
    assert scored.json()["detail"][0]["loc"] == ["body", "charities", 0, "case_log", 0, "outcome"]


def test_a_charity_number_in_other_digits_is_not_found(officer_pages):
    arabic_indic = "SC" + "".join(chr(0x0660 + int(d)) for d in "012345")
    found = officer_pages.get("/ui/charities", params={"search": arabic_indic})
    assert found.status_code == 422 and "six or seven digits (0 to 9)" in found.text
    assert officer_pages.get("/ui/charities/sc0123456").headers["location"] == "/ui/charities/SC0123456"
