"""An auditor's and an admin's journeys in a real browser: the auditor filters the access log by a charity and
downloads its CSV; the admin reloads the champion, confirming first, and reads the result.

The browser app is shared by the whole session, so the reload finds the registry's champion unchanged: the
alias is never moved here (tests/test_web_audit_admin.py moves it in a registry of its own).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import httpx
import pytest

from serve.internal.security import Role
from tests.support import serve as support
from tests.support.browser import require_a_browser, shots

pytestmark = [pytest.mark.service, pytest.mark.browser]

require_a_browser()


def log_rows(page) -> list[list[str]]:
    return [[cell.strip() for cell in row.locator("td").all_inner_texts()]
            for row in page.locator("table.access-log tbody tr").all()]


def test_an_auditor_filters_the_access_log_by_charity_and_downloads_it(signed_in, base_url, web_app):
    number = sorted(web_app.state.serving.current.current.entries)[0]
    for role in (Role.case_officer, Role.analyst):  # a read and a refusal of the charity, by key
        httpx.get(f"{base_url}/charities/{number}", headers=support.headers(role), trust_env=False, timeout=30)

    page = signed_in(Role.auditor)
    page.get_by_role("navigation", name="Pages").get_by_role("link", name="Access log").click()
    page.wait_for_url("**/ui/access-log")
    assert page.get_by_role("heading", level=1).inner_text() == "Access log"
    page.get_by_label("Charity number").fill(number.lower())  # read as the number, whatever its case
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url("**/ui/access-log?*charity_number=*")
    rows = log_rows(page)
    assert rows and {row[4] for row in rows} == {number}
    assert {(row[1], row[5]) for row in rows} >= {("case_officer-tester", "200"), ("analyst-tester", "403")}
    assert page.get_by_label("Charity number").input_value() == number
    shots(page, "access_log")

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download CSV").click()
    download = download_info.value
    assert download.suggested_filename.startswith("access_log_") and download.suggested_filename.endswith(".csv")
    exported = list(csv.DictReader(io.StringIO(Path(download.path()).read_text())))
    assert [(r["who"], r["status"], r["charity_number"]) for r in exported] == \
        [(row[1], row[5], row[4]) for row in rows]

    page.get_by_label("Status").select_option("4xx")
    page.get_by_role("button", name="Apply").click()
    refused = log_rows(page)
    assert refused and all(row[5].startswith("4") and row[4] == number for row in refused)

    # Unfiltered, the log holds this auditor's own reads of it, their long queries and all.
    page.get_by_role("link", name="Clear").click()
    page.wait_for_url("**/ui/access-log")
    own = [row[3] for row in log_rows(page) if row[1] == "auditor-tester"]
    assert any("/ui/access-log?" in request and "charity_number=" in request for request in own)
    shots(page, "access_log_all")


def test_an_admin_reloads_after_confirming_and_sees_the_result(signed_in, web_app):
    served = web_app.state.serving.current.model.version
    page = signed_in(Role.admin)
    page.goto("/ui/models")
    assert "#/experiments/" not in page.content()  # no MLflow UI is configured: the runs' ids, unlinked
    shots(page, "models_admin")
    page.get_by_role("link", name="Reload the champion…").click()
    page.wait_for_url("**/ui/models/reload")
    assert page.get_by_role("heading", level=1).inner_text() == "Reload the champion?"
    assert "change nothing" in page.locator("main").inner_text()
    shots(page, "reload_confirm")

    page.get_by_role("link", name="Cancel").click()
    page.wait_for_url("**/ui/models")
    assert web_app.state.serving.current.model.version == served

    page.get_by_role("link", name="Reload the champion…").click()
    page.get_by_role("button", name="Reload now").click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", level=1).inner_text() == "Reloaded: unchanged"
    result = page.get_by_role("status").inner_text()
    assert f"still version {served}" in result and "nothing changed" in result
    shots(page, "reload_result")
    assert web_app.state.serving.current.model.version == served
