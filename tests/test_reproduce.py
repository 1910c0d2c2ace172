"""Auditors reproduce a run: unchanged, it matches check by check; tampered, the change is named."""

import json
import shutil
from pathlib import Path

import mlflow
import pytest
import yaml
from mlflow.tracking import MlflowClient
from typer.testing import CliRunner

from risk_model.cli.main import app
from risk_model.simulate.world import SimulationConfig, simulate, write_world
from risk_model.tracking import manifest as manifest_module
from risk_model.tracking.manifest import Check, compare

TINY_EXPERIMENT = {
    "config_version": 2,
    "seed": 5,
    "lists": {"proactive": {"capacity": 20, "labels": ["late_return"]},
              "triage": {"capacity": 5, "labels": ["substantiated_given_inquiry"]}},
    "splits": {"first_as_of_year": 2015, "n_folds": 2},
    "models": [
        {"name": "rule_baseline", "kind": "rule"},
        {"name": "lightgbm", "kind": "lightgbm", "params": {"n_estimators": 30, "num_leaves": 7, "max_depth": 3}},
    ],
    "tracking": {"experiment": "reproduce", "registered_model": "reproduce-risk"},
}
CLEAN_CODE = {"commit": "0123456789abcdef0123456789abcdef01234567", "dirty": False}


@pytest.fixture()
def clean_checkout(monkeypatch):
    """The test tree may carry uncommitted work; code identity is tested on its own below."""
    monkeypatch.setattr(manifest_module, "code_version", lambda repo_dir=None: dict(CLEAN_CODE))


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    work = tmp_path_factory.mktemp("reproduce")
    data = work / "data"
    write_world(simulate(SimulationConfig(charities=1_500, first_year=2012, last_year=2020, seed=9)), data)
    config = work / "experiment.yaml"
    config.write_text(yaml.safe_dump(TINY_EXPERIMENT))
    uri = f"sqlite:///{work / 'mlflow.db'}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(manifest_module, "code_version", lambda repo_dir=None: dict(CLEAN_CODE))
        result = CliRunner().invoke(app, ["train", str(data), "--config", str(config), "--tracking-uri", uri,
                                          "--store", str(work / "mlruns")])
    assert result.exit_code == 0, result.output + repr(result.exception)
    mlflow.set_tracking_uri(uri)
    experiment = MlflowClient().get_experiment_by_name("reproduce")
    parent = next(r for r in MlflowClient().search_runs([experiment.experiment_id])
                  if r.data.tags.get("job") == "train" and "mlflow.parentRunId" not in r.data.tags)
    return work, data, uri, parent.info.run_id


def _reproduce(uri, run_id, *extra):
    return CliRunner().invoke(app, ["reproduce", run_id, "--tracking-uri", uri, *extra], terminal_width=200)


def test_manifest_records_what_produced_the_run(trained_run):
    _, data, uri, run_id = trained_run
    mlflow.set_tracking_uri(uri)
    recorded = mlflow.artifacts.load_dict(f"runs:/{run_id}/manifest.json")
    assert set(recorded["data"]["files"]) >= {"register.csv", "returns.csv", "case_log.csv"}
    assert recorded["data"]["files"]["returns.csv"] == manifest_module.file_sha256(data / "returns.csv")
    assert set(recorded["data"]["tables"]) == {"register", "returns", "case_log"}
    assert recorded["config"]["content"]["seed"] == 5
    assert recorded["code"] == CLEAN_CODE
    assert recorded["packages"]["installed"]["lightgbm"]
    assert recorded["seeds"]["experiment"] == 5
    assert recorded["platform"]["python"]
    assert len(recorded["ranking_sha256"]) == 64


def test_unchanged_run_reproduces(trained_run, clean_checkout):
    _, _, uri, run_id = trained_run
    result = _reproduce(uri, run_id)
    assert result.exit_code == 0, result.output
    assert "reproduced" in result.output
    assert "DIFFERS" not in result.output


def test_one_tampered_input_row_is_named(trained_run, clean_checkout, tmp_path):
    _, data, uri, run_id = trained_run
    tampered = tmp_path / "tampered"
    shutil.copytree(data, tampered)
    lines = (tampered / "returns.csv").read_text().splitlines()
    fields = lines[5].split(",")
    fields[3] = '"123456"'  # Total income of one return
    lines[5] = ",".join(fields)
    (tampered / "returns.csv").write_text("\n".join(lines) + "\n")
    result = _reproduce(uri, run_id, "--data", str(tampered))
    assert result.exit_code == 1
    assert "data files" in result.output and "returns.csv" in result.output
    assert "not reproduced" in result.output


