"""End to end on a small simulated world: ingest, train under temporal folds, log, register, rank."""

import mlflow
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient
from typer.testing import CliRunner

from risk_model.cli import app

pytestmark = pytest.mark.e2e

def test_train_logs_every_model_and_registers_a_champion(trained):
    work, _, uri, output = trained
    mlflow.set_tracking_uri(uri)
    client = MlflowClient()
    experiment = client.get_experiment_by_name("e2e")
    runs = client.search_runs([experiment.experiment_id])
    parents = [r for r in runs if r.data.tags.get("job") == "train" and "model" not in r.data.tags]
    children = {r.data.tags["model"]: r for r in runs if "model" in r.data.tags}
    assert len(parents) == 1
    assert set(children) == {"rule_baseline", "logistic", "lightgbm"}
    parent = parents[0]
    assert parent.data.params["config_hash"]
    assert "lightgbm.precision_at_k_mean" in parent.data.metrics
    assert "true_risk.precision_at_k_mean" in parent.data.metrics
    artifacts = {a.path for a in client.list_artifacts(parent.info.run_id)}
    assert {"data_fingerprint.json", "experiment.json", "fold_metrics.csv", "rejections.csv",
            "ingest_accounts.csv", "plots", "predictions.parquet"} <= artifacts
    champion = client.get_model_version_by_alias("e2e-risk", "champion")
    assert champion.tags["model"] == parent.data.tags["champion_model"]
    assert champion.run_id == children[champion.tags["model"]].info.run_id
    # The champion has the best mean precision at k among the grid.
    best = max(("rule_baseline", "logistic", "lightgbm"),
               key=lambda m: parent.data.metrics[f"{m}.precision_at_k_mean"])
    assert parent.data.metrics[f"{champion.tags['model']}.precision_at_k_mean"] == \
        parent.data.metrics[f"{best}.precision_at_k_mean"]
    assert "champion:" in output
    lightgbm_artifacts = {a.path for a in client.list_artifacts(children["lightgbm"].info.run_id, "explanations")}
    assert {"explanations/global_importance.csv", "explanations/summary_beeswarm.png"} <= lightgbm_artifacts
    assert sum(p.startswith("explanations/dependence_") for p in lightgbm_artifacts) == 6
    assert any(k.startswith("explain.mean_abs_log_odds.") for k in children["lightgbm"].data.metrics)


def test_logged_pipeline_loads_with_its_signature(trained, small_world):
    _, _, uri, _ = trained
    mlflow.set_tracking_uri(uri)
    model = mlflow.pyfunc.load_model("models:/e2e-risk@champion")
    assert model.metadata.signature is not None
    from risk_model.features import build_features
    from risk_model.models import model_inputs

    features = build_features(small_world.register, small_world.returns, small_world.case_log, "2020-04-01")
    scores = model.predict(model_inputs(features.head(20)))
    assert len(scores) == 20


def test_rank_writes_a_complete_ordered_list(trained, small_world_dir, small_world, tmp_path):
    work, config, uri, _ = trained
    out = tmp_path / "rankings"
    result = CliRunner().invoke(app, ["rank", str(small_world_dir), "--as-of", "2021-06-30", "--out", str(out),
                                      "--config", str(config), "--tracking-uri", uri])
    assert result.exit_code == 0, result.output + repr(result.exception)
    ranked = pd.read_parquet(out / "ranking_2021-06-30.parquet")
    from_csv = pd.read_csv(out / "ranking_2021-06-30.csv", dtype={"charity_number": str})
    under_inquiry = pd.read_csv(out / "under_inquiry_2021-06-30.csv", dtype={"charity_number": str})
    reg = small_world.register
    on_register = ((reg["registered_date"] <= "2021-06-30")
                   & (reg["ceased_date"].isna() | (reg["ceased_date"] > "2021-06-30"))).sum()
    assert len(ranked) + len(under_inquiry) == on_register
    assert ranked["rank"].tolist() == list(range(1, len(ranked) + 1))
    assert ranked["score"].is_monotonic_decreasing
    assert ranked["within_capacity"].sum() == 30
    assert from_csv["charity_number"].tolist() == ranked["charity_number"].tolist()
    assert set(ranked["risk_band"]) <= {"very high", "high", "elevated", "low"}


