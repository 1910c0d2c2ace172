"""The pages in a real browser: Playwright driving Debian's headless Chromium against the app on loopback.

Screenshots of the three pages go to test-output/screenshots/ for a reviewer to look at.
"""

from __future__ import annotations

import csv
import io
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest
import uvicorn

from serve.main import create_app
from serve.security import Role
from tests import test_serve_support as support

CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parents[1] / "test-output" / "screenshots"

playwright_api = pytest.importorskip("playwright.sync_api", reason="the browser tests need the playwright package "
                                                                   "(pip install -e '.[test]')")
if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
    pytest.skip(f"the browser tests need Debian's Chromium at {CHROMIUM} (apt-get install chromium)",
                allow_module_level=True)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def base_url(world, tmp_path_factory):
    url = support.database_url("sqlite", tmp_path_factory.mktemp("web_db"))
    app = create_app(support.settings_for(world, url))
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 120
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the app did not start"
        time.sleep(0.1)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser():
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        yield browser
        browser.close()


@pytest.fixture
def signed_in(browser, base_url):
    """A fresh browser context signed in with a role's key, at 1280x800."""
    contexts = []

    def sign_in(role: Role, viewport=(1280, 800)):
        context = browser.new_context(base_url=base_url, viewport={"width": viewport[0], "height": viewport[1]},
                                      accept_downloads=True)
        contexts.append(context)
        page = context.new_page()
        page.goto("/ui/")
        assert "/ui/sign-in" in page.url
        page.get_by_label("API key").fill(support.KEYS[role])
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_load_state()
        return page

    yield sign_in
    for context in contexts:
        context.close()


def shot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def table_rows(page) -> list[list[str]]:
    return [[cell.strip() for cell in row.locator("td").all_inner_texts()]
            for row in page.locator("table.ranked tbody tr").all()]


def test_a_wrong_key_is_refused_and_a_right_one_signs_in_with_a_safe_cookie(browser, base_url, signed_in):
    context = browser.new_context(base_url=base_url)
    page = context.new_page()
    page.goto("/ui/sign-in")
    page.get_by_label("API key").fill("not-a-key")
    page.get_by_role("button", name="Sign in").click()
    assert page.get_by_role("alert").inner_text() == "That key is not recognised."
    context.close()

    page = signed_in(Role.analyst)
    assert page.url.endswith("/ui/list")
    assert page.get_by_role("heading", level=1).inner_text().startswith("Ranked list as of 2021-12-31")
    cookie = next(c for c in page.context.cookies() if c["name"] == "risk_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    assert support.KEYS[Role.analyst] not in cookie["value"]


def test_filters_and_search_narrow_the_list(signed_in):
    page = signed_in(Role.analyst)
    page.get_by_label("Band", exact=True).select_option("high")
    page.get_by_role("button", name="Apply").click()
    rows = table_rows(page)
    assert rows and all(row[7] == "high" for row in rows)
    assert "band=high" in page.url

    first = rows[0]
    page.get_by_label("Band", exact=True).select_option("")
    page.get_by_label("Name or number").fill(first[1])
    page.get_by_role("button", name="Apply").click()
    assert [row[1] for row in table_rows(page)] == [first[1]]
    shot(page, "list_search")

    page.goto("/ui/list?top_k=10")
    ranks = [int(row[0]) for row in table_rows(page)]
    assert ranks == list(range(1, 11))
    assert "top 10 held on average" in page.locator(".capacity").inner_text()


def test_the_csv_holds_the_rows_on_the_page(signed_in):
    page = signed_in(Role.analyst)
    page.goto("/ui/list?top_k=40&page_size=100&band=high")
    on_page = table_rows(page)
    assert on_page
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download CSV").click()
    rows = list(csv.DictReader(io.StringIO(Path(download_info.value.path()).read_text())))
    assert [(r["rank"], r["charity_number"], r["charity_name"], r["risk_band"]) for r in rows] == \
        [(row[0], row[1], row[2], row[7]) for row in on_page]


def test_screenshots_of_the_list_and_models_pages(signed_in):
    page = signed_in(Role.auditor)
    page.goto("/ui/list")
    assert page.locator("table.ranked tbody tr").count() == 50
    shot(page, "list")
    page.goto("/ui/models")
    assert "champion" in page.locator("table").first.inner_text()
    images = page.locator(".plots img")
    assert images.count() == 2
    assert all(images.nth(i).evaluate("img => img.naturalWidth") > 0 for i in range(2))
    shot(page, "models")
    narrow = signed_in(Role.auditor, viewport=(390, 844))
    narrow.goto("/ui/list")
    shot(narrow, "list_narrow")


def test_a_case_officer_opens_a_charity_and_feedback_survives_a_reload(signed_in):
    page = signed_in(Role.admin)
    page.goto("/ui/list")
    number = table_rows(page)[0][1]

    page = signed_in(Role.case_officer)
    assert page.url.endswith("/ui/charities")
    assert page.get_by_role("link", name="Ranked list").count() == 0
    page.get_by_label("Charity number").fill(number)
    page.get_by_label("Charity number").press("Enter")
    page.wait_for_url(f"**/ui/charities/{number}")
    assert page.locator("svg.chart").count() == 2
    assert page.locator("dl.summary").inner_text().count("Rank") == 1

    note = f"Looked at the accounts for {number}; asked for the missing return."
    page.get_by_label("Outcome").select_option("reviewed_no_concern")
    page.get_by_label("Note").fill(note)
    page.get_by_role("button", name="Record feedback").click()
    page.wait_for_load_state()
    page.reload()
    feedback = page.locator("table.feedback").inner_text()
    assert note in feedback and "reviewed no concern" in feedback
    shot(page, "charity")


def test_a_role_without_access_gets_a_403_and_no_link(signed_in, base_url):
    page = signed_in(Role.analyst)
    assert page.locator("a[href^='/ui/charities']").count() == 0
    number = table_rows(page)[0][1]
    response = page.goto(f"/ui/charities/{number}")
    assert response.status == 403
    assert "Not available to your role" in page.get_by_role("heading", level=1).inner_text()

    officer = signed_in(Role.case_officer)
    assert officer.goto("/ui/list").status == 403


def test_a_bad_form_value_gets_an_html_page_naming_the_field(signed_in):
    page = signed_in(Role.analyst)
    response = page.goto("/ui/list?page_size=lots")
    assert response.status == 422
    assert response.headers["content-type"].startswith("text/html")
    assert "page_size" in page.get_by_role("alert").inner_text()
    assert page.get_by_role("link", name="Back to your pages").count() == 1
