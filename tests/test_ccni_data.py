"""Data tests: the Charity Commission for Northern Ireland's real register export (30 June 2020)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from risk_model.ccni.reasons import score_extract
from risk_model.ccni.snapshot import build_snapshot_features, model_inputs, snapshot_pipeline
from risk_model.ccni.validation import (
    DEFAULT_MODELS,
    SnapshotConfig,
    beats_every_baseline,
    labelled_rows,
    run_snapshot_benchmark,
)
from risk_model.ingest.adapters import read_extract
from risk_model.ingest.adapters.ccni import read
from tests.support.ccni import CCNI_FILE
from tests.support.worlds import shared_data_dir

pytestmark = pytest.mark.data

CCNI_PATH = shared_data_dir() / CCNI_FILE
ROWS_IN_FILE = 4_595


@pytest.fixture(scope="module")
def extract():
    if not CCNI_PATH.is_file():
        pytest.skip(f"real CCNI extract not found at {CCNI_PATH} (set RISK_MODEL_SHARED_DATA)")
    return read_extract("ccni", CCNI_PATH.parent)


@pytest.fixture(scope="module")
def benchmark(extract):
    features = build_snapshot_features(extract.snapshot, extract.extract_date)
    return features, run_snapshot_benchmark(features, SnapshotConfig())


def test_every_row_is_accounted_for(extract):
    account = extract.account
    assert account["rows_read"] == ROWS_IN_FILE
    assert account["accepted"] + account["rejected"] == ROWS_IN_FILE
    assert len(extract.snapshot) == account["accepted"] == ROWS_IN_FILE
    assert extract.rejections["row"].nunique() == account["rejected"]
    assert extract.snapshot["charity_number"].is_unique
    assert extract.extract_date == pd.Timestamp("2020-06-30")


def test_label_counts_follow_the_regulator_status(extract):
    counts = extract.snapshot["status"].value_counts().to_dict()
    assert counts == {"Up-to-date": 3541, "Recently registered": 361, "Due documents received late": 255,
                      "Removed": 239, "In default": 199}
    labels = extract.snapshot["label"]
    assert int((labels == 1).sum()) == 199 + 255
    assert int((labels == 0).sum()) == 3541
    assert int(labels.isna().sum()) == 361 + 239


def test_fields_are_read_as_published(extract):
    snapshot = extract.snapshot
    assert snapshot["year_end"].notna().all() and snapshot["registered_date"].notna().all()
    assert snapshot["year_end"].min() >= pd.Timestamp("2015-01-01")
    assert snapshot["registered_date"].max() <= extract.extract_date
    purposes = snapshot["purposes"].explode().dropna()
    assert purposes.nunique() == 12
    assert snapshot["company_number"].notna().sum() == 416
    assert len(extract.register) == len(extract.returns) == ROWS_IN_FILE


def test_model_beats_every_baseline_on_precision_at_10_percent(benchmark):
    features, result = benchmark
    table = result.comparison.set_index(["model", "variant"])["precision_at_k_pct_mean"]
    champion = result.champions["with_year_end"]
    assert beats_every_baseline(result.comparison, champion, "with_year_end")
    assert table[(champion, "with_year_end")] > table[("oldest_year_end_first", "baseline")] + 0.05
    # Without the year end the models still find far more than a random or income-first list...
    best_without = table[(result.champions["without_year_end"], "without_year_end")]
    assert best_without > 2 * max(table[("random", "baseline")], table[("largest_income_first", "baseline")])
    assert result.labelled == 3995 and result.positives == 454
    assert len(labelled_rows(features)) == 3995


def test_scoring_the_unseen_part_of_the_file(extract, tmp_path):
    """Train on four fifths of the charities, write the rest as a CCNI file, and rank it."""
    raw = CCNI_PATH.read_bytes()
    lines = raw.split(b"\n")
    header, body = lines[0], [line for line in lines[1:] if line.strip()]
    rng = np.random.default_rng(0)
    held_out = np.zeros(len(body), dtype=bool)
    held_out[rng.choice(len(body), size=len(body) // 5, replace=False)] = True
    unseen_path = tmp_path / "charity-register-2020-06-30.csv"
    unseen_path.write_bytes(b"\n".join([header] + [b for b, h in zip(body, held_out) if h]) + b"\n")
    unseen = read(unseen_path)
    assert unseen.account["rows_read"] == held_out.sum() == unseen.account["accepted"]

    seen = extract.snapshot.loc[~extract.snapshot["charity_number"].isin(unseen.snapshot["charity_number"])]
    training = labelled_rows(build_snapshot_features(seen, extract.extract_date))
    spec = next(s for s in DEFAULT_MODELS if s.kind == "lightgbm")
    pipeline = snapshot_pipeline(spec, seed=1, year_end=True)
    pipeline.fit(model_inputs(training, year_end=True), training["label"].to_numpy())
    scored = score_extract(pipeline, unseen, n_reasons=2)
    eligible = unseen.snapshot.loc[unseen.snapshot["label"].notna(), "charity_number"]
    assert set(scored.ranked["charity_number"]) == set(eligible)
    assert scored.ranked["rank"].tolist() == list(range(1, len(eligible) + 1))
    # The top of the list has reasons; one scored near the base rate may have none of half a point or more.
    has_reasons = scored.ranked["reasons_up"].notna() | scored.ranked["reasons_down"].notna()
    assert has_reasons.head(len(has_reasons) // 10).all() and has_reasons.mean() > 0.5
    # The top tenth of the unseen list holds far more charities in default or late than the file does.
    top = scored.ranked.head(len(scored.ranked) // 10)
    assert top["status"].isin(["In default", "Due documents received late"]).mean() > 0.4
