"""Several workers on one PostgreSQL database serve as one service: a session begun on one is good on
the other, keys refused by one are refused by the other, a list job started on one is seen and
finished on the other, and when the registry's champion moves, both follow it.

Uvicorn's workers are processes that share nothing but the database; two service processes on two
ports over one database are the same arrangement, and let the test say which one it is talking to;
the first of them runs with `--workers 2` itself."""

from __future__ import annotations

import re
import time
from datetime import date, timedelta

import httpx
import pytest

from serve.internal.security import Role
from tests.support import hardening
from tests.support import serve as support

pytestmark = pytest.mark.service

ADMIN = support.headers(Role.admin)


def until(check, timeout_s: float = 30.0, every_s: float = 0.2):
    """Call `check` until it returns something truthy; that value, or the last one after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(every_s)


def session_cookie(response: httpx.Response) -> str:
    found = re.search(r"risk_session=([^;]+)", response.headers.get("set-cookie", ""))
    assert found, response.headers
    return found.group(1)


def sign_in(url: str, role: Role) -> str:
    """Sign in through the pages' form at `url`; the new session's cookie value."""
    form = httpx.get(f"{url}/ui/sign-in", timeout=30)
    token = re.search(r'name="csrf_token" value="([^"]*)"', form.text).group(1)
    signed = httpx.post(f"{url}/ui/sign-in", data={"api_key": support.KEYS[role], "csrf_token": token},
                        headers={"Origin": url, "Cookie": f"risk_session={session_cookie(form)}"}, timeout=30)
    assert signed.status_code == 303, signed.text
    return session_cookie(signed)


def extract_date(worker: hardening.ServiceProcess) -> date:
    version = httpx.get(f"{worker.url}/version", headers=ADMIN, timeout=30).json()
    return date.fromisoformat(version["data_extract_date"])


@pytest.fixture
def workers(own_world, tmp_path):
    """Two service processes on one empty PostgreSQL database (the first with two uvicorn workers), the
    second started once the first is up."""
    url = support.database_url("postgresql", tmp_path)
    settings = support.settings_for(own_world, url, follow_alias_seconds=1, failed_key_limit=3,
                                    failed_key_window_seconds=3)
    # The first is itself two uvicorn workers, so the one process the test talks to is shared too.
    first = hardening.ServiceProcess(settings, tmp_path / "first.log", workers=2).start()
    second = hardening.ServiceProcess(settings, tmp_path / "second.log")
    try:
        second.start()
        yield first, second
    finally:
        second.stop()
        first.stop()


def test_two_workers_share_sessions_refusals_jobs_and_the_champion(own_world, world_tables, workers):
    first, second = workers
    number = sorted(world_tables.register["charity_number"])[0]

    # A session begun on one is good on the other; ended on the other, it is gone from both. Each request
    # to the first goes on a new connection, answered by whichever of its two workers takes it.
    cookie = {"Cookie": f"risk_session={sign_in(first.url, Role.case_officer)}"}
    statuses = {httpx.get(f"{first.url}/ui/charities/{number}", headers=cookie, timeout=30).status_code
                for _ in range(20)}
    assert statuses == {200}, first.log()
    page = httpx.get(f"{second.url}/ui/charities/{number}", headers=cookie, timeout=30)
    assert page.status_code == 200 and number in page.text
    token = re.search(r'name="csrf_token" value="([^"]*)"', page.text).group(1)
    out = httpx.post(f"{second.url}/ui/sign-out", data={"csrf_token": token},
                     headers=cookie | {"Origin": second.url}, timeout=30)
    assert out.status_code == 303
    assert httpx.get(f"{first.url}/ui/charities/{number}", headers=cookie, timeout=30).status_code == 303

    # Unknown keys counted by one worker get the client refused by the other.
    for _ in range(3):
        assert httpx.get(f"{first.url}/rankings", headers={"X-API-Key": "a-guess"}, timeout=30).status_code == 401
    refused = until(lambda: httpx.get(f"{second.url}/rankings", headers=ADMIN, timeout=30).status_code == 429,
                    timeout_s=10)
    assert refused, "the second worker never refused the client the first one counted"
    time.sleep(float(httpx.get(f"{second.url}/rankings", headers=ADMIN, timeout=30).headers.get("retry-after", 0)))

    # A list job started on one is seen, and seen finished, on the other.
    as_of = (extract_date(first) - timedelta(days=365)).isoformat()
    started = httpx.post(f"{first.url}/lists/jobs", params={"as_of": as_of}, headers=ADMIN, timeout=30)
    assert started.status_code == 202, started.text
    job = started.json()["id"]
    done = until(lambda: httpx.get(f"{second.url}/lists/jobs/{job}", headers=ADMIN, timeout=30).json()["status"]
                 in ("done", "failed"), timeout_s=120)
    assert done and httpx.get(f"{second.url}/lists/jobs/{job}", headers=ADMIN, timeout=30).json()["status"] == "done"
    page = httpx.get(f"{second.url}/rankings", params={"as_of": as_of, "page_size": 1}, headers=ADMIN, timeout=30)
    assert page.status_code == 200 and page.json()["as_of"] == as_of

    # When the registry's champion moves, both follow it.
    new = support.promote_other_model(own_world)
    for worker in (first, second):
        followed = until(lambda w=worker: httpx.get(f"{w.url}/version", headers=ADMIN, timeout=30)
                         .json()["model"]["version"] == new, timeout_s=120)
        assert followed, f"{worker.url} still serves the old champion:\n{worker.log()}"

