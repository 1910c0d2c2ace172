"""Training on registers of millions may keep only a share of the proactive charity-years without a
case; every charity-year with a case and every other list's stays, the draw is seeded, and the run
says so in its output, its MLflow tags and its model card. Each large fit also keeps only a share
of its negatives, weighted back, while evaluation sees every charity-year."""

from __future__ import annotations

import copy

import mlflow
import numpy as np
import pandas as pd
import pytest
import yaml
from mlflow.tracking import MlflowClient
from typer.testing import CliRunner

from risk_model.cli.main import app
from risk_model.config import ModelSpec, SamplingConfig
from risk_model.labels import cases
from risk_model.panel import build_panel, panel_days_to_first_inquiry
from risk_model.train import FIT_SAMPLING_FROM, _fit
from tests.support.worlds import SMALL_EXPERIMENT

DATES = [pd.Timestamp(f"{y}-12-31") for y in (2015, 2016, 2017)]


@pytest.fixture(scope="module")
def full_panel(small_world):
    return build_panel(small_world.register, small_world.returns, small_world.case_log, DATES, 12)


def _sampled(world, rate: float, seed: int):
    return build_panel(world.register, world.returns, world.case_log, DATES, 12,
                       sampling=SamplingConfig(negative_rate=rate), seed=seed)


def test_sampling_keeps_every_case_and_other_list_and_about_the_rate_of_the_rest(small_world, full_panel):
    full, _ = full_panel
    sampled, counts = _sampled(small_world, 0.25, seed=4)
    with_case = ~np.isnan(panel_days_to_first_inquiry(full, cases(small_world.case_log), 12))
    always = full.loc[with_case | (full["review_list"] != "proactive"), ["charity_number", "as_of"]]
    kept = sampled.merge(always, on=["charity_number", "as_of"])
    assert len(kept) == len(always) > 50
    rest = int((~with_case & (full["review_list"] == "proactive")).sum())
    assert 0.2 < (len(sampled) - len(always)) / rest < 0.3
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


@pytest.mark.slow  # trains the small world through the CLI
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
    assert parent.data.tags["training_sample"].startswith("proactive negatives subsampled at rate 0.3 (seed 11)")
    counts = pd.read_csv(client.download_artifacts(parent.info.run_id, "panel_counts.csv", str(tmp_path)))
    assert counts["negatives_sampled_out"].sum() > 0
    cards = [a.path for a in client.list_artifacts(parent.info.run_id) if a.path.endswith(".md")]
    card_paths = cards or [a.path for a in client.list_artifacts(parent.info.run_id, "model_card")]
    card = "\n".join(open(client.download_artifacts(parent.info.run_id, p, str(tmp_path))).read()
                     for p in card_paths if p.endswith(".md"))
    assert "The panel was subsampled" in card


def test_a_large_fit_keeps_every_positive_and_weights_its_sample_of_negatives_back():
    rng = np.random.default_rng(0)
    n = FIT_SAMPLING_FROM * 2
    from risk_model.features import CATEGORICAL_FEATURES, NUMERIC_FEATURES

    frame = pd.DataFrame({**{c: np.zeros(n) for c in NUMERIC_FEATURES}, **{c: "Unknown" for c in CATEGORICAL_FEATURES}})
    frame["returns_outstanding"] = rng.integers(0, 2, n).astype(float)
    y = (rng.random(n) < 0.02 + 0.04 * frame["returns_outstanding"]).astype(float)
    rule = ModelSpec(name="rule", kind="rule")
    whole = _fit(rule, 1, frame, np.arange(n), y)
    sampled = _fit(rule, 1, frame, np.arange(n), y, negative_rate=0.2, draw=3)
    # the rates per points total are the population's, not the sample's inflated ones
    np.testing.assert_allclose(sampled[-1].rate_by_points_[:2], whole[-1].rate_by_points_[:2], rtol=0.25)
    small = _fit(rule, 1, frame.iloc[:500], np.arange(500), y[:500], negative_rate=0.2, draw=3)
    np.testing.assert_array_equal(small[-1].rate_by_points_, _fit(rule, 1, frame.iloc[:500], np.arange(500),
                                                                   y[:500])[-1].rate_by_points_)
