"""Benchmark: explain a whole register (every charity, with reason codes) and compare the
contribution step with shap.TreeExplainer on the same model and rows.

Run: python benchmarks/explain.py [--charities 25000] [--repeats 5]
Target: the whole register explained with reason codes in under 2 seconds.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import shap

from risk_model.config import load_config
from risk_model.features import build_features
from risk_model.ingest.folder import ingest_folder
from risk_model.labels import cases
from risk_model.lists.explain import explain
from risk_model.lists.reasons import reason_codes
from risk_model.models import build_pipeline, model_inputs
from risk_model.panel import build_panel, panel_labels
from risk_model.simulate.world import SimulationConfig, simulate, write_world


def median_time(func, repeats: int) -> tuple[float, object]:
    times, value = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        value = func()
        times.append(time.perf_counter() - start)
    return statistics.median(times), value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--charities", type=int, default=38_000,
                        help="charities ever registered; 38,000 leaves about 25,000 on the register")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        write_world(simulate(SimulationConfig(charities=args.charities)), Path(tmp))
        tables = ingest_folder(Path(tmp))
    dates = [pd.Timestamp(f"{y}-12-31") for y in range(2016, 2024)]
    panel, _ = build_panel(tables.register, tables.returns, tables.case_log, dates, 12)
    label = panel_labels(panel, cases(tables.case_log), tables.returns, "substantiated", 12, pd.Timestamp("2025-12-31"))
    rows = (panel["review_list"] == "proactive").to_numpy() & label.notna().to_numpy()
    spec = next(s for s in load_config().models if s.kind == "lightgbm")
    pipeline = build_pipeline(spec, seed=1).fit(model_inputs(panel.loc[rows]), label[rows].to_numpy())
    register = build_features(tables.register, tables.returns, tables.case_log, "2025-12-31")
    n = len(register)
    print(f"register: {n:,} charities as of 2025-12-31; model: {spec.name} "
          f"({spec.params.n_estimators} trees)")

    t_contrib, contributions = median_time(lambda: explain(pipeline, register), args.repeats)
    t_factors, factors = median_time(lambda: contributions.by_factor(), args.repeats)
    base = contributions.base_value_log_odds
    t_reasons, reasons = median_time(
        lambda: reason_codes(register, factors, tables.returns, tables.case_log, n=3, base_log_odds=base),
        args.repeats)

    def whole():
        explained = explain(pipeline, register)
        return reason_codes(register, explained.by_factor(), tables.returns, tables.case_log, n=3,
                            base_log_odds=explained.base_value_log_odds)

    t_total, _ = median_time(whole, args.repeats)

    encoded = pipeline[:-1].transform(model_inputs(register))
    explainer = shap.TreeExplainer(pipeline[-1])
    t_shap, shap_values = median_time(lambda: explainer.shap_values(encoded), max(1, args.repeats // 2))
    shap_values = shap_values[1] if isinstance(shap_values, list) else shap_values
    gap = float(np.max(np.abs(shap_values - contributions.columns.to_numpy())))

    print(f"{'step':<44}{'median s':>10}")
    print(f"{'contributions (LightGBM pred_contrib)':<44}{t_contrib:>10.3f}")
    print(f"{'summed to factors':<44}{t_factors:>10.3f}")
    print(f"{'reason codes (3 up, 3 down, sentences)':<44}{t_reasons:>10.3f}")
    print(f"{'whole register, end to end':<44}{t_total:>10.3f}")
    print(f"{'shap.TreeExplainer contributions only':<44}{t_shap:>10.3f}")
    print(f"reason rows: {len(reasons):,}; max |ours - shap| = {gap:.2e}")
    print(f"ratio, shap.TreeExplainer / pred_contrib (same model, same rows): {t_shap / t_contrib:.1f}x")
    print(f"target: whole register with reasons < 2 s -> {t_total:.2f} s")


if __name__ == "__main__":
    main()
