"""The CCNI commands end to end: train on a CCNI-format file, log to MLflow, then score an unseen file."""

from __future__ import annotations

import mlflow
import pandas as pd
import pytest
import typer
import yaml
from mlflow.tracking import MlflowClient
from typer.testing import CliRunner

from risk_model.ccni.tracking import load_snapshot_model
from risk_model.ccni.validation import VALIDATION, SnapshotConfig
from risk_model.cli.main import app
from tests.support.ccni import synthetic_rows, write

SMALL = {
    "config_version": 1, "seed": 3, "n_folds": 3,
    "models": [{"name": "logistic", "kind": "logistic", "params": {"C": 0.3, "max_iter": 2000}},
               {"name": "lightgbm", "kind": "lightgbm", "params": {"n_estimators": 30, "num_leaves": 7}}],
    "tracking": {"experiment": "ccni-test", "registered_model": "ccni-test-risk"},
}


def _app() -> typer.Typer:
    """The `risk-model` app, whose errors a user can fix end in one line and exit code 2."""
    return app


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    work = tmp_path_factory.mktemp("ccni_cli")
    data = work / "data"
    data.mkdir()
    write(data / "charity-register-2020-06-30.csv", synthetic_rows(300, seed=11))
    config = work / "snapshot.yaml"
    config.write_text(yaml.safe_dump(SMALL))
    uri = f"sqlite:///{work / 'mlflow.db'}"
    # A wide terminal, so that rich does not wrap the sentences the tests look for.
    result = CliRunner().invoke(_app(), ["train-ccni", str(data), "--config", str(config), "--tracking-uri", uri,
                                         "--store", str(work / "mlruns")], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output + repr(result.exception)
    return work, uri, result.output


def test_training_run_is_logged_as_a_single_snapshot(trained):
    _, uri, output = trained
    mlflow.set_tracking_uri(uri)
    client = MlflowClient()
    runs = client.search_runs([client.get_experiment_by_name("ccni-test").experiment_id])
    assert len(runs) == 1
    run = runs[0]
    assert run.data.tags["validation"] == VALIDATION == run.data.params["validation"]
    assert "not temporal" in run.data.tags["validation.note"]
    assert run.data.params["n_folds"] == "3" and run.data.params["k_percent"] == "10.0"
    for name in ("random.baseline", "largest_income_first.baseline", "oldest_year_end_first.baseline",
                 "lightgbm.with_year_end", "lightgbm.without_year_end", "logistic.without_year_end"):
        assert f"{name}.precision_at_k_pct_mean" in run.data.metrics
        assert f"{name}.auc_roc_mean" in run.data.metrics
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"model_comparison.csv", "fold_metrics.csv", "label_counts.csv", "rejections.csv",
            "ingest_account.csv", "data_fingerprint.json", "config.json", "explanations"} <= artifacts
    comparison = pd.read_csv(client.download_artifacts(run.info.run_id, "model_comparison.csv"))
    assert len(comparison) == 7
    assert "stratified folds" in output and "not temporal" in output


def test_both_variants_are_registered_and_load_back(trained):
    _, uri, _ = trained
    mlflow.set_tracking_uri(uri)
    client = MlflowClient()
    with_year_end = client.get_model_version_by_alias("ccni-test-risk", "champion")
    without = client.get_model_version_by_alias("ccni-test-risk", "champion-without-year-end")
    assert with_year_end.tags["variant"] == "with_year_end" and without.tags["variant"] == "without_year_end"
    assert with_year_end.tags["validation"] == VALIDATION
    tracking = SnapshotConfig.model_validate(SMALL).tracking
    pipeline, origin = load_snapshot_model(tracking, "without_year_end")
    assert "year_end_days_before_extract" not in pipeline.feature_names_in_
    assert origin["variant"] == "without_year_end"


def test_score_an_unseen_file_with_a_run(trained):
    work, uri, _ = trained
    mlflow.set_tracking_uri(uri)
    client = MlflowClient()
    run_id = client.search_runs([client.get_experiment_by_name("ccni-test").experiment_id])[0].info.run_id
    unseen = write(work / "unseen.csv", synthetic_rows(120, seed=12, first_number=500001))
    out = work / "rankings"
    result = CliRunner().invoke(_app(), ["score-ccni", str(unseen), "--run", run_id, "--reasons", "2",
                                         "--extract-date", "2020-06-30", "--tracking-uri", uri, "--out", str(out)])
    assert result.exit_code == 0, result.output + repr(result.exception)
    ranked = pd.read_csv(out / "ccni_ranking_2020-06-30.csv", dtype={"charity_number": str})
    reasons = pd.read_csv(out / "ccni_ranking_2020-06-30_reasons.csv", dtype={"charity_number": str})
    excluded = pd.read_csv(out / "ccni_ranking_2020-06-30_excluded.csv", dtype={"charity_number": str})
    assert len(ranked) + len(excluded) == 120
    assert ranked["rank"].tolist() == list(range(1, len(ranked) + 1))
    assert set(reasons["charity_number"]) == set(ranked["charity_number"])
    assert ranked["variant"].eq("with_year_end").all()
    assert excluded["status"].isin(["Removed", "Recently registered"]).all()


def test_score_without_a_trained_model_says_so(trained, tmp_path):
    # The store holds "ccni-test-risk" only; scoring asks for the default "ccni-risk".
    _, uri, _ = trained
    unseen = write(tmp_path / "charity-register-2020-06-30.csv", synthetic_rows(20, seed=4))
    result = CliRunner().invoke(_app(), ["score-ccni", str(unseen), "--tracking-uri", uri, "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "train-ccni" in result.output and "'ccni-risk'" in result.output and uri in result.output
    assert not (tmp_path / "ccni_ranking_2020-06-30.csv").exists()


def test_score_with_the_registered_model_without_year_end(trained):
    work, uri, _ = trained
    unseen = write(work / "charity-register-2020-06-30.csv", synthetic_rows(60, seed=13, first_number=600001))
    out = work / "registry_rankings"
    result = CliRunner().invoke(_app(), ["score-ccni", str(unseen), "--without-year-end", "--config",
                                         str(work / "snapshot.yaml"), "--tracking-uri", uri, "--out", str(out)],
                                env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output + repr(result.exception)
    assert "@champion-without-year-end" in result.output
    ranked = pd.read_csv(out / "ccni_ranking_2020-06-30.csv", dtype={"charity_number": str})
    assert ranked["variant"].eq("without_year_end").all() and ranked["charity_number"].str.startswith("6").all()
    reasons = pd.read_csv(out / "ccni_ranking_2020-06-30_reasons.csv")
    assert not reasons["factor"].eq("year_end").any()
    assert (out / "ccni_ranking_2020-06-30_rejections.csv").is_file()
