"""The pages in a real browser: Playwright driving Debian's headless Chromium against the app on loopback.

Screenshots of the pages at desktop width and 390 px (sign-in, both review lists, a charity on a list and one
on neither, the models, a forged form refused) go to test-output/screenshots/ for a reviewer to look at.
"""

from __future__ import annotations

import csv
import http.server
import io
import json
import threading
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from risk_model.evaluate import pooled_precision_curve
from risk_model.findings import TARGET_LABEL
from risk_model.lists.membership import LIST_TITLES, WHY_ON_LIST
from serve.internal.security import Role
from tests.support import serve as support
from tests.support.browser import require_a_browser, shots

pytestmark = [pytest.mark.service, pytest.mark.browser]

require_a_browser()


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
    shots(page, "sign_in")
    context.close()

    page = signed_in(Role.analyst)
    assert page.url.endswith("/ui/list")
    assert page.get_by_role("heading", level=1).inner_text().startswith("Review lists as of 2021-12-31")
    assert page.get_by_role("navigation", name="Pages").get_by_role("link", name="Review lists").count() == 1
    cookie = next(c for c in page.context.cookies() if c["name"] == "risk_session")
    # Secure by default: Chromium still sends it back to http://127.0.0.1, as to localhost.
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax" and cookie["secure"]
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
    shots(page, "list_search")

    page.goto("/ui/list?top_k=10")
    ranks = [int(row[0]) for row in table_rows(page)]
    assert ranks == list(range(1, 11))
    assert "top 10 held on average" in page.locator(".capacity").inner_text()