def test_a_tampered_config_is_named(trained_run, clean_checkout, tmp_path):
    _, _, uri, run_id = trained_run
    mlflow.set_tracking_uri(uri)
    recorded = mlflow.artifacts.load_dict(f"runs:/{run_id}/manifest.json")
    recorded["config"]["content"]["lists"]["proactive"]["capacity"] = 21
    local = Path(mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="manifest.json"))
    # Rewrite the stored artifact itself, as someone editing the run's record would.
    store_copy = Path(MlflowClient().get_run(run_id).info.artifact_uri.removeprefix("file://")) / "manifest.json"
    store_copy.write_text(json.dumps(recorded))
    try:
        result = _reproduce(uri, run_id)
    finally:
        store_copy.write_text(local.read_text())
    assert result.exit_code == 1
    assert "config" in result.output and "DIFFERS" in result.output


def test_a_changed_package_version_is_named(trained_run, clean_checkout, monkeypatch):
    _, _, uri, run_id = trained_run
    real = manifest_module.installed_packages()
    monkeypatch.setattr(manifest_module, "installed_packages", lambda: {**real, "lightgbm": "0.0.1"})
    result = _reproduce(uri, run_id)
    assert result.exit_code == 1
    assert "packages" in result.output and "lightgbm" in result.output and "0.0.1" in result.output


def _manifest(**overrides):
    base = {"data": {"files": {"a.csv": "1"}, "tables": {"register": "2"}},
            "config": {"hash": "c1"}, "code": dict(CLEAN_CODE), "packages": {"installed": {"x": "1.0"}},
            "platform": {"python": "3.11"}, "ranking_sha256": "r1"}
    for key, value in overrides.items():
        base[key] = value
    return base


def test_compare_names_each_kind_of_difference():
    same = compare(_manifest(), _manifest())
    assert all(c.ok for c in same)
    checks = {c.name: c for c in compare(_manifest(), _manifest(
        code={"commit": "fedcba9876543210", "dirty": True}, ranking_sha256="r2", config={"hash": "c2"}))}
    assert not checks["code"].ok and "uncommitted" in checks["code"].detail
    assert not checks["predictions"].ok
    assert not checks["config"].ok
    assert checks["data files"].ok
    platform = {c.name: c for c in compare(_manifest(), _manifest(platform={"python": "3.12"}))}["platform"]
    assert isinstance(platform, Check) and not platform.ok and not platform.blocking


def test_model_card_states_the_runs_own_figures(trained_run):
    import pandas as pd

    _, _, uri, run_id = trained_run
    mlflow.set_tracking_uri(uri)
    client = MlflowClient()
    card = Path(mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="model_card.md")).read_text()
    page = Path(mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="model_card.html")).read_text()
    comparison = pd.read_csv(mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="model_comparison.csv"))
    findings = pd.read_csv(mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="truth/findings.csv"))
    lists = mlflow.artifacts.load_dict(f"runs:/{run_id}/review_lists.json")
    version = client.get_model_version_by_alias("reproduce-risk", "champion")
    assert f"# Model card: reproduce-risk version {version.version}" in card
    assert "A high score is not a finding of wrongdoing" in card
    assert "selective labels" in card and "censored" in card
    assert f"risk-model reproduce {run_id}" in card
    for name, champion in lists["champions"].items():
        row = comparison.loc[(comparison["review_list"] == name) & (comparison["model"] == champion)].iloc[0]
        line = next(x for x in card.splitlines() if x.startswith(f"| {champion} (champion) | "))
        cells = [c.strip() for c in line.strip("|").split("|")]
        assert float(cells[2]) == pytest.approx(row["precision_at_k_mean"], abs=5e-4)
        assert float(cells[4]) == pytest.approx(row["holdout_precision_at_k"], abs=5e-4)
        held_out = findings.loc[(findings["review_list"] == name) & (findings["model"] == champion)
                                & (findings["period"] == "holdout")].iloc[0]
        assert f"| **{champion} (champion)** | held out | {held_out['k']:.0f} | {held_out['hits']:.0f} = " in card
    assert "<table>" in page and "held out" in page
    assert version.description.startswith("# Model card")
