"""The audit as rich tables on the terminal: one section per question the inspectorate asks."""

from __future__ import annotations

import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table

from risk_model.audit.fairness import METRICS

_HEADERS = {"selection_rate": "selection@k", "precision": "precision", "false_positive_rate": "FPR",
            "false_discovery_rate": "FDR", "false_negative_rate": "FNR"}


def _pct(value: float, digits: int = 1) -> str:
    return "-" if not np.isfinite(value) else f"{100 * value:.{digits}f}%"


def _ratio_cell(ratio: float, low: float, high: float, status: str, clear: bool) -> str:
    """'1.34 (1.08-1.72)', red when flagged with an interval excluding 1, yellow when only flagged."""
    if status in ("reference", "too small", "undefined"):
        return {"reference": "ref", "too small": "too small", "undefined": "-"}[status]
    text = f"{ratio:.2f} ({low:.2f}-{high:.2f})"
    if status == "flagged":
        return f"[red]{text}[/red]" if clear else f"[yellow]{text}[/yellow]"
    return text


def _table(title: str, columns: list[str], rows: list[list[str]], caption: str | None = None) -> Table:
    table = Table(title=title, caption=caption, title_justify="left")
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*row)
    return table


def bias_tables(bias: pd.DataFrame, flagged_only: bool = False) -> list[Table]:
    """One table per attribute: each group's size and its five ratios to the reference."""
    tables = []
    for attribute, rows in bias.groupby("attribute", sort=False):
        wide = rows.pivot(index="group", columns="metric").reindex(rows["group"].unique())
        reference = rows["reference_group"].iloc[0]
        ref = rows.loc[rows["group"] == reference].set_index("metric")["value"]
        lines = []
        for group in wide.index:
            status = wide.loc[group, "status"]
            if flagged_only and group != reference and not (status == "flagged").any():
                continue
            cells = [_ratio_cell(wide.loc[group, ("ratio", m)], wide.loc[group, ("ratio_low", m)],
                                 wide.loc[group, ("ratio_high", m)], status[m],
                                 bool(wide.loc[group, ("interval_excludes_one", m)])) for m in METRICS]
            lines.append([str(group)[:44], f"{int(wide.loc[group, ('n', METRICS[0])]):,}",
                          str(int(wide.loc[group, ("selected", METRICS[0])])),
                          str(int(wide.loc[group, ("positives", METRICS[0])])), *cells])
        reference_values = ", ".join(f"{_HEADERS[m]} {_pct(ref[m])}" for m in METRICS)
        tables.append(_table(
            f"Bias audit: {attribute} (ratio to {reference}: {reference_values})",
            ["group", "n", "selected", "positives", *(_HEADERS[m] for m in METRICS)], lines,
            caption="n, selected, positives: charity-years pooled over folds. A zero count stays zero in every "
                    "resample, so a ratio of 0 has a zero-width interval: read it with its counts."))
    return tables


def band_table(bands: pd.DataFrame, title: str) -> Table:
    """Outcome rate per band with its interval and flag."""
    lines = [[str(r.band), f"{r.n:,}", str(r.positives), _pct(r.outcome_rate, 2),
              f"{_pct(r.rate_low, 2)}-{_pct(r.rate_high, 2)}", f"{r.mean_score:.4f}",
              f"[red]{r.flag}[/red]" if r.flag else ""] for r in bands.itertuples()]
    return _table(title, ["band", "n", "positives", "outcome rate", "95% interval", "mean score", "flag"], lines)


def coverage_table(coverage: pd.DataFrame) -> Table:
    """Labelled coverage at each k."""
    lines = [[f"{r.k:,}", _pct(r.share_of_list), f"{r.listed:,}", f"{r.inquired:,}", _pct(r.coverage),
              str(r.positives), _pct(r.precision, 2)] for r in coverage.itertuples()]
    return _table("Labelled coverage: listed charities ever inquired into by the end of the label window "
                  "(pooled over folds)",
                  ["k per as-of", "share of list", "listed", "inquired", "coverage", "positives", "label precision"],
                  lines)


def quota_table(quota: pd.DataFrame) -> Table:
    """Selective-label precision, true precision and the random-quota estimate, per fold and k, with
    the reviews a year the quota would need and what it can tell."""
    def error(r) -> str:
        return {"census": "exact", "too few random reviews": "unknown"}.get(r.basis, _pct(r.quota_standard_error, 2))

    lines = [[str(r.fold), f"{r.k:,}", _pct(r.label_precision, 2), _pct(r.true_precision, 2),
              _pct(r.quota_estimate, 2), error(r),
              f"{_pct(r.quota_interval_low, 2)}-{_pct(r.quota_interval_high, 2)}",
              f"{r.random_reviews:.0f}", "-" if not np.isfinite(r.reviews_needed) else f"{r.reviews_needed:,.0f}",
              r.verdict] for r in quota.itertuples()]
    return _table("Precision at k: selective labels vs the truth vs the random-quota estimate (simulated)",
                  ["fold", "k", "by labels", "true", "quota estimate", "s.e.", "95% bounds", "random reviews",
                   "needed for +/-25%", "what the quota tells"], lines,
                  caption="quota estimate: the model's picks plus a seeded random draw, each review finding the truth "
                          "in the label window. The s.e. is 'unknown' when the random reviews that reach the top k "
                          "found no misconduct: the bounds are then as wide as the data leave them.")


