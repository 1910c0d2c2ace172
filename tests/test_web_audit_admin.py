"""The auditors' and admins' pages through TestClient: the access-log page and its CSV follow their filters
and are refused to other roles; the reload form needs its token and a confirmation and says what it did;
the models page links runs to MLflow only when a UI is configured, and gives Brier beside its skill."""

from __future__ import annotations

import csv
import io
import re
from datetime import date, timedelta

import pytest
from fastapi.testclient import TestClient
from mlflow.tracking import MlflowClient

from serve.internal.security import Role
from serve.main import create_app
from serve.web import runs
from tests.support import serve as support

pytestmark = pytest.mark.service

SITE = "https://testserver"
SAME_SITE = {"Origin": SITE}
OFFICER, ANALYST, AUDITOR = (support.headers(r) for r in (Role.case_officer, Role.analyst, Role.auditor))


@pytest.fixture(scope="module")
def db_url(tmp_path_factory) -> str:
    return support.database_url("sqlite", tmp_path_factory.mktemp("db"))


@pytest.fixture(scope="module")
def started(world, db_url):
    with TestClient(create_app(support.settings_for(world, db_url)), base_url=SITE) as client:
        yield client


def browser(app) -> TestClient:
    """A browser of the started app: its own cookies."""
    return TestClient(app, base_url=SITE, follow_redirects=False)


def token_in(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]*)"', html)
    assert found is not None, "the page has no form token"
    return found.group(1)


def signed_in(app, role: Role) -> TestClient:
    client = browser(app)
    token = token_in(client.get("/ui/sign-in").text)
    response = client.post("/ui/sign-in", data={"api_key": support.KEYS[role], "csrf_token": token}, headers=SAME_SITE)
    assert response.status_code == 303, response.text
    return client


def csv_of(response) -> list[dict]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"].startswith('attachment; filename="access_log_')
    return list(csv.DictReader(io.StringIO(response.text)))


def api_log(client: TestClient, **params) -> list[dict]:
    response = client.get("/access-log", params={"page_size": 1000, **params}, headers=AUDITOR)
    assert response.status_code == 200, response.text
    return response.json()["items"]


@pytest.fixture(scope="module")
def traffic(started) -> tuple[str, str]:
    """Known reads of two charities: a case officer's (200), an analyst's refused (403), and a request whose
    query a spreadsheet would run as a formula."""
    first, second = sorted(started.app.state.serving.current.current.entries)[:2]
    assert started.get(f"/charities/{first}", headers=OFFICER).status_code == 200
    assert started.get(f"/charities/{first}", headers=ANALYST).status_code == 403
    assert started.get(f"/charities/{second}", headers=OFFICER).status_code == 200
    assert started.get("/rankings?=HYPERLINK(1)", headers=ANALYST).status_code == 422
    return first, second


def rows_on_page(html: str) -> list[list[str]]:
    body = html.split('<table class="access-log stack">', 1)[1].split("</tbody>", 1)[0].split("<tbody>", 1)[1]
    return [[re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
            for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)]


def test_the_page_and_its_csv_hold_the_entries_of_a_charity_and_nothing_else(started, traffic):
    first, second = traffic
    auditor = signed_in(started.app, Role.auditor)
    page = auditor.get("/ui/access-log", params={"charity_number": first, "role": ""})
    assert page.status_code == 200
    rows = rows_on_page(page.text)
    expected = api_log(started, charity_number=first)
    assert len(rows) == len(expected) >= 2
    assert {row[4] for row in rows} == {first}
    assert {(row[1], row[5]) for row in rows} >= {("case_officer-tester", "200"), ("analyst-tester", "403")}
    assert f'href="/ui/access-log.csv?charity_number={first}' in page.text

    exported = csv_of(auditor.get("/ui/access-log.csv", params={"charity_number": first}))
    assert [(r["who"], r["path"], r["status"], r["charity_number"]) for r in exported] == \
        [(e["who"], e["path"], str(e["status"]), e["charity_number"]) for e in expected]
    assert second not in {r["charity_number"] for r in exported}


