"""Benchmark: Northern Ireland's register (CCNI, 30 June 2020) under stratified 5-fold validation.

Prints precision at 10%, AUC-PR and AUC-ROC for the three baselines (random; largest income
first; oldest financial year end first) and for each model with and without the year-end
feature, which partly restates the label. The export is one snapshot, so the folds are
stratified by label, not temporal.

Run: python benchmarks/ccni.py [--data PATH]
Target: the model beats every baseline on precision at 10%.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import pandas as pd

from risk_model.ccni.snapshot import build_snapshot_features
from risk_model.ccni.validation import (
    VALIDATION_NOTE,
    SnapshotConfig,
    beats_every_baseline,
    comparison_summary,
    run_snapshot_benchmark,
)
from risk_model.ingest.adapters import read_extract


def default_data() -> Path:
    shared = os.environ.get("RISK_MODEL_SHARED_DATA")
    root = Path(shared) if shared else Path(__file__).resolve().parents[2] / "shared" / "data"
    return root / "ccni" / "charity-register-2020-06-30.csv"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=default_data(), help="CCNI register export")
    args = parser.parse_args()
    if not args.data.exists():
        raise SystemExit(f"CCNI extract not found at {args.data} (set RISK_MODEL_SHARED_DATA or pass --data)")
    config = SnapshotConfig()
    start = time.perf_counter()
    extract = read_extract("ccni", args.data)
    features = build_snapshot_features(extract.snapshot, extract.extract_date)
    read_seconds = time.perf_counter() - start
    result = run_snapshot_benchmark(features, config)
    total_seconds = time.perf_counter() - start
    account = extract.account
    print(f"{account['file']}: {account['rows_read']:,} rows read, {account['accepted']:,} accepted, "
          f"{account['rejected']:,} rejected; {result.labelled:,} labelled "
          f"({result.positives:,} in default or late), extract date {extract.extract_date.date()}")
    print(f"validation: {config.n_folds} stratified folds, seed {config.seed}. {VALIDATION_NOTE}.\n")
    table = comparison_summary(result.comparison, config.k_percent).drop(columns=["Brier", "lift"])
    with pd.option_context("display.width", 120, "display.float_format", "{:.3f}".format):
        print(table.to_string(index=False))
    print()
    for variant, model in result.champions.items():
        verdict = "beats" if beats_every_baseline(result.comparison, model, variant) else "does NOT beat"
        print(f"{variant.replace('_', ' ')}: best model {model} {verdict} every baseline on precision at "
              f"{config.k_percent:g}%")
    print(f"\nwall time: read and features {read_seconds:.1f} s, total {total_seconds:.1f} s")


if __name__ == "__main__":
    main()
