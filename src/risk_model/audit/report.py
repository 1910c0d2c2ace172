"""One audit of a training run's out-of-fold lists: fairness, score bands, selective labels.

Pure: the run's predictions (with the truth of each label window joined on simulated worlds) in,
an `AuditReport` of frames out. `cli.audit` loads the run and logs the report.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from risk_model.audit.fairness import AuditSettings, bias_audit, select_top_k
from risk_model.audit.label_bias import label_bias
from risk_model.audit.score_bands import risk_bands, score_deciles
from risk_model.audit.selective import coverage_ks, inquired_in_window, labelled_coverage, quota_check


@dataclass(frozen=True)
class AuditReport:
    """Every table of an audit; the optional ones need the case log or the simulator's answer key."""

    review_list: str
    model: str
    outcome: str
    capacity_k: int
    folds: tuple[str, ...]
    charity_years: int
    bias: pd.DataFrame
    deciles: pd.DataFrame
    risk_bands: pd.DataFrame
    coverage: pd.DataFrame | None = None
    quota: pd.DataFrame | None = None
    label_bias: pd.DataFrame | None = None
    summary: dict[str, float] = field(default_factory=dict)


def model_predictions(predictions: pd.DataFrame, review_list: str, model: str, outcome: str) -> pd.DataFrame:
    """One list's model's out-of-fold rows with a known outcome, as `label`; a clear error naming
    the models there are otherwise."""
    rows = predictions.loc[(predictions["review_list"] == review_list) & (predictions["model"] == model)]
    if rows.empty:
        there = sorted(predictions.loc[predictions["review_list"] == review_list, "model"].unique())
        raise ValueError(f"no predictions for model {model!r} on the {review_list} list; the run holds {there}")
    if outcome not in rows:
        raise ValueError(f"the run's predictions have no outcome column {outcome!r}")
    rows = rows.assign(label=rows[outcome]).dropna(subset=["label"])
    return rows.reset_index(drop=True)


def build_audit(
    predictions: pd.DataFrame,
    review_list: str,
    model: str,
    capacity_k: int,
    outcome: str,
    settings: AuditSettings = AuditSettings(),
    quota: float = 0.1,
) -> AuditReport:
    """Audit one list's model's out-of-fold lists (k per as-of date, pooled over folds) against `outcome`
    (a label column; on simulated worlds the truth columns are read too)."""
    ranked = select_top_k(model_predictions(predictions, review_list, model, outcome), capacity_k)
    report = {
        "bias": bias_audit(ranked, settings), "deciles": score_deciles(ranked), "risk_bands": risk_bands(ranked),
    }
    summary = {
        "precision_at_k_labels": float(ranked.loc[ranked["selected"], "label"].mean()),
        "flagged_ratios": float((report["bias"]["status"] == "flagged").sum()),
        "flagged_ratios_interval_excludes_one": float(
            ((report["bias"]["status"] == "flagged") & report["bias"]["interval_excludes_one"]).sum()),
        "too_small_groups": float(report["bias"].loc[report["bias"]["status"] == "too small",
                                                     ["attribute", "group"]].drop_duplicates().shape[0]),
        "deciles_not_rising": float((report["deciles"]["flag"] != "").sum()),
    }
    list_size = int(ranked.groupby("fold").size().max())
    if "days_to_first_inquiry" in ranked:
        inquired = inquired_in_window(ranked)
        report["coverage"] = labelled_coverage(ranked, inquired, coverage_ks(capacity_k, list_size))
        at = min(capacity_k, list_size)
        summary["labelled_coverage_at_k"] = float(report["coverage"].set_index("k").loc[at, "coverage"])
    if {"misconduct", "true_risk"} <= set(ranked.columns):
        truth = ranked
        report["quota"] = quota_check(truth, capacity_k, quota, settings.seed,
                                      ks=[capacity_k, 10 * capacity_k, list_size])
        report["label_bias"] = label_bias(truth, capacity_k, settings)
        summary["precision_at_k_true"] = float(truth.loc[truth["selected"], "misconduct"].mean())
        pooled_at_capacity = report["quota"].loc[report["quota"]["fold"] == "all"].iloc[0]
        summary["precision_at_k_quota_estimate"] = float(pooled_at_capacity["quota_estimate"])
        summary["over_selected_groups"] = float(((report["label_bias"]["status"] == "flagged")
                                                 & (report["label_bias"]["over_selection_low"] > 1)).sum())
    return AuditReport(review_list=review_list, model=model, outcome=outcome, capacity_k=capacity_k,
                       folds=tuple(sorted(ranked["fold"].unique())),
                       charity_years=len(ranked), summary=summary, **report)
