"""The API fuzzed from its own OpenAPI schema: schemathesis generates the requests, operation by operation.

Each operation gets schemathesis's coverage cases (boundary values, each constraint broken once,
other HTTP methods), then 25 Hypothesis-generated requests, valid and invalid, all sent with an
admin's key so that they reach the handlers. No answer may be a 5xx, and each must be one the
operation declares, with the declared content type and body: the 422s, and the 400/401/403/404
refusals the routes declare. A few valid requests sent without a key must get the declared 401.

Every operation is fuzzed, the writing ones included: feedback goes to the app's own SQLite
database in a pytest temporary folder, and reload is a cheap no-op because the champion does not
change during the run. Runs are deterministic: a fixed seed, derandomised, no example database.

How it is wired, and why:
- The schema comes from an app that is never started (the routes do not depend on the settings).
  The requests go to a started app on the small trained world of `tests/support/serve.py`, through the
  TestClient that started it: the app must get its requests on the event loop it started on (the
  scorer's micro-batcher queue belongs to that loop), and schemathesis's own ASGI client would send
  them on a loop of its own.
- `schema.parametrize()` builds the coverage cases while pytest collects, and Hypothesis writes
  its caches (Unicode tables, our modules' constants) under ./.hypothesis as it does; and
  `schemathesis.pytest.from_fixture` fails under pytest 9. So each operation is a pytest case that
  builds schemathesis's test for it when it runs, once Hypothesis's files point at a temporary folder.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import configuration
from schemathesis.checks import not_a_server_error
from schemathesis.pytest.lazy import get_all_tests
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from serve.internal.security import Role
from serve.main import create_app
from serve.settings import Settings
from tests.support import serve as support

pytestmark = pytest.mark.service

SEED = 20240601
# What every answer is held to. Not among them: schemathesis's checks that send requests of their
# own (they would miss an app run by TestClient; the keyless test does the auth one's job), and the
# negative/positive data checks, because the service deliberately takes more than the schema says
# (dates as dd/mm/yyyy or "31 March 2019", money as "£12,500", blanks as missing) and refuses some
# schema-valid input with a 422 (an as-of date outside the data).
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          response_headers_conformance]


def api_schema(max_examples: int, mode: str = "all", coverage: bool = True) -> schemathesis.BaseSchema:
    """The service's OpenAPI schema, with deterministic, bounded generation that leaves the API key to us."""
    config = schemathesis.Config.from_dict({
        "seed": SEED,
        "generation": {"max-examples": max_examples, "mode": mode, "deterministic": True, "database": "none",
                       "with-security-parameters": False},
        "phases": {"coverage": {"enabled": coverage}},
    })
    # model_construct: the defaults, without reading RISK_SERVE_* variables; this app is never started.
    return schemathesis.openapi.from_dict(create_app(Settings.model_construct()).openapi(), config=config)


def labels(schema: schemathesis.BaseSchema) -> list[str]:
    return [result.ok().label for result in schema.get_all_operations()]


FUZZED = api_schema(max_examples=15)
# Valid requests only and no coverage cases: a body that cannot be read is refused before the key is
# looked at. /health is left out because it needs no key (test_serve_api calls it without one).
KEYLESS = api_schema(max_examples=5, mode="positive", coverage=False).exclude(path="/health")


@pytest.fixture(scope="module", autouse=True)
def hypothesis_files_in_tmp(tmp_path_factory):
    """Hypothesis caches what it finds (Unicode tables, constants in our modules) under ./.hypothesis
    even without an example database: keep those in a temporary folder."""
    configuration.set_hypothesis_home_dir(tmp_path_factory.mktemp("hypothesis"))
    yield
    configuration.set_hypothesis_home_dir(None)


@pytest.fixture(scope="module")
def client(world, tmp_path_factory):
    app = create_app(support.settings_for(world, support.database_url("sqlite", tmp_path_factory.mktemp("fuzz_db"))))
    with TestClient(app) as client:
        yield client


def send(client: TestClient, case: schemathesis.Case, headers: dict[str, str] | None):
    """Send a generated request through the app's TestClient."""
    sent = case.as_transport_kwargs(base_url=str(client.base_url), headers=headers)
    body = {"json": sent["json"]} if "json" in sent else {"content": sent["data"]} if "data" in sent else {}
    return client.request(sent["method"], sent["url"], params=sent["params"], headers=dict(sent["headers"]), **body)


def fuzz(schema: schemathesis.BaseSchema, label: str, check: Callable[[schemathesis.Case], None]) -> None:
    """Run schemathesis's test of one operation (every phase the schema's config enables) on `check`."""
    (built,) = get_all_tests(schema=schema.include(name=label), test_func=check, settings=None, given_kwargs=None)
    _, test = built.ok()
    test()


@pytest.mark.parametrize("label", labels(FUZZED))
def test_no_server_error_and_every_answer_as_declared(label, client):
    def check(case: schemathesis.Case) -> None:
        case.validate_response(send(client, case, support.headers(Role.admin)), checks=CHECKS)

    fuzz(FUZZED, label, check)


@pytest.mark.parametrize("label", labels(KEYLESS))
def test_without_a_key_every_call_is_the_declared_401(label, client):
    def check(case: schemathesis.Case) -> None:
        response = send(client, case, headers=None)
        assert response.status_code == 401, f"{response.status_code} {response.text[:300]}"
        case.validate_response(response, checks=CHECKS)

    fuzz(KEYLESS, label, check)
