"""Feedback the service has acknowledged survives a SIGKILL of its process (a real one, on SQLite)."""

from __future__ import annotations

import httpx
import pytest

from serve.internal.security import Role
from tests.support import hardening
from tests.support import serve as support

pytestmark = pytest.mark.service

CASE_OFFICER = support.headers(Role.case_officer)
ANALYST = support.headers(Role.analyst)


def test_acknowledged_feedback_survives_kill_9(world, tmp_path):
    settings = support.settings_for(world, f"sqlite:///{tmp_path / 'service.db'}")
    outcomes = ["reviewed_no_concern", "inquiry_opened", "regulatory_action", "not_reviewed"]
    acknowledged: dict[str, list[dict]] = {}
    first = hardening.ServiceProcess(settings, tmp_path / "first.log").start()
    try:
        with httpx.Client(base_url=first.url, timeout=30) as client:
            top = client.get("/rankings", params={"page_size": 5}, headers=ANALYST)
            assert top.status_code == 200, top.text
            numbers = [row["charity_number"] for row in top.json()["items"]]
            for i in range(20):
                number = numbers[i % len(numbers)]
                saved = client.post(f"/charities/{number}/feedback", headers=CASE_OFFICER,
                                    json={"outcome": outcomes[i % len(outcomes)], "note": f"Feedback number {i}."})
                assert saved.status_code == 201, saved.text
                acknowledged.setdefault(number, []).append(saved.json())
        # Straight after the last acknowledgement: no shutdown, no flush, no checkpoint.
        first.kill()
        assert first.process.returncode == -9
    finally:
        first.stop()

    with hardening.ServiceProcess(settings, tmp_path / "second.log", port=first.port).start() as second:
        with httpx.Client(base_url=second.url, timeout=30) as client:
            read_back = []
            for number, saved in acknowledged.items():
                page = client.get(f"/charities/{number}", headers=CASE_OFFICER)
                assert page.status_code == 200, page.text
                for entry in saved:
                    assert entry in page.json()["feedback"]
                read_back += page.json()["feedback"]
    # every acknowledged note once, and nothing the service did not acknowledge
    assert sorted(entry["note"] for entry in read_back) == sorted(f"Feedback number {i}." for i in range(20))
