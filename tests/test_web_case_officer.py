"""A case officer's journey in a real browser: find a charity by name, open it, type feedback, lose the session
before sending it, sign in again and send what was kept; the find page then lists the charity among their
recent ones. Screenshots of the find page, a search, a charity's page (and its form offering the kept
feedback), and the pages of a removed charity and one under inquiry, at desktop and 390 px, go to
test-output/screenshots/.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from risk_model.lists.membership import UNDER_INQUIRY
from serve.internal.db import Feedback, WebSession, utc_now
from serve.internal.security import Role, hash_api_key
from tests.support.browser import require_a_browser, shots, sign_in_page

pytestmark = [pytest.mark.service, pytest.mark.browser]

require_a_browser()


def a_named_charity(web_app, review_list: str | None = None, removed: bool = False) -> tuple[str, str]:
    """A charity whose name no other charity's holds (number, name): on `review_list`, or removed."""
    serving = web_app.state.serving.current
    register = serving.data.register
    names = register["charity_name"].str.lower()
    if removed:
        numbers = sorted(register.loc[register["ceased_date"].notna(), "charity_number"])
    else:
        numbers = sorted(n for n, (_, answer) in serving.current.entries.items() if answer.review_list == review_list)
    for number in numbers:
        name = register.loc[register["charity_number"] == number, "charity_name"].iloc[0]
        if names.str.contains(name.lower(), regex=False).sum() == 1:
            return number, name
    raise AssertionError("no charity with a name of its own")


def expire(web_app, page) -> None:
    """End the page's session as the idle timeout would."""
    cookie = next(c["value"] for c in page.context.cookies() if c["name"] == "risk_session")
    with web_app.state.db.sessions.begin() as session:
        session.execute(update(WebSession).where(WebSession.id_sha256 == hash_api_key(cookie))
                        .values(last_seen_at=utc_now() - web_app.state.web_sessions.idle))


def stored_notes(web_app, number: str) -> list[str]:
    with web_app.state.db.sessions() as session:
        return list(session.scalars(select(Feedback.note).where(Feedback.charity_number == number)))


def test_a_case_officer_finds_a_charity_by_name_and_feedback_survives_a_session_expiry(signed_in, web_app):
    number, name = a_named_charity(web_app, "proactive")
    page = signed_in(Role.case_officer)
    assert page.url.endswith("/ui/charities")
    page.get_by_label("Name or number").fill(name.lower())
    page.get_by_role("button", name="Find").click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", level=2).first.inner_text().startswith("1 charity matches")
    page.get_by_role("link", name=name).click()
    page.wait_for_url(f"**/ui/charities/{number}")
    assert page.get_by_role("heading", level=1).inner_text().startswith(name)
    assert page.get_by_label("Outcome").input_value() == ""
    shots(page, "case_officer_charity")

    note = f"Asked {name} for the missing return; trustees to reply within 14 days."
    page.get_by_label("Outcome").select_option("inquiry_opened")
    page.get_by_label("Note").fill(note)
    expire(web_app, page)
    page.get_by_role("button", name="Record feedback").click()
    page.wait_for_load_state()
    assert "/ui/sign-in" in page.url
    assert f"your feedback on {number} was not" in page.get_by_role("status").inner_text()
    assert note not in stored_notes(web_app, number)

    sign_in_page(page, Role.case_officer)
    page.wait_for_url(f"**/ui/charities/{number}#feedback")
    assert "Your feedback was not yet saved" in page.locator("#feedback").get_by_role("status").inner_text()
    assert page.get_by_label("Note").input_value() == note
    assert page.get_by_label("Outcome").input_value() == "inquiry_opened"
    assert note not in page.locator("table.feedback").inner_text()
    shots(page, "case_officer_feedback_kept")
    page.get_by_role("button", name="Record feedback").click()
    page.wait_for_load_state()
    assert note in page.locator("table.feedback").inner_text()
    assert page.locator("#feedback").get_by_role("status").count() == 0
    assert stored_notes(web_app, number).count(note) == 1

    page.goto("/ui/charities")
    recent = page.get_by_role("list", name="The charities you opened lately, latest first")
    assert recent.get_by_role("link").first.inner_text() == name
    shots(page, "case_officer_find")


def test_a_number_typed_loosely_opens_the_charity(signed_in, web_app):
    number, _ = a_named_charity(web_app, "triage")
    page = signed_in(Role.case_officer)
    page.get_by_label("Name or number").fill(f"{number[:2].lower()} {number[2:]}")
    page.get_by_role("button", name="Find").click()
    page.wait_for_url(f"**/ui/charities/{number}")
    page.goto("/ui/charities?search=Trust")
    shots(page, "case_officer_search")


@pytest.mark.parametrize("which", ["removed", "under inquiry"])
def test_a_removed_or_under_inquiry_charity_has_a_page_that_takes_feedback(signed_in, web_app, which):
    number, name = a_named_charity(web_app, UNDER_INQUIRY, removed=which == "removed")
    page = signed_in(Role.case_officer)
    assert page.goto(f"/ui/charities/{number}").status == 200
    standing = page.locator(".standing").inner_text()
    assert ("Removed from the register on" if which == "removed" else "under an open inquiry") in standing
    page.get_by_label("Outcome").select_option("not_reviewed")
    page.get_by_role("button", name="Record feedback").click()
    page.wait_for_load_state()
    assert "not reviewed" in page.locator("table.feedback").inner_text()
    shots(page, f"case_officer_{which.replace(' ', '_')}")
