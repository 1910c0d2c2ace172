"""Benchmark: simulate + ingest + train on the default world; prints wall time, peak memory, what
each review list found against the truth beside its references, and the targets.

Run: python benchmarks/train.py [--charities 25000] [--years 2008-2025] [--seed 20260101] [--repeats 1]
     [--config EXPERIMENT.yaml]

Targets, over the test folds of the default simulated world:
- proactive list at its capacity: misconduct found that the complaint process did not reach is at
  least 2x the indicator rule's and at least 85% of the full-information learner's, and the paired
  interval of the difference to the rule excludes 0;
- median lead time on misconduct the regulator later reached: at least 120 days;
- concern triage: real misconduct among the first N inquiries at least 1.3x the regulator's order;
- training (5 temporal folds, every candidate and reference, refit) under 60 s on a 2-core machine.
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
from risk_model.features import build_features
from risk_model.ingest.folder import ingest_folder
from risk_model.simulate.world import SimulationConfig, simulate, write_world
from risk_model.tracking.runs import log_training, run_findings
from risk_model.tracking.store import use_tracking
from risk_model.train import run_training
from risk_model.truth import read_truth


def peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2


def timed(label: str, func, timings: dict[str, list[float]]):
    start = time.perf_counter()
    value = func()
    timings.setdefault(label, []).append(time.perf_counter() - start)
    print(f"  {label:<30} {timings[label][-1]:7.2f} s   peak RSS so far {peak_rss_gib():5.2f} GiB", flush=True)
    return value


def _findings_table(table: pd.DataFrame, name: str, champion: str) -> str:
    mine = table.loc[(table["review_list"] == name) & table["period"].isin(["all", "holdout"])]
    keep = [champion, "true_risk", "full_information", "regulator", "random"]
    keep += [m for m in mine["model"].unique() if m.startswith(("rule_baseline", "concern_queue"))]
    # then the other candidates, which lost the choice on the earlier folds' labels
    keep += [m for m in mine["model"].unique() if m not in keep]
    rows = []
    for period in ("holdout", "all"):
        for model in keep:
            r = mine.loc[(mine["model"] == model) & (mine["period"] == period)]
            if r.empty:
                continue
            r = r.iloc[0]
            rows.append({
                "list": model + (" *" if model == champion else ""),
                "folds": "held out" if period == "holdout" else f"all {int(r['folds'])}",
                "k": int(round(r["k"])),
                "found (95% CI)": f"{r['hits']:.0f} = {r['precision']:.1%} ({r['precision_low']:.1%}-"
                                  f"{r['precision_high']:.1%})",
                "not reached": round(float(r["hits_not_reached"]), 1),
                "expected": round(float(r["expected_found"]), 1),
                "recall": f"{r['recall']:.1%}",
                "reached later": round(float(r["reached_later"]), 1),
                "median days earlier": r["lead_days_median"],
                "substantiated (labels)": "-" if pd.isna(r["label_share"]) else f"{r['label_share']:.1%}",
            })
    return pd.DataFrame(rows).to_string(index=False)


def _per_fold(per_fold: pd.DataFrame, name: str, champion: str, measure: str) -> str:
    mine = per_fold.loc[per_fold["review_list"] == name]
    wide = mine.pivot_table(index="model", columns="fold", values=measure, aggfunc="first")
    wide["median"] = wide.median(axis=1)
    order = [m for m in (champion, "full_information", "true_risk", "regulator", "random") if m in wide.index]
    order += [m for m in wide.index if m not in order and m.startswith(("rule_baseline", "concern_queue"))]
    return wide.loc[order].round(1).to_string()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--charities", type=int, default=25_000)
    parser.add_argument("--years", default="2008-2025")
    parser.add_argument("--seed", type=int, default=20_260_101, help="seed of the simulated world")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--config", type=Path, default=None, help="an experiment file (default: the packaged one)")
    args = parser.parse_args()
    first, last = (int(y) for y in args.years.split("-"))
    config = load_config(args.config)
    timings: dict[str, list[float]] = {}
    result = None
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "world"
        for repeat in range(args.repeats):
            print(f"repeat {repeat + 1}/{args.repeats}")
            world = timed("simulate", lambda: simulate(SimulationConfig(
                charities=args.charities, first_year=first, last_year=last, seed=args.seed)), timings)
            timed("write files", lambda: write_world(world, data_dir), timings)
            tables = timed("ingest", lambda: ingest_folder(data_dir), timings)
            truth = read_truth(data_dir)
            result = timed("train (5 folds, refit)", lambda: run_training(
                tables.register, tables.returns, tables.case_log, config, truth), timings)
            use_tracking(config.tracking, Path(tmp) / "mlruns")
            example = build_features(tables.register, tables.returns, tables.case_log, result.training_as_of[-1])
            timed("log to MLflow", lambda: log_training(result, config, {}, tables.accounts, tables.rejections,
                                                          example, str(data_dir)), timings)
    per_fold, table, diffs, goals = run_findings(result, config)
    print()
    print(f"world: {args.charities:,} charities, {first}-{last}, seed {args.seed}; test folds: "
          f"{', '.join(f.name for f in result.folds)} (the latest held out from choosing); "
          f"capacities {result.capacities}")
    print(f"{'stage':<32}{'median s':>10}")
    for label, values in timings.items():
        print(f"{label:<32}{statistics.median(values):>10.2f}")
    print(f"peak RSS (whole run): {peak_rss_gib():.2f} GiB")
    for name, measure in (("proactive", "hits_not_reached"), ("triage", "hits")):
        champion = result.champions[name]
        print()
        print(f"== {name} list; champion: {champion} (chosen on the folds before the latest)")
        print(_findings_table(table, name, champion))
        print(f"\n{measure} per fold (and the median over folds):")
        print(_per_fold(per_fold, name, champion, measure))
        d = diffs.loc[diffs["review_list"] == name]
        print("\npaired bootstrap, champion minus each other list, every test fold (95% interval):")
        print(d[["against", "measure", "difference", "difference_low", "difference_high"]].round(1)
              .to_string(index=False))
    train_s = statistics.median(timings["train (5 folds, refit)"])
    print()
    print("targets:")
    for _, goal in goals.iterrows():
        print(f"  [{'met' if goal['met'] else 'NOT met'}] {goal['target']}: {goal['figure']} (target {goal['threshold']})")
    print(f"  [{'met' if train_s < 60 else 'NOT met'}] training on the default world: {train_s:.1f} s (target < 60 s)")


if __name__ == "__main__":
    main()
