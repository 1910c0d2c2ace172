"""The pages and the API under attack: forged forms, replayed and stale sessions, keys guessed in bulk.

Each test is an attack that would have worked on pages protected only by SameSite=Lax, a signed cookie
holding the key's hash and no count of unknown keys, and must fail now; the last ones check that
signing in, recording feedback and signing out still work. A "browser" is a TestClient of the one
started app with its own cookie jar and its own client address, over https (the cookie is Secure).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import time
from datetime import timedelta
from itertools import count

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text, update

from serve.internal.db import AccessLogEntry, Feedback, KeptFeedback, WebSession, connect, utc_now
from serve.internal.security import Role, hash_api_key
from serve.internal.sessions import SessionStore
from serve.internal.throttle import Throttle
from serve.main import create_app
from tests.support import serve as support

pytestmark = pytest.mark.service

SITE = "https://testserver"
SAME_SITE = {"Origin": SITE}
ADDRESSES = (f"198.51.100.{n}" for n in count(1))


@pytest.fixture(scope="module")
def started(world, tmp_path_factory):
    app = create_app(support.settings_for(world, support.database_url("sqlite", tmp_path_factory.mktemp("db"))))
    with TestClient(app, base_url=SITE) as client:
        yield client


@pytest.fixture
def browser(started):
    """A new browser: its own cookies, from an address no other test uses."""
    def new(address: str | None = None) -> TestClient:
        return TestClient(started.app, base_url=SITE, follow_redirects=False,
                          client=(address or next(ADDRESSES), 50000))
    return new


@pytest.fixture(scope="module")
def number(started) -> str:
    return sorted(started.app.state.serving.current.current.entries)[0]


def token_in(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]*)"', html)
    assert found is not None, "the page has no form token"
    return found.group(1)


def sign_in(browser: TestClient, role: Role) -> None:
    token = token_in(browser.get("/ui/sign-in").text)
    response = browser.post("/ui/sign-in", data={"api_key": support.KEYS[role], "csrf_token": token}, headers=SAME_SITE)
    assert response.status_code == 303, response.text


def feedback_notes(started: TestClient, number: str) -> list[str]:
    with started.app.state.db.sessions() as session:
        return list(session.scalars(select(Feedback.note).where(Feedback.charity_number == number)))


def access_log(started: TestClient, **params) -> list[dict]:
    response = started.get("/access-log", params={"page_size": 500, **params}, headers=support.headers(Role.auditor))
    assert response.status_code == 200
    return response.json()["items"]


def stored_session(started: TestClient, cookie: str) -> WebSession | None:
    with started.app.state.db.sessions() as session:
        return session.get(WebSession, hash_api_key(cookie))


def test_a_feedback_form_without_its_token_is_refused_stored_nowhere_and_logged(started, browser, number):
    officer = browser()
    sign_in(officer, Role.case_officer)
    assert token_in(officer.get(f"/ui/charities/{number}").text)
    for sent in ({}, {"csrf_token": ""}, {"csrf_token": "a-token-guessed-by-another-site"}):
        response = officer.post(f"/ui/charities/{number}/feedback", headers=SAME_SITE,
                                data={"outcome": "inquiry_opened", "note": "Forged without the token.", **sent})
        assert response.status_code == 403
        assert response.headers["content-type"].startswith("text/html")
        assert "token" in response.text
    assert "Forged without the token." not in feedback_notes(started, number)
    refused = [e for e in access_log(started, who="case_officer-tester")
               if e["path"] == f"/ui/charities/{number}/feedback" and e["status"] == 403]
    assert len(refused) >= 3 and all(e["charity_number"] == number and e["client"] for e in refused)


@pytest.mark.parametrize("headers", [
    {"Origin": "https://evil.example"},
    {"Origin": "https://testserver:9999"},  # another port of the same host: the same site, to SameSite
    {"Origin": "http://testserver"},
    {"Origin": "null"},
    {"Referer": "https://evil.example/page.html"},
    {},
], ids=["other-site", "other-port", "other-scheme", "opaque-origin", "foreign-referer", "neither"])
def test_a_feedback_form_with_its_token_from_another_origin_is_refused(started, browser, number, headers):
    officer = browser()
    sign_in(officer, Role.case_officer)
    token = token_in(officer.get(f"/ui/charities/{number}").text)
    note = f"Forged from {headers}."
    response = officer.post(f"/ui/charities/{number}/feedback", headers=headers,
                            data={"outcome": "inquiry_opened", "note": note, "csrf_token": token})
    assert response.status_code == 403
    assert "another site" in response.text
    assert note not in feedback_notes(started, number)


def test_a_forged_sign_in_is_refused_and_the_session_is_unchanged(started, browser, number):
    victim = browser()
    sign_in(victim, Role.case_officer)
    cookie = victim.cookies["risk_session"]
    forged = {"api_key": support.KEYS[Role.analyst]}
    # Without the session's token, and with a token of the attacker's own sign-in form.
    attacker = browser()
    attackers_token = token_in(attacker.get("/ui/sign-in").text)
    for sent, headers in (({}, SAME_SITE), ({"csrf_token": attackers_token}, SAME_SITE),
                          ({"csrf_token": token_in(victim.get("/ui/sign-in").text)}, {"Origin": "https://evil.example"})):
        response = victim.post("/ui/sign-in", data=forged | sent, headers=headers)
        assert response.status_code == 403
        assert "set-cookie" not in response.headers
    assert victim.cookies["risk_session"] == cookie
    page = victim.get(f"/ui/charities/{number}")
    assert page.status_code == 200 and "case_officer-tester" in page.text

    stranger = browser()
    response = stranger.post("/ui/sign-in", data=forged, headers=SAME_SITE)
    assert response.status_code == 403
    assert "risk_session" not in stranger.cookies
    assert any(e["path"] == "/ui/sign-in" and e["status"] == 403 and e["who"] == "anonymous"
               for e in access_log(started))


def test_the_cookie_replayed_after_sign_out_gets_the_sign_in_page_and_no_data(started, browser, number):
    officer = browser()
    sign_in(officer, Role.case_officer)
    cookie = officer.cookies["risk_session"]
    page = officer.get(f"/ui/charities/{number}")
    assert page.status_code == 200 and number in page.text
    response = officer.post("/ui/sign-out", data={"csrf_token": token_in(page.text)}, headers=SAME_SITE)
    assert response.status_code == 303 and response.headers["location"] == "/ui/sign-in"
    assert stored_session(started, cookie) is None

    response = browser().get(f"/ui/charities/{number}", headers={"Cookie": f"risk_session={cookie}"})
    assert response.status_code == 303 and response.headers["location"].startswith("/ui/sign-in?next=")
    assert number not in response.text


def test_a_forged_sign_out_is_refused(started, browser, number):
    officer = browser()
    sign_in(officer, Role.case_officer)
    assert officer.post("/ui/sign-out", data={}, headers=SAME_SITE).status_code == 403
    assert officer.get(f"/ui/charities/{number}").status_code == 200


@pytest.mark.parametrize("aged", [{"last_seen_at": timedelta(minutes=31)},
                                  {"created_at": timedelta(hours=8, minutes=1)}], ids=["idle", "absolute"])
def test_a_session_past_its_idle_or_absolute_timeout_is_refused(started, browser, number, aged):
    officer = browser()
    sign_in(officer, Role.case_officer)
    cookie = officer.cookies["risk_session"]
    assert officer.get(f"/ui/charities/{number}").status_code == 200
    with started.app.state.db.sessions.begin() as session:
        session.execute(update(WebSession).where(WebSession.id_sha256 == hash_api_key(cookie))
                        .values({column: utc_now() - age for column, age in aged.items()}))
    response = officer.get(f"/ui/charities/{number}")
    assert response.status_code == 303 and response.headers["location"].startswith("/ui/sign-in")
    assert stored_session(started, cookie) is None


def test_a_session_whose_key_is_no_longer_configured_ends(started, browser, number):
    officer = browser()
    sign_in(officer, Role.case_officer)
    cookie = officer.cookies["risk_session"]
    with started.app.state.db.sessions.begin() as session:
        session.execute(update(WebSession).where(WebSession.id_sha256 == hash_api_key(cookie))
                        .values(key_sha256=hash_api_key("a key since removed from the settings")))
    assert officer.get(f"/ui/charities/{number}").status_code == 303
    assert stored_session(started, cookie) is None


def test_the_cookie_is_an_opaque_id_and_secure_httponly_and_lax_by_default(started, browser):
    officer = browser()
    token = token_in(officer.get("/ui/sign-in").text)
    response = officer.post("/ui/sign-in", data={"api_key": support.KEYS[Role.case_officer], "csrf_token": token},
                            headers=SAME_SITE)
    set_cookie = response.headers["set-cookie"]
    value = officer.cookies["risk_session"]
    attributes = {part.strip().split("=")[0].lower(): part.strip() for part in set_cookie.split(";")[1:]}
    assert {"secure", "httponly"} <= set(attributes) and attributes["samesite"].lower() == "samesite=lax"
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", value)
    assert hash_api_key(support.KEYS[Role.case_officer]) not in value and "case_officer" not in value
    with pytest.raises((binascii.Error, UnicodeDecodeError, ValueError)):
        json.loads(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode())
    # The database holds the id's hash, not the id.
    with started.app.state.db.sessions() as session:
        assert session.scalar(select(func.count()).where(WebSession.id_sha256 == value)) == 0
    assert stored_session(started, value).key_sha256 == hash_api_key(support.KEYS[Role.case_officer])


def test_the_eleventh_unknown_key_from_a_client_gets_429_and_then_so_does_a_right_one(started, browser):
    address = next(ADDRESSES)
    guesser = browser(address)
    for n in range(10):
        response = guesser.get("/version", headers={"X-API-Key": f"guess-{n}"})
        assert response.status_code == 401
    response = guesser.get("/version", headers={"X-API-Key": "guess-10"})
    assert response.status_code == 429
    assert 1 <= int(response.headers["retry-after"]) <= 60
    assert guesser.get("/version", headers=support.headers(Role.analyst)).status_code == 429
    # The sign-in form is throttled with the API, and another client is not.
    form = guesser.post("/ui/sign-in", data={"api_key": support.KEYS[Role.analyst]}, headers=SAME_SITE)
    assert form.status_code == 429 and "retry-after" in form.headers
    assert browser().get("/version", headers=support.headers(Role.analyst)).status_code == 200

    entries = [e for e in access_log(started) if e["client"] == address]
    assert sorted(e["status"] for e in entries) == [401] * 10 + [429] * 3
    assert {(e["who"], e["role"]) for e in entries} == {("anonymous", "none")}


def test_unknown_keys_on_the_sign_in_form_are_counted_and_logged(started, browser):
    address = next(ADDRESSES)
    guesser = browser(address)
    token = token_in(guesser.get("/ui/sign-in").text)
    for n in range(10):
        response = guesser.post("/ui/sign-in", data={"api_key": f"guess-{n}", "csrf_token": token}, headers=SAME_SITE)
        assert response.status_code == 401 and "not recognised" in response.text
    response = guesser.post("/ui/sign-in", data={"api_key": support.KEYS[Role.analyst], "csrf_token": token},
                            headers=SAME_SITE)
    assert response.status_code == 429 and int(response.headers["retry-after"]) >= 1
    assert "Too many unknown keys" in response.text
    statuses = sorted(e["status"] for e in access_log(started) if e["client"] == address and e["method"] == "POST")
    assert statuses == [401] * 10 + [429]


def test_the_throttle_is_a_moving_window_shared_through_the_database(tmp_path):
    db = connect(f"sqlite:///{tmp_path / 'throttle.db'}")
    one, other = (Throttle(db, limit=3, window=timedelta(seconds=1.5)) for _ in range(2))
    for _ in range(3):
        assert one.retry_after("203.0.113.9") is None
        one.failed("203.0.113.9")
    assert one.retry_after("203.0.113.9") in (1, 2)
    assert other.retry_after("203.0.113.9") is None  # not yet read from the database
    other.refresh()
    assert other.retry_after("203.0.113.9") in (1, 2) and other.retry_after("203.0.113.10") is None
    time.sleep(1.6)
    assert one.retry_after("203.0.113.9") is None
    other.refresh()
    assert other.retry_after("203.0.113.9") is None
    with db.sessions() as session:
        assert session.scalar(text("SELECT count(*) FROM failed_key")) == 0  # past the window: deleted
    db.dispose()


def test_a_flood_of_sign_in_forms_keeps_only_the_newest_form_sessions_and_no_signed_in_one_is_touched(tmp_path):
    db = connect(f"sqlite:///{tmp_path / 'sessions.db'}")
    store = SessionStore(db, timedelta(minutes=30), timedelta(hours=8), most_form_sessions=3)
    signed = store.begin(hash_api_key("a-key"), "analyst")
    forms = [store.begin()]
    store.keep(forms[0].row, "SC000001", "no_concern", "")
    forms += [store.begin() for _ in range(4)]
    store.begin(hash_api_key("another-key"), "admin")
    assert store.find(signed.session_id) is not None
    assert [store.find(f.session_id) is not None for f in forms] == [False, False, True, True, True]
    with db.sessions() as session:
        assert session.scalar(select(func.count()).select_from(WebSession)) == 5  # 3 forms, 2 signed in
        assert session.scalar(select(func.count()).select_from(KeptFeedback)) == 0  # went with its session
    db.dispose()


def test_an_access_log_from_before_client_addresses_gets_the_column_and_keeps_its_rows(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    db = connect(url)
    with db.engine.begin() as connection:
        connection.execute(text("DROP TABLE access_log"))
        connection.execute(text("CREATE TABLE access_log (id INTEGER PRIMARY KEY, at DATETIME, who VARCHAR(100), "
                                "role VARCHAR(20), method VARCHAR(10), path TEXT, query TEXT, "
                                "charity_number VARCHAR(20), status INTEGER)"))
        connection.execute(text("INSERT INTO access_log VALUES (1, '2024-01-02 03:04:05', 'j.smith', 'analyst', "
                                "'GET', '/rankings', '', NULL, 200)"))
    db.dispose()
    again = connect(url)
    with again.sessions() as session:
        row = session.scalars(select(AccessLogEntry)).one()
        assert (row.who, row.client) == ("j.smith", None)
    again.dispose()


def test_sign_in_feedback_and_sign_out_still_work(started, browser, number):
    officer = browser()
    token = token_in(officer.get(f"/ui/sign-in?next=/ui/charities/{number}").text)
    response = officer.post("/ui/sign-in", headers=SAME_SITE, data={
        "api_key": support.KEYS[Role.case_officer], "csrf_token": token, "next": f"/ui/charities/{number}"})
    assert response.status_code == 303 and response.headers["location"] == f"/ui/charities/{number}"
    page = officer.get(response.headers["location"])
    token = token_in(page.text)
    response = officer.post(f"/ui/charities/{number}/feedback", headers=SAME_SITE,
                            data={"outcome": "reviewed_no_concern", "note": "Sent from the page.", "csrf_token": token})
    assert response.status_code == 303
    # A browser that sends no Origin but a Referer of this site is let through too.
    response = officer.post(f"/ui/charities/{number}/feedback", headers={"Referer": f"{SITE}/ui/charities/{number}"},
                            data={"outcome": "not_reviewed", "note": "Sent with a Referer.", "csrf_token": token})
    assert response.status_code == 303
    assert {"Sent from the page.", "Sent with a Referer."} <= set(feedback_notes(started, number))
    assert "Sent from the page." in officer.get(f"/ui/charities/{number}").text
    response = officer.post("/ui/sign-out", data={"csrf_token": token}, headers=SAME_SITE)
    assert response.status_code == 303
    assert officer.get(f"/ui/charities/{number}").status_code == 303
    logged = [(e["path"], e["status"]) for e in access_log(started, who="case_officer-tester")]
    assert ("/ui/sign-in", 303) in logged and ("/ui/sign-out", 303) in logged


def kept_notes(started: TestClient) -> list[str]:
    with started.app.state.db.sessions() as session:
        return list(session.scalars(select(KeptFeedback.note)))


@pytest.mark.parametrize("ended", ["idle", "cookie cleared"])
def test_feedback_sent_after_the_session_ended_is_offered_again_after_sign_in_and_stored_only_when_sent(
        started, browser, number, ended):
    officer = browser()
    sign_in(officer, Role.case_officer)
    cookie = officer.cookies["risk_session"]
    token = token_in(officer.get(f"/ui/charities/{number}").text)
    if ended == "idle":
        with started.app.state.db.sessions.begin() as session:
            session.execute(update(WebSession).where(WebSession.id_sha256 == hash_api_key(cookie))
                            .values(last_seen_at=utc_now() - timedelta(minutes=31)))
    else:
        officer.cookies.clear()
    note = f"Typed while the session ended ({ended})."
    response = officer.post(f"/ui/charities/{number}/feedback", headers=SAME_SITE,
                            data={"outcome": "inquiry_opened", "note": note, "csrf_token": token})
    assert response.status_code == 303
    assert response.headers["location"] == f"/ui/sign-in?next=%2Fui%2Fcharities%2F{number}%23feedback"
    assert note not in feedback_notes(started, number) and note in kept_notes(started)
    form = officer.get(response.headers["location"])
    assert f"your feedback on {number} was not" in form.text
    mistyped = officer.post("/ui/sign-in", headers=SAME_SITE, data={"api_key": "a mistyped key",
                                                                    "csrf_token": token_in(form.text)})
    assert mistyped.status_code == 401 and f"your feedback on {number} was not" in mistyped.text

    response = officer.post("/ui/sign-in", headers=SAME_SITE, data={
        "api_key": support.KEYS[Role.case_officer], "csrf_token": token_in(form.text),
        "next": f"/ui/charities/{number}#feedback"})
    assert response.status_code == 303 and response.headers["location"] == f"/ui/charities/{number}#feedback"
    page = officer.get(f"/ui/charities/{number}").text
    assert "Your feedback was not yet saved" in page
    assert f">{note}</textarea>" in page and 'value="inquiry_opened" selected' in page
    assert note not in feedback_notes(started, number)
    # Another browser signed in as the same key holder is not offered it.
    other = browser()
    sign_in(other, Role.case_officer)
    assert note not in other.get(f"/ui/charities/{number}").text

    response = officer.post(f"/ui/charities/{number}/feedback", headers=SAME_SITE,
                            data={"outcome": "inquiry_opened", "note": note, "csrf_token": token_in(page)})
    assert response.status_code == 303
    assert feedback_notes(started, number).count(note) == 1 and note not in kept_notes(started)
    assert "not yet saved" not in officer.get(f"/ui/charities/{number}").text


def test_feedback_sent_without_a_session_from_another_site_is_refused_and_kept_nowhere(started, browser, number):
    stranger = browser()
    note = "Planted by another site."
    for headers in ({"Origin": "https://evil.example"}, {}):
        response = stranger.post(f"/ui/charities/{number}/feedback", headers=headers,
                                 data={"outcome": "regulatory_action", "note": note})
        assert response.status_code == 403
        assert "risk_session" not in stranger.cookies
    assert note not in kept_notes(started) and note not in feedback_notes(started, number)


def test_kept_feedback_older_than_the_idle_timeout_is_deleted_and_not_offered(started, browser, number):
    officer = browser()
    note = "Kept longer ago than a session may idle."
    response = officer.post(f"/ui/charities/{number}/feedback", headers=SAME_SITE,
                            data={"outcome": "not_reviewed", "note": note})
    assert response.status_code == 303 and note in kept_notes(started)
    with started.app.state.db.sessions.begin() as session:
        session.execute(update(KeptFeedback).where(KeptFeedback.note == note)
                        .values(kept_at=utc_now() - timedelta(minutes=31)))
    sign_in(officer, Role.case_officer)
    assert note not in officer.get(f"/ui/charities/{number}").text
    assert note not in kept_notes(started) and note not in feedback_notes(started, number)