def label_bias_tables(table: pd.DataFrame, flagged_only: bool = False) -> list[Table]:
    """Per attribute: the model's selections against the true-risk ranking's, and labels per misconduct."""
    tables = []
    for attribute, rows in table.groupby("attribute", sort=False):
        lines = []
        for r in rows.itertuples():
            if flagged_only and r.status != "flagged":
                continue
            over = _ratio_cell(r.over_selection, r.over_selection_low, r.over_selection_high, r.status,
                               r.over_selection_low > 1 or r.over_selection_high < 1)
            relative = ("too small" if r.status == "too small" else
                        "-" if not np.isfinite(r.labels_per_misconduct_relative) else
                        f"{r.labels_per_misconduct_relative:.2f} ({r.labels_per_misconduct_low:.2f}-"
                        f"{r.labels_per_misconduct_high:.2f})")
            lines.append([str(r.group)[:44], f"{r.n:,}", str(r.model_selected), str(r.true_risk_selected), over,
                          _pct(r.label_rate, 2), _pct(r.misconduct_rate, 2), relative])
        tables.append(_table(
            f"Label bias: {attribute} (simulated truth)",
            ["group", "n", "model selected", "true-risk selected", "over-selection", "label rate",
             "misconduct rate", "labels per misconduct (rel.)"], lines))
    return tables


def heading(console: Console, title: str) -> None:
    """A section's title under a rule: printed whole and wrapped on a narrow terminal (a rule's own
    title is cut to one line, which would hide the run, list or model it names)."""
    console.rule()
    console.print(title, style="bold")


def print_report(console: Console, run, report, settings, flagged_only: bool = False) -> None:
    """Every section of an audit report, headline first."""
    first, last = report.folds[0], report.folds[-1]
    heading(console, f"Audit of run {run.run_id}: {report.review_list} list, {report.model}, judged on {report.outcome}")
    console.print(f"k = {report.capacity_k} per as-of date; {len(report.folds)} folds ({first} to {last}); "
                  f"{report.charity_years:,} charity-years. Ratios outside {settings.ratio_bounds[0]}-"
                  f"{settings.ratio_bounds[1]} are flagged (red: the {settings.confidence:.0%} interval excludes 1); "
                  f"groups under {settings.min_group_size} charity-years are too small.")
    console.print(_table("Headline", ["figure", "value"],
                         [[k.replace("_", " "), f"{v:.4f}" if abs(v) < 1 else f"{v:,.0f}"]
                          for k, v in report.summary.items()]))
    for table in bias_tables(report.bias, flagged_only):
        console.print(table)
    console.print(band_table(report.deciles, "Outcome rate by score decile (1 = lowest scores; pooled over folds)"))
    console.print(band_table(report.risk_bands, "Outcome rate by risk band"))
    if report.coverage is not None:
        console.print(coverage_table(report.coverage))
    if report.quota is not None:
        console.print(quota_table(report.quota))
    if report.label_bias is not None:
        for table in label_bias_tables(report.label_bias, flagged_only):
            console.print(table)


def print_stability(console: Console, before, after, as_of: pd.Timestamp, figures: dict, movers: pd.DataFrame,
                    factors: pd.DataFrame, show: int = 10) -> None:
    """Overlap and correlation of two runs' lists, and the leading movers with their factors."""
    heading(console, f"Stability: {before.run_id[:8]} ({before.champion}) -> {after.run_id[:8]} ({after.champion}), "
                     f"as of {as_of.date()}")
    console.print(_table("List overlap and rank correlation", ["figure", "value"],
                         [[k.replace("_", " "), f"{v:.4f}" if not float(v).is_integer() else f"{v:,.0f}"]
                          for k, v in figures.items()]))
    reasons = (factors.assign(text=factors["label"] + " " + factors["change_log_odds"].map("{:+.2f}".format))
               .groupby("charity_number")["text"].agg("; ".join) if len(factors) else pd.Series(dtype=object))
    for movement in ("entering", "leaving"):
        rows = movers.loc[movers["movement"] == movement].head(show)
        lines = [[r.charity_number, str(r.charity_name)[:36], f"{r.rank_before:,}", f"{r.rank_after:,}",
                  f"{r.score_before:.4f}", f"{r.score_after:.4f}", reasons.get(r.charity_number, "")]
                 for r in rows.itertuples()]
        console.print(_table(f"{movement.capitalize()} the top {int(figures['k'])} "
                             f"({int(figures[movement])}; first {len(rows)})",
                             ["charity", "name", "rank before", "rank after", "score before", "score after",
                              "factors that moved it (log-odds, new - old)"], lines))