def test_rank_reads_the_tables_and_features_written_before_and_gives_the_same_list(trained, small_world_dir,
                                                                                   tmp_path):
    work, config, uri, _ = trained
    tables = tmp_path / "ingested"
    assert CliRunner().invoke(app, ["ingest", str(small_world_dir), "--out", str(tables)]).exit_code == 0
    made = CliRunner().invoke(app, ["features", str(tables), "--as-of", "2021-06-30", "--out", str(tmp_path)])
    assert made.exit_code == 0, made.output + repr(made.exception)
    features = tmp_path / "features_2021-06-30.parquet"
    lists = {}
    for name, folder, extra in (("raw", small_world_dir, []), ("ingested", tables, []),
                                ("prebuilt", tables, ["--features", str(features)])):
        result = CliRunner().invoke(app, ["rank", str(folder), "--as-of", "2021-06-30", "--out", str(tmp_path / name),
                                          "--config", str(config), "--tracking-uri", uri, *extra])
        assert result.exit_code == 0, result.output + repr(result.exception)
        lists[name] = pd.read_parquet(tmp_path / name / "ranking_2021-06-30.parquet")
    assert "reading the ingested tables" in result.output
    pd.testing.assert_frame_equal(lists["ingested"], lists["raw"])
    pd.testing.assert_frame_equal(lists["prebuilt"], lists["raw"])
    wrong_date = CliRunner().invoke(app, ["rank", str(tables), "--as-of", "2021-07-01", "--features", str(features),
                                          "--config", str(config), "--tracking-uri", uri, "--out", str(tmp_path)])
    assert wrong_date.exit_code == 2
    assert "not 2021-07-01" in " ".join(wrong_date.output.split())


def test_rank_without_a_champion_fails_clearly(small_world_dir, tmp_path):
    uri = f"sqlite:///{tmp_path / 'empty.db'}"
    result = CliRunner().invoke(app, ["rank", str(small_world_dir), "--tracking-uri", uri, "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "risk-model train" in result.output


def test_rank_attaches_reasons_and_explain_prints_them(trained, small_world_dir, tmp_path):
    work, config, uri, output = trained
    mlflow.set_tracking_uri(uri)
    champion = MlflowClient().get_model_version_by_alias("e2e-risk", "champion")
    if champion.tags["model"] == "rule_baseline":
        pytest.skip("the rule baseline won this small world; it explains itself by indicators, not log-odds")
    out = tmp_path / "with_reasons"
    result = CliRunner().invoke(app, ["rank", str(small_world_dir), "--as-of", "2021-06-30", "--out", str(out),
                                      "--reasons", "2", "--config", str(config), "--tracking-uri", uri])
    assert result.exit_code == 0, result.output + repr(result.exception)
    ranked = pd.read_csv(out / "ranking_2021-06-30.csv", dtype={"charity_number": str})
    assert ranked["reasons_up"].head(20).notna().all()
    assert ranked["reasons_up"].head(20).str.len().gt(10).all()
    top = ranked.loc[0, "charity_number"]
    result = CliRunner().invoke(app, ["explain", top, "--data", str(small_world_dir), "--as-of", "2021-06-30",
                                      "--config", str(config), "--tracking-uri", uri])
    assert result.exit_code == 0, result.output + repr(result.exception)
    assert f"{top}" in result.output and "rank 1 of" in result.output
    assert "log-odds" in result.output and "What changed since 2020-06-30" in result.output
    missing = CliRunner().invoke(app, ["explain", "SC999999", "--data", str(small_world_dir),
                                       "--config", str(config), "--tracking-uri", uri])
    assert missing.exit_code == 1 and "not on the register" in missing.output
