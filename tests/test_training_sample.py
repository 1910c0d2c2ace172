"""Training on registers of millions may keep only a share of the negatives; every positive stays,
the draw is seeded, and the run says so in its output, its MLflow tags and its model card."""

from __future__ import annotations

import copy

import mlflow
import numpy as np
import pandas as pd
import pytest
import yaml
from mlflow.tracking import MlflowClient
from typer.testing import CliRunner

from risk_model.cli import app
from risk_model.config import LabelConfig, SamplingConfig
from risk_model.train import build_panel
from tests.conftest import SMALL_EXPERIMENT

DATES = [pd.Timestamp(f"{y}-04-01") for y in (2015, 2016, 2017)]
LABEL = LabelConfig(definition="late_return")
EXTRACT = pd.Timestamp("2021-12-31")


@pytest.fixture(scope="module")
def full_panel(small_world):
    return build_panel(small_world.register, small_world.returns, small_world.case_log, DATES, LABEL, EXTRACT)


def _sampled(world, rate: float, seed: int):
    return build_panel(world.register, world.returns, world.case_log, DATES, LABEL, EXTRACT,
                       sampling=SamplingConfig(negative_rate=rate), seed=seed)


def test_sampling_keeps_every_positive_and_about_the_rate_of_negatives(small_world, full_panel):
    full, _ = full_panel
    sampled, counts = _sampled(small_world, 0.25, seed=4)
    positives = full.loc[full["label"].eq(1), ["charity_number", "as_of"]]
    kept = sampled.loc[sampled["label"].eq(1), ["charity_number", "as_of"]]
    pd.testing.assert_frame_equal(kept.reset_index(drop=True), positives.reset_index(drop=True))
    negatives = int(full["label"].eq(0).sum())
    assert 0.2 < sampled["label"].eq(0).sum() / negatives < 0.3
    assert int(counts["negatives_sampled_out"].sum()) == len(full) - len(sampled)
    # a kept row's features are the row the whole panel has for that charity and date
    merged = sampled.merge(full, on=["charity_number", "as_of"], suffixes=("", "_full"))
    assert len(merged) == len(sampled)
    np.testing.assert_array_equal(merged["income_latest_gbp"].to_numpy(), merged["income_latest_gbp_full"].to_numpy())


def test_the_draw_is_seeded(small_world):
    first, _ = _sampled(small_world, 0.25, seed=4)
    again, _ = _sampled(small_world, 0.25, seed=4)
    other, _ = _sampled(small_world, 0.25, seed=5)
    assert first["charity_number"].tolist() == again["charity_number"].tolist()
    assert first["charity_number"].tolist() != other["charity_number"].tolist()


def test_a_sampled_run_states_it_in_output_tags_and_model_card(small_world_dir, tmp_path):
    experiment = copy.deepcopy(SMALL_EXPERIMENT)
    experiment["sampling"] = {"negative_rate": 0.3}
    experiment["models"] = [m for m in experiment["models"] if m["kind"] != "logistic"]
    experiment["tracking"] = {"experiment": "sampled", "registered_model": "sampled-risk"}
    config = tmp_path / "experiment.yaml"
    config.write_text(yaml.safe_dump(experiment))
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    result = CliRunner().invoke(app, ["train", str(small_world_dir), "--config", str(config), "--tracking-uri", uri,
                                      "--store", str(tmp_path / "mlruns")])
    assert result.exit_code == 0, result.output + repr(result.exception)
    assert "negatives subsampled at rate 0.3" in " ".join(result.output.split())
    mlflow.set_tracking_uri(uri)
    client = MlflowClient()
    version = client.get_model_version_by_alias("sampled-risk", "champion")
    run = client.get_run(version.run_id)
    parent = client.get_run(run.data.tags.get("mlflow.parentRunId", run.info.run_id))
    assert parent.data.params["sampling.negative_rate"] == "0.3"
    assert parent.data.tags["training_sample"].startswith("negatives subsampled at rate 0.3 (seed 11)")
    counts = pd.read_csv(client.download_artifacts(parent.info.run_id, "panel_counts.csv", str(tmp_path)))
    assert counts["negatives_sampled_out"].sum() > 0
    cards = [a.path for a in client.list_artifacts(parent.info.run_id) if a.path.endswith(".md")]
    card_paths = cards or [a.path for a in client.list_artifacts(parent.info.run_id, "model_card")]
    card = "\n".join(open(client.download_artifacts(parent.info.run_id, p, str(tmp_path))).read()
                     for p in card_paths if p.endswith(".md"))
    assert "Negatives were subsampled" in card