def test_role_status_and_days_narrow_the_csv(started, traffic):
    first, _ = traffic
    auditor = signed_in(started.app, Role.auditor)
    refused = csv_of(auditor.get("/ui/access-log.csv", params={"status": "4xx", "role": "analyst"}))
    assert refused and all(r["role"] == "analyst" and 400 <= int(r["status"]) < 500 for r in refused)
    assert (f"/charities/{first}", "403") in {(r["path"], r["status"]) for r in refused}
    exact = csv_of(auditor.get("/ui/access-log.csv", params={"status": "403", "who": "ANALYST-tester"}))
    assert exact and all(r["status"] == "403" and r["who"] == "analyst-tester" for r in exact)
    # The API's own route takes the same filters.
    assert [e["path"] for e in api_log(started, status="4xx", role="analyst")] == [r["path"] for r in refused]

    utc_today = api_log(started)[0]["at"][:10]  # the entries are stamped in UTC, as the filter reads days
    assert {r["at"][:10] for r in csv_of(auditor.get("/ui/access-log.csv", params={"since": utc_today}))} == \
        {utc_today}
    later = (date.fromisoformat(utc_today) + timedelta(days=1)).isoformat()
    assert csv_of(auditor.get("/ui/access-log.csv", params={"since": later})) == []
    earlier = (date.fromisoformat(utc_today) - timedelta(days=1)).isoformat()
    assert csv_of(auditor.get("/ui/access-log.csv", params={"until": earlier})) == []
    backwards = auditor.get("/ui/access-log", params={"since": later, "until": earlier})
    assert backwards.status_code == 422 and "check the form" in backwards.text


def test_a_query_a_spreadsheet_would_run_is_neutralised_in_the_csv(started, traffic):
    auditor = signed_in(started.app, Role.auditor)
    rows = csv_of(auditor.get("/ui/access-log.csv", params={"status": "422", "role": "analyst"}))
    queries = {r["query"] for r in rows if r["path"] == "/rankings"}
    assert "'=HYPERLINK(1)" in queries


def test_reading_the_page_and_the_csv_is_itself_logged(started, traffic):
    first, _ = traffic
    auditor = signed_in(started.app, Role.auditor)
    assert auditor.get("/ui/access-log", params={"charity_number": first}).status_code == 200
    assert auditor.get("/ui/access-log.csv", params={"charity_number": first}).status_code == 200
    reads = [e for e in api_log(started, who="auditor-tester") if e["path"].startswith("/ui/access-log")]
    page, export = (next(e for e in reads if e["path"] == path) for path in ("/ui/access-log", "/ui/access-log.csv"))
    assert page["status"] == export["status"] == 200 and f"charity_number={first}" in page["query"]
    assert '"export": "access_log"' in export["detail"] and '"rows": ' in export["detail"]


def test_paging_past_the_end_goes_to_the_last_page(started, traffic):
    first, _ = traffic
    auditor = signed_in(started.app, Role.auditor)
    last = len(api_log(started, charity_number=first))  # a charity's entries: reading the log adds none
    response = auditor.get("/ui/access-log", params={"charity_number": first, "page_size": 1, "page": 99_999})
    assert response.status_code == 303
    assert response.headers["location"] == f"/ui/access-log?charity_number={first}&page_size=1&page={last}"
    assert f"Page {last} of {last}" in auditor.get(response.headers["location"]).text


@pytest.mark.parametrize("role", [Role.analyst, Role.case_officer])
def test_other_roles_get_403_and_no_link(started, role):
    client = signed_in(started.app, role)
    assert client.get("/ui/access-log").status_code == 403
    assert client.get("/ui/access-log.csv").status_code == 403
    assert 'href="/ui/access-log"' not in client.get("/ui/models").text
    assert 'href="/ui/access-log"' in signed_in(started.app, Role.auditor).get("/ui/models").text


def test_the_reload_form_is_only_an_admins(started):
    auditor = signed_in(started.app, Role.auditor)
    assert 'href="/ui/models/reload"' not in auditor.get("/ui/models").text
    assert auditor.get("/ui/models/reload").status_code == 403
    token = token_in(auditor.get("/ui/models").text)
    refused = auditor.post("/ui/models/reload", data={"csrf_token": token, "confirm": "yes"}, headers=SAME_SITE)
    assert refused.status_code == 403
    admin = signed_in(started.app, Role.admin)
    assert 'href="/ui/models/reload"' in admin.get("/ui/models").text


