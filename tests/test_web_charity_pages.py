"""The case officers' pages through TestClient: finding a charity by number (as typed) or by name, their
recent charities, the page of a charity under inquiry or removed from the register, and the feedback form's
defaults. Sessions expiring with feedback unsent are tests/test_web_security.py's.
"""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from risk_model.lists.membership import UNDER_INQUIRY
from serve.internal.db import Feedback
from serve.internal.security import Role
from serve.main import create_app
from tests.support import serve as support

pytestmark = pytest.mark.service

SITE = "https://testserver"
SAME_SITE = {"Origin": SITE}


@pytest.fixture(scope="module")
def started(world, tmp_path_factory):
    app = create_app(support.settings_for(world, support.database_url("sqlite", tmp_path_factory.mktemp("db"))))
    with TestClient(app, base_url=SITE) as client:
        yield client


def token_in(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]*)"', html)
    assert found is not None, "the page has no form token"
    return found.group(1)


@pytest.fixture
def officer(started) -> TestClient:
    """A browser signed in as a case officer, redirects not followed."""
    browser = TestClient(started.app, base_url=SITE, follow_redirects=False)
    token = token_in(browser.get("/ui/sign-in").text)
    response = browser.post("/ui/sign-in", headers=SAME_SITE,
                            data={"api_key": support.KEYS[Role.case_officer], "csrf_token": token})
    assert response.status_code == 303
    return browser


def register(started):
    return started.app.state.serving.current.data.register


def removed(started) -> tuple[str, str]:
    """A charity removed from the register before the current lists' date: its number and name."""
    rows = register(started)
    row = rows.loc[rows["ceased_date"].notna()].sort_values("charity_number").iloc[0]
    return row["charity_number"], row["charity_name"]


def under_inquiry(started) -> str:
    entries = started.app.state.serving.current.current.entries
    return sorted(n for n, (_, answer) in entries.items() if answer.review_list == UNDER_INQUIRY)[0]


def listed(started) -> str:
    return sorted(started.app.state.serving.current.current.entries)[0]


def found_links(html: str) -> list[str]:
    return re.findall(r'<li><a href="/ui/charities/(SC[0-9]+)">', html)


def alert(html: str) -> str:
    found = re.search(r'role="alert">([^<]*)<', html)
    return found.group(1) if found else ""


@pytest.mark.parametrize("typed", ["{number}", " {number} ", "{lower}", "{spaced}", "{lower_spaced}"])
def test_a_number_typed_with_spaces_or_in_lower_case_opens_the_charity(started, officer, typed):
    number = listed(started)
    text = typed.format(number=number, lower=number.lower(), spaced=f"{number[:2]} {number[2:]}",
                        lower_spaced=f"{number[:2].lower()} {number[2:5]} {number[5:]}")
    response = officer.get("/ui/charities", params={"search": text})
    assert response.status_code == 303 and response.headers["location"] == f"/ui/charities/{number}"
    assert officer.get(f"/ui/charities/{number.lower()}").headers["location"] == f"/ui/charities/{number}"


def test_seven_digits_are_a_number_and_other_scripts_digits_or_a_digit_short_are_refused(started, officer):
    response = officer.get("/ui/charities", params={"search": "sc 0444540"})
    # Read as SC0444540, the register's seven-digit form: not in this world's data, so said so.
    assert response.status_code == 404 and alert(response.text) == "No charity numbered SC0444540 is in the register data."
    number = listed(started)
    full_width = number[:2] + "".join(chr(ord(d) + 0xFEE0) for d in number[2:])
    for text in (full_width, number[:-1], f"{number}00"):
        response = officer.get("/ui/charities", params={"search": text})
        assert response.status_code == 422 and "SC and six or seven digits" in alert(response.text), text
        assert "location" not in response.headers


def test_a_name_search_finds_charities_on_any_list_or_neither_or_removed(started, officer):
    number, name = removed(started)
    inquiry = under_inquiry(started)
    rows = register(started)
    first = listed(started)
    name_of = rows.set_index("charity_number")["charity_name"]
    for wanted, wanted_name, standing in (
            (number, name, "Removed from the register on [0-9-]{10}<"),
            (inquiry, name_of[inquiry], "On neither list: under an open inquiry<"),
            (first, name_of[first], "On the (proactive reviews|concern triage) list, rank [0-9]+<")):
        response = officer.get("/ui/charities", params={"search": wanted_name.upper()})
        assert response.status_code == 200
        assert wanted in found_links(response.text)
        entry = re.search(rf'/ui/charities/{wanted}">.*?</li>', response.text, re.S).group(0)
        assert re.search(standing, entry), entry
    word = "Trust"
    response = officer.get("/ui/charities", params={"search": word.lower()})
    matching = rows.loc[rows["charity_name"].str.contains(word, case=False, regex=False)]
    assert f"{len(matching):,} charities match" in response.text
    assert len(found_links(response.text)) == min(len(matching), 50)
    assert "No charity matches" in officer.get("/ui/charities", params={"search": "no such charity name"}).text