def api_list(base_url: str, review_list: str, **params) -> list[dict]:
    """A review list's rows as the API gives them, for the pages to be checked against."""
    response = httpx.get(f"{base_url}/rankings", params={"list": review_list, "page_size": 1000, **params},
                         headers=support.headers(Role.analyst), trust_env=False, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()["items"]


def validated_positives(run_folder: Path, review_list: str, k: int) -> str:
    """Label positives the list's champion held in its top k, from the training run's out-of-fold
    predictions of that list on its own target label, as the list page prints them."""
    champion = json.loads((run_folder / "review_lists.json").read_text())["champions"][review_list]
    predictions = pd.read_parquet(run_folder / "predictions.parquet")
    mine = predictions.loc[(predictions["review_list"] == review_list) & (predictions["model"] == champion)]
    precision = pooled_precision_curve(mine, np.array([k]), outcome=TARGET_LABEL[review_list])["precision"].iloc[0]
    return f"held on average {precision * k:.1f} charities"


def training_run_folder(world, folder: Path) -> Path:
    """The champion's training run's artifacts, downloaded."""
    client = MlflowClient(tracking_uri=world.tracking_uri)
    run_id = client.get_model_version(support.REGISTERED_MODEL, world.champion_version).tags["parent_run_id"]
    for name in ("review_lists.json", "predictions.parquet"):
        client.download_artifacts(run_id, name, str(folder))
    return folder


def test_the_two_lists_are_tabs_that_keep_the_filters_each_with_its_own_capacity(signed_in, base_url, world,
                                                                                   tmp_path):
    run = training_run_folder(world, tmp_path)
    page = signed_in(Role.analyst)
    tabs = page.get_by_role("navigation", name="Review lists").get_by_role("link")
    assert tabs.count() == 2
    assert page.get_by_role("link", name=LIST_TITLES["proactive"], exact=False).get_attribute("aria-current") == "page"
    proactive = page.locator(".capacity").inner_text()
    assert f"{support.CAPACITIES['proactive']} reviews a year" in proactive
    assert f"top {support.CAPACITIES['proactive']} held on average" in proactive and "substantiated" in proactive
    assert validated_positives(run, "proactive", support.CAPACITIES["proactive"]) in proactive

    page.get_by_label("Band", exact=True).select_option("low")
    page.get_by_label("Show the top k").fill("200")
    page.get_by_role("button", name="Apply").click()
    assert "top 200 held on average" in page.locator(".capacity").inner_text()
    page.get_by_role("link", name=LIST_TITLES["triage"], exact=False).click()
    page.wait_for_load_state()
    # The filters carry over; the top k is each list's own, so it starts again at the list's capacity.
    assert "list=triage" in page.url and "band=low" in page.url and "top_k" not in page.url
    assert page.get_by_label("Band", exact=True).input_value() == "low"
    triage = page.locator(".capacity").inner_text()
    assert f"{support.CAPACITIES['triage']} reviews a year" in triage
    assert f"top {support.CAPACITIES['triage']} held on average" in triage and "substantiated_given_inquiry" in triage
    assert validated_positives(run, "triage", support.CAPACITIES["triage"]) in triage
    assert validated_positives(run, "proactive", support.CAPACITIES["triage"]) != validated_positives(
        run, "triage", support.CAPACITIES["triage"])
    assert WHY_ON_LIST["triage"] in page.locator(".list-intro").inner_text()
    rows = table_rows(page)
    expected = api_list(base_url, "triage", band="low")
    assert rows and [(int(r[0]), r[1]) for r in rows] == [(e["rank"], e["charity_number"]) for e in expected]
    # Ranks are the triage list's own: the whole list starts at 1.
    page.goto("/ui/list?list=triage")
    assert [int(r[0]) for r in table_rows(page)] == list(range(1, len(api_list(base_url, "triage")) + 1))
    shots(page, "list_triage")


@pytest.mark.parametrize("query", ["top_k=40&page_size=100&band=high", "list=triage&top_k=8"])
def test_the_csv_holds_the_rows_on_the_page(signed_in, query):
    page = signed_in(Role.analyst)
    page.goto(f"/ui/list?{query}")
    on_page = table_rows(page)
    assert on_page
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download CSV").click()
    rows = list(csv.DictReader(io.StringIO(Path(download_info.value.path()).read_text())))
    assert [(r["rank"], r["charity_number"], r["charity_name"], r["risk_band"]) for r in rows] == \
        [(row[0], row[1], row[2], row[7]) for row in on_page]
    assert {r["review_list"] for r in rows} == {"triage" if "list=triage" in query else "proactive"}


def test_screenshots_of_the_list_and_models_pages(signed_in):
    page = signed_in(Role.auditor)
    page.goto("/ui/list")
    assert page.locator("table.ranked tbody tr").count() == 50
    shots(page, "list")
    page.goto("/ui/models")
    assert "champion" in page.locator("table").first.inner_text()
    for name in ("proactive", "triage"):
        section = page.locator(f"section[aria-labelledby='list-{name}-h']")
        assert "Champion: logistic on" in section.inner_text()
        images = section.locator(".plots img")
        assert images.count() == 2
        assert all(images.nth(i).evaluate("img => img.naturalWidth") > 0 for i in range(2))
        folds = section.locator("table.folds tbody tr").all_inner_texts()
        assert len(folds) == 2 and "held out" in folds[-1] and "chose the champion" in folds[0]
        truth = section.locator("table.truth tbody").inner_text()
        assert "champion" in truth and "true_risk" in truth and "%–" in truth.replace(" ", "").replace("(", "")
    # Each list's figures stand on their own: none is put as a share of the true-risk ranking's.
    text = page.locator("main").inner_text().lower()
    assert "true-risk ranking" not in text and "of true_risk" not in text and "to true_risk" not in text
    shots(page, "models")
    narrow = signed_in(Role.auditor, viewport=(390, 844))
    narrow.goto("/ui/list")
    shots(narrow, "list_auditor")


def test_a_case_officer_opens_a_charity_and_feedback_survives_a_reload(signed_in):
    page = signed_in(Role.admin)
    page.goto("/ui/list")
    number = table_rows(page)[0][1]

    page = signed_in(Role.case_officer)
    assert page.url.endswith("/ui/charities")
    assert page.get_by_role("navigation", name="Pages").get_by_role("link", name="Review lists").count() == 0
    page.get_by_label("Name or number").fill(number)
    page.get_by_label("Name or number").press("Enter")
    page.wait_for_url(f"**/ui/charities/{number}")
    assert page.locator("svg.chart").count() == 2
    assert page.locator("dl.summary").inner_text().count("Rank") == 1
    standing = page.locator(".standing").inner_text()
    assert f"On the {LIST_TITLES['proactive']} list" in standing and WHY_ON_LIST["proactive"] in standing
    assert "Rank 1 of" in standing and f"capacity of {support.CAPACITIES['proactive']} a year" in standing

    note = f"Looked at the accounts for {number}; asked for the missing return."
    page.get_by_label("Outcome").select_option("reviewed_no_concern")
    page.get_by_label("Note").fill(note)
    page.get_by_role("button", name="Record feedback").click()
    page.wait_for_load_state()
    page.reload()
    feedback = page.locator("table.feedback").inner_text()
    assert note in feedback and "reviewed no concern" in feedback
    shots(page, "charity")


@pytest.mark.parametrize("status", ["triage", "under inquiry"])
def test_the_charity_page_says_which_list_the_charity_is_on_and_why(signed_in, web_app, base_url, status):
    if status == "triage":
        number = api_list(base_url, "triage")[2]["charity_number"]
    else:
        entries = web_app.state.serving.current.current.entries
        number = sorted(n for n, (_, answer) in entries.items() if answer.review_list == status)[0]
    page = signed_in(Role.case_officer)
    assert page.goto(f"/ui/charities/{number}").status == 200
    standing = page.locator(".standing").inner_text()
    assert WHY_ON_LIST[status] in standing
    if status == "triage":
        assert f"On the {LIST_TITLES['triage']} list" in standing and "Rank 3 of" in standing
        assert f"capacity of {support.CAPACITIES['triage']} a year" in standing
    else:
        assert f"On neither review list: {LIST_TITLES[status]}" in standing and "no rank" in standing
        assert page.locator("dl.summary div", has_text="Rank on its list").locator("dd").inner_text() == "–"
    shots(page, f"charity_{status.replace(' ', '_')}")


@pytest.fixture
def other_port_page():
    """A page served from another port of the same host (the same site, to SameSite) that sends a form."""
    servers = []

    def serve(html: str) -> str:
        body = html.encode()

        class Page(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Page)
        servers.append(server)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{server.server_address[1]}/"

    yield serve
    for server in servers:
        server.shutdown()
        server.server_close()


def test_a_form_sent_by_a_page_on_another_port_is_refused(signed_in, base_url, other_port_page):
    page = signed_in(Role.case_officer)
    number = api_list(base_url, "triage")[0]["charity_number"]
    note = "Sent by a page on another port."
    forged = other_port_page(f"""<!doctype html><form method="post" action="{base_url}/ui/charities/{number}/feedback">
        <input name="outcome" value="inquiry_opened"><input name="note" value="{note}"></form>
        <script>document.forms[0].submit()</script>""")
    with page.expect_response(f"**/ui/charities/{number}/feedback") as sent:
        page.goto(forged)
    assert sent.value.status == 403
    page.wait_for_load_state()
    assert page.get_by_role("heading", level=1).inner_text() == "This form was not sent from this site"
    shots(page, "form_refused")
    assert page.goto(f"{base_url}/ui/charities/{number}").status == 200
    assert note not in page.locator("table.feedback").inner_text()


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
