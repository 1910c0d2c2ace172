"""`risk-model audit` end to end: a small training run, audited, compared and logged to MLflow."""

import mlflow
import pytest
import yaml
from mlflow.tracking import MlflowClient
from typer.testing import CliRunner

from risk_model.cli.main import app

pytestmark = pytest.mark.e2e

EXPERIMENT = {
    "config_version": 2,
    "seed": 11,
    "lists": {"proactive": {"capacity": 30, "labels": ["late_return"]},
              "triage": {"capacity": 8, "labels": ["substantiated_given_inquiry"]}},
    "splits": {"first_as_of_year": 2016, "n_folds": 2},
    "models": [{"name": "logistic", "kind": "logistic", "params": {"C": 0.1, "max_iter": 300}}],
    "evaluation": {"baseline_model": "logistic"},
    "tracking": {"experiment": "audit-e2e", "registered_model": "audit-e2e-risk"},
}


@pytest.fixture(scope="module")
def trained(small_world_dir, tmp_path_factory):
    work = tmp_path_factory.mktemp("audit_e2e")
    uri = f"sqlite:///{work / 'mlflow.db'}"
    config = work / "experiment.yaml"
    config.write_text(yaml.safe_dump(EXPERIMENT))
    result = CliRunner().invoke(app, ["train", str(small_world_dir), "--config", str(config), "--tracking-uri", uri,
                                      "--store", str(work / "mlruns")])
    assert result.exit_code == 0, result.output + repr(result.exception)
    return uri, result.output.split("; run")[-1].split()[0]


@pytest.fixture(scope="module")
def audited(trained):
    # Against itself: the stability section runs end to end (load both champions, rescore, compare)
    # with a known answer; tests/test_stability.py covers lists that differ.
    uri, run_id = trained
    result = CliRunner().invoke(app, ["audit", run_id, "--against", run_id, "--tracking-uri", uri,
                                                  "--n-boot", "30", "--min-group-size", "50"],
                                env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output + repr(result.exception)
    return uri, run_id, result.output


def test_audit_prints_every_section(audited):
    _, run_id, output = audited
    assert f"Audit of run {run_id}: proactive list, logistic on late_return" in " ".join(output.split())
    for heading in ("Bias audit: income_band", "Bias audit: main_operating_location", "Bias audit: age_under_5",
                    "Outcome rate by score decile", "Outcome rate by risk band", "Labelled coverage",
                    "selective labels vs the truth", "Label bias: main_operating_location",
                    "Stability:", "List overlap and rank correlation", "Entering the top 30", "Leaving the top 30",
                    "what the quota tells", "needed for +/-25%"):
        assert heading in output, heading
    assert "too small" in output  # the small world has groups under 50 charity-years
    assert "ref" in output
    overlap = output.split("List overlap and rank correlation")[1].split("Entering")[0]
    assert "top k jaccard" in overlap and "entering" in overlap
    cells = [[cell.strip() for cell in line.strip().strip("│").split("│")] for line in overlap.splitlines()
             if line.count("│") == 3]
    figures = dict(cells)
    assert figures["top k jaccard"] == "1" and figures["entering"] == "0" and figures["leaving"] == "0"


def test_audit_is_logged_under_the_training_run(audited):
    uri, first, _ = audited
    mlflow.set_tracking_uri(uri)
    client = MlflowClient()
    parent = client.get_run(first)
    audit_run = client.get_run(parent.data.tags["audit_run_id"])
    assert audit_run.data.tags["mlflow.parentRunId"] == first
    assert audit_run.data.tags["mlflow.runName"] == "audit"
    assert audit_run.data.tags["against_run"] == first
    assert "model" not in audit_run.data.tags
    assert audit_run.data.tags["audited_list"] == "proactive"
    files = {a.path for a in client.list_artifacts(audit_run.info.run_id, "audit")}
    for name in ("bias_audit.csv", "score_deciles.csv", "risk_bands.csv", "labelled_coverage.csv", "quota_check.csv",
                 "label_bias.csv", "stability.json", "stability_movers.csv", "stability_mover_factors.csv"):
        assert f"audit/{name}" in files, name
    plots = {a.path for a in client.list_artifacts(audit_run.info.run_id, "audit/plots")}
    assert "audit/plots/group_ratios_main_operating_location.png" in plots
    assert "audit/plots/outcome_rate_by_band.png" in plots
    assert "audit/plots/label_bias_income_band.png" in plots
    metrics = audit_run.data.metrics
    assert 0 <= metrics["audit.labelled_coverage_at_k"] <= 1
    assert 0 <= metrics["stability.top_k_jaccard"] <= 1
    assert -1 <= metrics["stability.spearman"] <= 1


def test_the_model_card_gains_the_audit_summary(audited):
    import io

    import pandas as pd

    uri, first, _ = audited
    mlflow.set_tracking_uri(uri)
    client = MlflowClient()
    card = mlflow.artifacts.load_text(f"runs:/{first}/model_card.md")
    audit_id = client.get_run(first).data.tags["audit_run_id"]
    bias = pd.read_csv(io.StringIO(mlflow.artifacts.load_text(f"runs:/{audit_id}/audit/bias_audit.csv")))
    assert "No bias audit has been recorded" not in card
    section = card.split("## Bias audit")[1].split("## Limitations")[0]
    for attribute, table in bias.groupby("attribute"):
        row = next(line for line in section.splitlines() if line.startswith(f"| {attribute} |"))
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert int(cells[1]) == table["group"].nunique()
        assert int(cells[3]) == int((table["status"] == "flagged").sum())


def test_the_triage_list_is_audited_on_its_own_label(trained):
    uri, run_id = trained
    result = CliRunner().invoke(app, ["audit", run_id, "--list", "triage", "--tracking-uri", uri, "--no-log",
                                                  "--n-boot", "20", "--min-group-size", "20"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output + repr(result.exception)
    assert "triage list, logistic on substantiated_given_inquiry, judged on label_substantiated_given_inquiry" in \
        " ".join(result.output.split())
    wrong = CliRunner().invoke(app, ["audit", run_id, "--list", "combined", "--tracking-uri", uri, "--no-log"])
    assert wrong.exit_code == 2 and "proactive, triage" in wrong.output


def test_audit_of_an_unknown_run_fails_clearly(trained):
    uri, _ = trained
    result = CliRunner().invoke(app, ["audit", "0" * 32, "--tracking-uri", uri, "--no-log"])
    assert result.exit_code == 2
    assert f"no run '{'0' * 32}' in the tracking store {uri}" in " ".join(result.output.split())
