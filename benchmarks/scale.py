"""Benchmark: the whole pipeline on a register of millions, one `risk-model` command per stage;
prints each stage's wall time and peak memory (resident set of its process).

Run: python benchmarks/scale.py [--charities 2000000] [--years 2016-2025] [--negative-rate 0.05]
                                 [--work DIR] [--keep]
Stages: simulate -> ingest -> features -> rank with reasons (the end-to-end targets: under 15
minutes in all and under 12 GiB at peak on a 2-core, 24 GiB machine), and train, which keeps a
seeded share of the negatives (`sampling.negative_rate`) and says so in its run.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from risk_model.config import load_config

TARGET_MINUTES = 15
TARGET_PEAK_GIB = 12


def run_stage(name: str, arguments: list[str], log: Path) -> tuple[float, float]:
    """Run one `risk-model` command; return (wall seconds, peak resident GiB of its process)."""
    command = [sys.executable, "-m", "risk_model.cli", *arguments]
    start = time.perf_counter()
    with log.open("ab") as out:
        out.write(f"\n$ risk-model {' '.join(arguments)}\n".encode())
        out.flush()
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT,
                                   env={**os.environ, "COLUMNS": "120"})
        _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{name} failed (exit {os.waitstatus_to_exitcode(status)}); see {log}")
    peak_gib = usage.ru_maxrss / 1024 ** 2  # ru_maxrss is in KiB on Linux
    print(f"  {name:<24} {seconds:8.1f} s   peak {peak_gib:6.2f} GiB", flush=True)
    return seconds, peak_gib


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--charities", type=int, default=2_000_000)
    parser.add_argument("--years", default="2016-2025")
    parser.add_argument("--negative-rate", type=float, default=0.05,
                        help="share of negative charity-years training keeps")
    parser.add_argument("--reasons", type=int, default=3)
    parser.add_argument("--work", type=Path, default=None, help="folder for the data (default: a temporary one)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="risk-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    log = work / "commands.log"
    world, tables, out = work / "world", work / "tables", work / "out"
    experiment = load_config().model_dump(mode="json")
    experiment["sampling"]["negative_rate"] = args.negative_rate
    # as-of dates from the end of the third year on, once charities have a few returns behind them;
    # five test folds, each leaving a year's follow-up, need seven of them in 2016-2025
    experiment["splits"]["first_as_of_year"] = int(args.years.split("-")[0]) + 2
    experiment["tracking"] |= {"experiment": "scale", "registered_model": "scale-risk"}
    config = work / "experiment.yaml"
    config.write_text(yaml.safe_dump(experiment))
    tracking = ["--config", str(config), "--tracking-uri", f"sqlite:///{work / 'mlflow.db'}"]
    print(f"{args.charities:,} charities ever registered, {args.years}; work folder {work}; log {log}")
    results: dict[str, tuple[float, float]] = {}
    try:
        results["simulate"] = run_stage("simulate", ["simulate", str(world), "--charities", str(args.charities),
                                                     "--years", args.years], log)
        results["ingest"] = run_stage("ingest", ["ingest", str(world), "--out", str(tables)], log)
        results["train"] = run_stage(f"train (negatives x{args.negative_rate:g})", ["train", str(tables), *tracking],
                                     log)
        results["features"] = run_stage("features", ["features", str(tables), "--out", str(out)], log)
        built = next(out.glob("features_*.parquet"))
        results["rank"] = run_stage(f"rank with {args.reasons} reasons", [
            "rank", str(tables), "--features", str(built), "--reasons", str(args.reasons), "--out", str(out),
            "--show", "5", *tracking], log)
    finally:
        if not args.keep and args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    pipeline = ("simulate", "ingest", "features", "rank")
    seconds = sum(results[s][0] for s in pipeline)
    peak = max(results[s][1] for s in results)
    print(f"end to end (simulate, ingest, features, rank with reasons): {seconds / 60:5.1f} min "
          f"(target < {TARGET_MINUTES}); with training {(seconds + results['train'][0]) / 60:5.1f} min")
    print(f"peak memory of any stage: {peak:5.2f} GiB (target < {TARGET_PEAK_GIB})")


if __name__ == "__main__":
    main()
