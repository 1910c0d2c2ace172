"""A champion that cannot be loaded: the service starts, says why on /health/detail, and keeps what it had."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from mlflow.tracking import MlflowClient

from risk_model.lists.records import records_from_tables
from serve.internal.security import Role
from serve.main import create_app
from tests.support import hardening
from tests.support import serve as support

pytestmark = pytest.mark.service

ADMIN = support.headers(Role.admin)


def one_record(client: TestClient) -> dict:
    serving = client.app.state.serving.current
    number = sorted(serving.current.entries)[0]
    return records_from_tables(serving.data.register, serving.data.returns, serving.data.case_log, [number])[number]


@pytest.mark.parametrize("how", ["missing", "corrupt"])
def test_a_broken_new_champion_fails_the_reload_and_the_old_one_keeps_scoring(own_world, tmp_path, how):
    world = own_world
    with TestClient(create_app(support.settings_for(world, f"sqlite:///{tmp_path / 'service.db'}"))) as client:
        record = one_record(client)
        assert client.get("/health/detail", headers=ADMIN).json() == {"status": "ok",
                                                                      "model_version": world.champion_version}
        broken = hardening.register_unloadable_version(world.tracking_uri, support.REGISTERED_MODEL,
                                                       "serve-tests", how)
        refused = client.post("/models/reload", headers=ADMIN)
        support.restore_champion(world)
        assert broken != world.champion_version
        assert refused.status_code == 503, refused.text
        assert "cannot be loaded" in refused.json()["detail"] and "previous version" in refused.json()["detail"]

        health = client.get("/health")
        assert health.status_code == 200  # a model is still served, so traffic keeps coming
        assert health.json() == {"status": "unhealthy"}  # and why only to a key holder
        body = client.get("/health/detail", headers=ADMIN).json()
        assert body["status"] == "unhealthy" and body["model_version"] == world.champion_version
        assert "cannot be loaded" in body["reason"]

        scored = client.post("/score", json={"charities": [record]}, headers=ADMIN)
        assert scored.status_code == 200, scored.text
        assert scored.json()["model"]["version"] == world.champion_version
        assert client.get("/rankings", params={"page_size": 3}, headers=ADMIN).status_code == 200

        # The registered champion is loadable again: a reload clears the problem.
        recovered = client.post("/models/reload", headers=ADMIN)
        assert recovered.status_code == 200 and recovered.json()["changed"] is False
        assert client.get("/health/detail", headers=ADMIN).json() == {"status": "ok",
                                                                      "model_version": world.champion_version}


def test_a_champion_that_is_not_review_lists_is_refused_and_the_old_one_kept(own_world, tmp_path):
    world = own_world
    with TestClient(create_app(support.settings_for(world, f"sqlite:///{tmp_path / 'service.db'}"))) as client:
        plain = hardening.register_unloadable_version(world.tracking_uri, support.REGISTERED_MODEL,
                                                      "serve-tests", "not review lists")
        refused = client.post("/models/reload", headers=ADMIN)
        assert refused.status_code == 503, refused.text
        assert f"version {plain}" in refused.json()["detail"] and "not the review lists" in refused.json()["detail"]
        health = client.get("/health/detail", headers=ADMIN).json()
        assert health["status"] == "unhealthy" and health["model_version"] == world.champion_version
        page = client.get("/rankings", params={"list": "triage", "page_size": 1}, headers=ADMIN).json()
        assert page["model"]["version"] == world.champion_version
        assert page["capacity"] == support.CAPACITIES["triage"]


def test_a_service_with_no_champion_starts_unhealthy_and_recovers_on_reload(own_world, tmp_path):
    world = own_world
    registry = MlflowClient(tracking_uri=world.tracking_uri)
    app = create_app(support.settings_for(world, f"sqlite:///{tmp_path / 'service.db'}"))
    registry.delete_registered_model_alias(support.REGISTERED_MODEL, "champion")
    with TestClient(app) as client:
        health = client.get("/health")
        assert health.status_code == 503 and health.json() == {"status": "unhealthy"}
        detail = client.get("/health/detail", headers=ADMIN)
        assert detail.status_code == 200  # answered while no model is served
        assert detail.json()["status"] == "unhealthy" and "model_version" not in detail.json()
        assert "no 'champion' version" in detail.json()["reason"]

        # What needs a model says so; what does not still works.
        ranked = client.get("/rankings", headers=ADMIN)
        assert ranked.status_code == 503 and "no model is being served" in ranked.json()["detail"]
        # The key is checked first, and the refused call is in the access log like any other.
        assert client.get("/rankings").status_code == 401
        log = client.get("/access-log", headers=ADMIN)
        assert log.status_code == 200
        assert [(e["path"], e["status"], e["who"]) for e in log.json()["items"] if e["path"] == "/rankings"] == [
            ("/rankings", 401, "anonymous"), ("/rankings", 503, "admin-tester")]

        support.restore_champion(world)
        reloaded = client.post("/models/reload", headers=ADMIN)
        assert reloaded.status_code == 200, reloaded.text
        assert reloaded.json()["previous_version"] is None and reloaded.json()["changed"] is True
        assert client.get("/health/detail", headers=ADMIN).json() == {"status": "ok",
                                                                      "model_version": world.champion_version}
        assert client.get("/rankings", params={"page_size": 1}, headers=ADMIN).status_code == 200


def test_a_service_process_with_a_corrupt_champion_starts_and_reports_why(own_world, tmp_path):
    world = own_world
    settings = support.settings_for(world, f"sqlite:///{tmp_path / 'service.db'}")
    hardening.register_unloadable_version(world.tracking_uri, support.REGISTERED_MODEL, "serve-tests", "corrupt")
    with hardening.ServiceProcess(settings, tmp_path / "service.log").start(wait_for=(503,)) as service:
        import httpx

        assert httpx.get(f"{service.url}/health", timeout=10).json() == {"status": "unhealthy"}
        body = httpx.get(f"{service.url}/health/detail", headers=ADMIN, timeout=10).json()
        assert body["status"] == "unhealthy" and "cannot be loaded" in body["reason"]
        assert service.process.poll() is None
