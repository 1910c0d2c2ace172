"""Benchmark: simulate + ingest + train on the default world; prints wall time, peak memory and
precision@k of each model against the true-risk ranking.

Run: python benchmarks/train.py [--charities 25000] [--years 2008-2025] [--repeats 1]
Targets: training with 5 temporal folds in under 60 s on a 2-core machine; LightGBM's precision@k
at least 2x the rule baseline's and at least 70% of the true-risk ranking's.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import tempfile
import time
from pathlib import Path

import pandas as pd

from risk_model.config import load_config
from risk_model.evaluate import true_risk_lookup
from risk_model.features import build_features
from risk_model.ingest import ingest_folder
from risk_model.simulate import SimulationConfig, simulate, write_world
from risk_model.tracking import log_training, use_tracking
from risk_model.train import run_training


def peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2


def timed(label: str, func, timings: dict[str, list[float]]):
    start = time.perf_counter()
    value = func()
    timings.setdefault(label, []).append(time.perf_counter() - start)
    print(f"  {label:<22} {timings[label][-1]:7.2f} s   peak RSS so far {peak_rss_gib():5.2f} GiB", flush=True)
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--charities", type=int, default=25_000)
    parser.add_argument("--years", default="2008-2025")
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    first, last = (int(y) for y in args.years.split("-"))
    config = load_config()
    timings: dict[str, list[float]] = {}
    summary = None
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "world"
        for repeat in range(args.repeats):
            print(f"repeat {repeat + 1}/{args.repeats}")
            world = timed("simulate", lambda: simulate(SimulationConfig(
                charities=args.charities, first_year=first, last_year=last)), timings)
            timed("write files", lambda: write_world(world, data_dir), timings)
            tables = timed("ingest", lambda: ingest_folder(data_dir), timings)
            oracle = true_risk_lookup(pd.read_csv(data_dir / "latent_risk.csv", dtype={"Charity Number": str}))
            result = timed("train (5 folds + refit)", lambda: run_training(
                tables.register, tables.returns, tables.case_log, config, oracle), timings)
            use_tracking(config.tracking, Path(tmp) / "mlruns")
            example = build_features(tables.register, tables.returns, tables.case_log, result.training_as_of[-1])
            timed("log to MLflow", lambda: log_training(result, config, {}, tables.accounts, tables.rejections,
                                                          example, str(data_dir)), timings)
            summary = result.summary
    print()
    print(f"world: {args.charities:,} charities, {first}-{last}; folds: {config.splits.n_folds}; "
          f"k = {config.evaluation.capacity_k}")
    print(f"{'stage':<24}{'median s':>10}")
    for label, values in timings.items():
        print(f"{label:<24}{statistics.median(values):>10.2f}")
    print(f"peak RSS (whole run): {peak_rss_gib():.2f} GiB")
    print()
    columns = ["precision_at_k_mean", "precision_at_k_std", "auc_pr_mean", "auc_roc_mean",
               "lift_over_baseline", "ratio_to_true_risk"]
    print(summary[[c for c in columns if c in summary.columns]].round(3).to_string())
    lgb, rule = summary.loc["lightgbm"], summary.loc[config.evaluation.baseline_model]
    print()
    print(f"target: train < 60 s                      -> {statistics.median(timings['train (5 folds + refit)']):.1f} s")
    print(f"target: lightgbm p@k >= 2x rule baseline  -> {lgb['precision_at_k_mean'] / rule['precision_at_k_mean']:.2f}x")
    print(f"target: lightgbm p@k >= 70% of true risk  -> {100 * lgb['ratio_to_true_risk']:.0f}%")


if __name__ == "__main__":
    main()