def test_the_find_page_lists_the_charities_the_officer_opened_latest_first(started, officer):
    first, second = listed(started), under_inquiry(started)
    for number in (first, second, first, removed(started)[0]):
        assert officer.get(f"/ui/charities/{number}").status_code == 200
    recent = found_links(officer.get("/ui/charities").text)
    assert recent[:3] == [removed(started)[0], first, second]
    # Another key holder's reads are theirs.
    other = TestClient(started.app, base_url=SITE, follow_redirects=False)
    token = token_in(other.get("/ui/sign-in").text)
    other.post("/ui/sign-in", headers=SAME_SITE, data={"api_key": support.KEYS[Role.admin], "csrf_token": token})
    assert first not in found_links(other.get("/ui/charities").text)


def feedback_of(started, number: str) -> list[tuple[str, str, str]]:
    with started.app.state.db.sessions() as session:
        return [(f.outcome, f.note, f.recorded_by) for f in
                session.scalars(select(Feedback).where(Feedback.charity_number == number).order_by(Feedback.id))]


@pytest.mark.parametrize("which", ["removed", "under inquiry"])
def test_a_charity_removed_or_under_inquiry_has_a_page_with_its_feedback(started, officer, which):
    number = removed(started)[0] if which == "removed" else under_inquiry(started)
    page = officer.get(f"/ui/charities/{number}")
    assert page.status_code == 200
    standing = re.search(r'<h2 id="standing-h">([^<]*)</h2>', page.text).group(1)
    assert standing.startswith("Removed from the register on" if which == "removed" else "On neither review list")
    note = f"Checked the last accounts of the {which} charity."
    response = officer.post(f"/ui/charities/{number}/feedback", headers=SAME_SITE,
                            data={"outcome": "reviewed_no_concern", "note": note, "csrf_token": token_in(page.text)})
    assert response.status_code == 303
    assert note in officer.get(f"/ui/charities/{number}").text
    assert ("reviewed_no_concern", note, "case_officer-tester") in feedback_of(started, number)


def test_a_number_not_in_the_data_is_still_a_404(officer):
    assert officer.get("/ui/charities/SC999999").status_code == 404


def test_the_form_asks_for_an_outcome_and_a_note_only_where_one_is_needed(started, officer):
    number = listed(started)
    page = officer.get(f"/ui/charities/{number}").text
    select_html = re.search(r'<select id="outcome".*?</select>', page, re.S).group(0)
    assert re.findall(r"<option[^>]*selected[^>]*>([^<]*)<", select_html) == ["Choose an outcome"]
    assert "required" not in re.search(r"<textarea[^>]*>", page).group(0)
    token = token_in(page)

    response = officer.post(f"/ui/charities/{number}/feedback", headers=SAME_SITE,
                            data={"outcome": "", "note": "Typed before choosing.", "csrf_token": token})
    assert response.status_code == 422 and alert(response.text) == "Choose an outcome."
    assert "Typed before choosing.</textarea>" in response.text
    response = officer.post(f"/ui/charities/{number}/feedback", headers=SAME_SITE,
                            data={"outcome": "regulatory_action", "note": " ", "csrf_token": token})
    assert response.status_code == 422 and alert(response.text).startswith("A note is needed when the outcome is "
                                                                           "regulatory action")
    assert 'value="regulatory_action" selected' in response.text

    response = officer.post(f"/ui/charities/{number}/feedback", headers=SAME_SITE,
                            data={"outcome": "not_reviewed", "note": "", "csrf_token": token})
    assert response.status_code == 303
    assert ("not_reviewed", "", "case_officer-tester") in feedback_of(started, number)


def test_what_changed_compares_factors_only_for_a_charity_on_the_same_list_a_year_before(started, officer):
    entries = started.app.state.serving.current.current.entries
    by_list = {name: sorted(n for n, (_, answer) in entries.items() if answer.review_list == name)
               for name in ("triage", "proactive")}
    compared = "Factors that moved most since"
    moved = []
    for number in by_list["triage"][:40]:
        html = officer.get(f"/ui/charities/{number}").text
        if "it was on the proactive reviews list" in html or "it was on neither list (" in html:
            moved.append(number)
            assert compared not in html and "no factor is compared" in html
    # most of a year's triage list had no waiting concern a year before
    assert len(moved) > 10
    html = officer.get(f"/ui/charities/{by_list['proactive'][0]}").text
    assert compared in html and "no factor is compared" not in html
