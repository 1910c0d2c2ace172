"""Shared set-up for the browser tests (no tests here): the app on loopback once a session, Debian's headless
Chromium, a signed-in page per role, and screenshots at desktop and phone widths.

The fixtures reach every test through `pytest_plugins` in tests/conftest.py. A browser test module skips
itself, with the reason, when Playwright or Chromium is missing (`require_a_browser()`).
"""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import pytest
import uvicorn

from serve.internal.security import Role
from serve.main import create_app
from tests.support import serve as support
from tests.support.hardening import free_port

CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"
DESKTOP = (1280, 800)
PHONE = (390, 844)


def require_a_browser():
    """Playwright's sync API, or the calling module skipped with what to install."""
    api = pytest.importorskip("playwright.sync_api", reason="the browser tests need the playwright package "
                                                            "(pip install -e '.[test]')")
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        pytest.skip(f"the browser tests need Debian's Chromium at {CHROMIUM} (apt-get install chromium)",
                    allow_module_level=True)
    return api


@pytest.fixture(scope="session")
def web_app(world, tmp_path_factory):
    """The service on the test world with a SQLite database of its own, shared by every browser test."""
    url = support.database_url("sqlite", tmp_path_factory.mktemp("web_db"))
    return create_app(support.settings_for(world, url))


@pytest.fixture(scope="session")
def base_url(web_app):
    """The app served by uvicorn on a free loopback port, for the session."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(web_app, host="127.0.0.1", port=port, log_level="warning"))
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
    """Debian's Chromium, headless, launched once for each test file that drives it and stopped after it:
    while Playwright's sync API runs, its event loop is the main thread's running loop, so a later file's
    `asyncio.run` in the same process would fail."""
    api = require_a_browser()
    with api.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        yield launched
        launched.close()


def sign_in_page(page, role: Role) -> None:
    """Fill in the sign-in form on the page it is on with the role's key and submit it."""
    page.get_by_label("API key").fill(support.KEYS[role])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


@pytest.fixture
def signed_in(browser, base_url):
    """A fresh browser context signed in with a role's key (1280x800 unless a viewport is given)."""
    contexts = []

    def sign_in(role: Role, viewport=DESKTOP):
        context = browser.new_context(base_url=base_url, viewport={"width": viewport[0], "height": viewport[1]},
                                      accept_downloads=True)
        contexts.append(context)
        page = context.new_page()
        page.goto("/ui/")
        assert "/ui/sign-in" in page.url
        sign_in_page(page, role)
        return page

    yield sign_in
    for context in contexts:
        context.close()


def shot(page, name: str) -> Path:
    """A full-page screenshot in test-output/screenshots/ at the page's current width."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def shots(page, name: str) -> tuple[Path, Path]:
    """Screenshots of the page at desktop width and at 390 px (name.png, name_390.png); the page is left at
    the width it had. At 390 px nothing may be wider than the screen (no sideways scrolling)."""
    before = page.viewport_size
    page.set_viewport_size({"width": DESKTOP[0], "height": DESKTOP[1]})
    desktop = shot(page, name)
    page.set_viewport_size({"width": PHONE[0], "height": PHONE[1]})
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    phone = shot(page, f"{name}_390")
    page.set_viewport_size(before)
    assert overflow <= 1, f"{name} at {PHONE[0]} px is {overflow} px wider than the screen"
    return desktop, phone