def test_a_reload_needs_its_token_from_this_site_and_its_confirmation(started, world):
    admin = signed_in(started.app, Role.admin)
    served = started.app.state.serving.current
    confirm = admin.get("/ui/models/reload")
    assert confirm.status_code == 200 and "change nothing" in confirm.text
    token = token_in(confirm.text)
    for data, headers in (({"confirm": "yes"}, SAME_SITE), ({"confirm": "yes", "csrf_token": "guessed"}, SAME_SITE),
                          ({"confirm": "yes", "csrf_token": token}, {"Origin": "https://evil.example"})):
        assert admin.post("/ui/models/reload", data=data, headers=headers).status_code == 403
    unconfirmed = admin.post("/ui/models/reload", data={"csrf_token": token}, headers=SAME_SITE)
    assert unconfirmed.status_code == 422 and "not confirmed" in unconfirmed.text
    done = admin.post("/ui/models/reload", data={"csrf_token": token, "confirm": "yes"}, headers=SAME_SITE)
    assert done.status_code == 200
    assert "Reloaded: unchanged" in done.text
    assert f"still version <strong>{world.champion_version}</strong>" in done.text
    assert started.app.state.serving.current is served


def test_a_reload_to_a_new_champion_says_so_and_a_failed_one_says_why(own_world, tmp_path):
    world = own_world
    with TestClient(create_app(support.settings_for(world, f"sqlite:///{tmp_path / 'service.db'}")),
                    base_url=SITE) as started:
        admin = signed_in(started.app, Role.admin)
        new = support.promote_other_model(world)
        confirm = admin.get("/ui/models/reload")
        assert f"A reload will switch to version {new}" in confirm.text
        token = token_in(confirm.text)
        done = admin.post("/ui/models/reload", data={"csrf_token": token, "confirm": "yes"}, headers=SAME_SITE)
        assert done.status_code == 200, done.text
        assert f"now serves version <strong>{new}</strong>" in done.text
        assert f"before: version {world.champion_version}" in done.text
        assert started.app.state.serving.current.model.version == new

        MlflowClient(tracking_uri=world.tracking_uri).delete_registered_model_alias(support.REGISTERED_MODEL,
                                                                                    "champion")
        failed = admin.post("/ui/models/reload", data={"csrf_token": token, "confirm": "yes"}, headers=SAME_SITE)
        assert failed.status_code == 503
        assert "Reload failed" in failed.text and f"still serves version {new}" in failed.text
        assert started.app.state.serving.current.model.version == new


def test_a_service_serving_no_model_offers_an_admin_the_reload_page(own_world, tmp_path):
    MlflowClient(tracking_uri=own_world.tracking_uri).delete_registered_model_alias(support.REGISTERED_MODEL,
                                                                                    "champion")
    with TestClient(create_app(support.settings_for(own_world, f"sqlite:///{tmp_path / 'service.db'}")),
                    base_url=SITE) as started:
        assert started.app.state.serving.current is None
        admin, auditor = (signed_in(started.app, role).get("/ui/models") for role in (Role.admin, Role.auditor))
        assert admin.status_code == auditor.status_code == 503
        assert 'href="/ui/models/reload"' in admin.text and "/ui/models/reload" not in auditor.text


def test_the_mlflow_link_appears_only_when_a_ui_is_configured(started, world, db_url):
    plain = signed_in(started.app, Role.auditor).get("/ui/models").text
    run = runs.version_training_run(world.tracking_uri, support.REGISTERED_MODEL, world.champion_version)
    assert "#/experiments/" not in plain and "127.0.0.1:5000" not in plain
    assert f'<code title="{run.run_id}">{run.run_id[:8]}</code>' in plain

    settings = support.settings_for(world, db_url, web_mlflow_ui_url="https://mlflow.example.org/")
    with TestClient(create_app(settings), base_url=SITE) as linked:
        page = signed_in(linked.app, Role.auditor).get("/ui/models").text
    assert f'href="https://mlflow.example.org/#/experiments/{run.experiment_id}/runs/{run.run_id}"' in page


def test_brier_is_given_to_four_figures_beside_its_skill(started, world):
    page = signed_in(started.app, Role.auditor).get("/ui/models").text
    run = runs.version_training_run(world.tracking_uri, support.REGISTERED_MODEL, world.champion_version)
    comparison = runs.model_comparison(world.tracking_uri, run.run_id)
    row = comparison.loc[comparison["review_list"] == "proactive"].iloc[0]
    assert f'{row["holdout_brier"]:.4g}' in page and f'{row["holdout_brier_skill"] * 100:+.1f}%' in page
    # two in each list's candidates, one in its folds
    assert page.count('<th scope="col" class="num">Brier skill</th>') >= 6
