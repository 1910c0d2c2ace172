"""Model cards: what a registered model is for and how well it does, in Markdown and HTML.

The card is built from the run's own records (fold metrics, out-of-fold predictions, config,
manifest), so every figure in it can be traced back to the run that produced the model.
"""

from __future__ import annotations

import html
import math

import numpy as np
import pandas as pd

from risk_model.config import ExperimentConfig
from risk_model.rank import RISK_BANDS, risk_band

LABEL_TEXT = {
    "regulatory_action": "an inquiry closed with regulatory action within {h} months of the as-of date",
    "late_return": "the first annual return falling due within {h} months of the as-of date was not "
                   "received by its due date",
}


def wilson_interval(successes: float, n: float, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval for a proportion (sensible at the small counts of inquiries)."""
    if n == 0:
        return (math.nan, math.nan)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def outcome_rate_by_band(predictions: pd.DataFrame) -> pd.DataFrame:
    """Observed outcome rate per risk band, pooled over test folds, with 95% intervals."""
    parts = []
    for _, fold in predictions.groupby("fold", sort=False):
        n = len(fold)
        rank = fold["score"].rank(method="first", ascending=False)
        percentile = 100.0 * (n - rank) / max(n - 1, 1)
        parts.append(pd.DataFrame({"band": risk_band(percentile).to_numpy(), "label": fold["label"].to_numpy()}))
    pooled = pd.concat(parts, ignore_index=True)
    table = pooled.groupby("band")["label"].agg(charities="size", outcomes="sum").reindex(
        [name for name, _ in RISK_BANDS]).fillna(0)
    intervals = [wilson_interval(o, c) for o, c in zip(table["outcomes"], table["charities"])]
    table["rate"] = table["outcomes"] / table["charities"].replace(0, np.nan)
    table["rate_low"] = [i[0] for i in intervals]
    table["rate_high"] = [i[1] for i in intervals]
    return table.reset_index().rename(columns={"index": "band"})


def _fmt(value: float, digits: int = 3) -> str:
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def _sampling_note(panel_counts: pd.DataFrame) -> str:
    """A sentence stating that negatives were subsampled, or nothing when every one was kept."""
    dropped = int(panel_counts["negatives_sampled_out"].sum()) if "negatives_sampled_out" in panel_counts else 0
    if not dropped:
        return ""
    negatives = int(panel_counts["labelled"].sum() - panel_counts["positives"].sum())
    return (f" **Negatives were subsampled:** {negatives - dropped:,} of {negatives:,} negative charity-years were "
            "kept (a seeded random draw; every positive was kept). Fold metrics are measured on that sample, so "
            "precision at k is higher than it would be on the whole register, and scores rank charities but are "
            "not calibrated probabilities.")


def render_markdown(
    *,
    model_name: str,
    version: str,
    run_id: str,
    champion: str,
    config: ExperimentConfig,
    fold_metrics: pd.DataFrame,
    summary: pd.DataFrame,
    predictions: pd.DataFrame,
    panel_counts: pd.DataFrame,
    extract_date: pd.Timestamp,
    manifest: dict | None = None,
    bias_summary: pd.DataFrame | None = None,
) -> str:
    """The model card as Markdown."""
    k = config.evaluation.capacity_k
    label = LABEL_TEXT[config.label.definition].format(h=config.label.horizon_months)
    folds = fold_metrics.loc[fold_metrics["model"] == champion].sort_values("test_as_of")
    row = summary.loc[champion]
    lines = [
        f"# Model card: {model_name} version {version}",
        "",
        f"Model: **{champion}** (sklearn Pipeline: preprocessing and model together). "
        f"Training run: `{run_id}`. Extract date of the data: {extract_date.date()}.",
        "",
        "## Intended use",
        "",
        f"To prioritise a charity regulator's reviews: each year, order the charities on the register by "
        f"risk so that the inquiry capacity (k = {k} charities) goes first where problems are likeliest. "
        "**A high score is not a finding of wrongdoing**; it is a reason to look. The list supports, and "
        "does not replace, a case officer's judgement, and each charity's reasons should be read before acting.",
        "",
        "## Training data and period",
        "",
        f"Yearly as-of dates from {panel_counts['as_of'].min().date()} to {panel_counts['as_of'].max().date()} "
        f"({len(panel_counts)} dates, {int(panel_counts['labelled'].sum()):,} charity-years, "
        f"{int(panel_counts['positives'].sum()):,} positive). Features use only what the regulator knew at "
        "each as-of date: returns received by then, case-log events before it, and registration details."
        + _sampling_note(panel_counts),
        "",
        "## Label and its known biases",
        "",
        f"Positive when {label}. Labels exist only where the regulator looked: inquiries follow complaints, "
        "and complaints follow visibility (size, city location, public profile) as well as misconduct. "
        "These are **selective labels**: a charity that misbehaves unseen counts as negative, and the model "
        "can learn who gets complained about as well as who misbehaves. Charities already under an open "
        "inquiry at an as-of date are left out."
        + (f" {int(panel_counts['excluded_open_inquiry'].sum()):,} charity-years were left out for that reason."
           if "excluded_open_inquiry" in panel_counts else ""),
        "",
        "## Performance over temporal folds",
        "",
        "Each fold tests on one as-of date, training only on earlier dates whose label windows had closed.",
        "",
        f"| test as-of | charities | positives | precision@{k} | recall@{k} | AUC-PR | AUC-ROC | Brier |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for _, f in folds.iterrows():
        lines.append(f"| {pd.Timestamp(f['test_as_of']).date()} | {int(f['n']):,} | {int(f['positives'])} | "
                     f"{_fmt(f['precision_at_k'])} | {_fmt(f['recall_at_k'])} | {_fmt(f['auc_pr'])} | "
                     f"{_fmt(f['auc_roc'])} | {_fmt(f['brier'], 4)} |")
    lines += [
        f"| **mean ± sd** | | | **{_fmt(row['precision_at_k_mean'])} ± {_fmt(row['precision_at_k_std'])}** | "
        f"{_fmt(row['recall_at_k_mean'])} ± {_fmt(row['recall_at_k_std'])} | "
        f"{_fmt(row['auc_pr_mean'])} ± {_fmt(row['auc_pr_std'])} | "
        f"{_fmt(row['auc_roc_mean'])} ± {_fmt(row['auc_roc_std'])} | {_fmt(row['brier_mean'], 4)} |",
        "",
        "Comparison with the other models of the run (fold means):",
        "",
        f"| model | precision@{k} | AUC-PR | AUC-ROC | lift over baseline |",
        "|---|---|---|---|---|",
    ]
    for name, other in summary.iterrows():
        lift = other.get("lift_over_baseline", math.nan)
        lines.append(f"| {name}{' (champion)' if name == champion else ''} | {_fmt(other['precision_at_k_mean'])} | "
                     f"{_fmt(other['auc_pr_mean'])} | {_fmt(other['auc_roc_mean'])} | {_fmt(lift, 2)} |")
    bands = outcome_rate_by_band(predictions.loc[predictions["model"] == champion])
    lines += [
        "",
        "## Precision at capacity and outcome rate by score band",
        "",
        f"At capacity (the top {k} each year) the model's precision was {_fmt(row['precision_at_k_mean'])} on "
        f"average over the folds: about {row['precision_at_k_mean'] * k:.1f} positives expected among {k} "
        "reviews. Outcome rate by band, pooled over the test folds (95% Wilson intervals):",
        "",
        "| band | charities | outcomes | rate | 95% interval |",
        "|---|---|---|---|---|",
    ]
    for _, b in bands.iterrows():
        lines.append(f"| {b['band']} | {int(b['charities']):,} | {int(b['outcomes'])} | {_fmt(b['rate'], 4)} | "
                     f"{_fmt(b['rate_low'], 4)}-{_fmt(b['rate_high'], 4)} |")
    lines += ["", "## Bias audit", ""]
    if bias_summary is None or bias_summary.empty:
        lines.append("No bias audit has been recorded for this run yet: run `risk-model audit "
                     f"{run_id}` and read its report before relying on the list.")
    else:
        lines += ["| " + " | ".join(map(str, bias_summary.columns)) + " |",
                  "|" + "---|" * len(bias_summary.columns)]
        lines += ["| " + " | ".join(map(str, r)) + " |" for r in bias_summary.itertuples(index=False)]
    lines += [
        "",
        "## Limitations",
        "",
        "- Few positives a year: fold metrics move a lot from year to year (see the spread above).",
        "- Selective labels (above): precision is measured against what inquiries found, not against all "
        "misconduct; a random-review quota gives an unbiased check.",
        "- The model sees only the register, the annual returns and the case log; it knows nothing a "
        "charity has not filed.",
        "- Scores are ranks first: calibration is shown in the run's calibration plot, and bands are "
        "defined by rank percentile, not by probability.",
        "",
        "## How to reproduce",
        "",
        f"`risk-model reproduce {run_id}` re-runs training and ranking from this run's manifest and reports, "
        "check by check, whether the data, configuration, code and packages match and whether the ranked "
        "list is identical.",
    ]
    if manifest:
        lines += ["", f"Code: commit `{manifest['code']['commit']}`"
                  + (" (with uncommitted changes)" if manifest['code']['dirty'] else "")
                  + f"; config hash `{manifest['config']['hash'][:16]}`; ranked list sha256 "
                  f"`{manifest['ranking_sha256'][:16]}`."]
    return "\n".join(lines) + "\n"


def markdown_to_html(markdown_text: str, title: str) -> str:
    """A self-contained HTML page for the card (no external assets)."""
    import markdown

    body = markdown.markdown(markdown_text, extensions=["tables"])
    style = ("body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;"
             "line-height:1.5}table{border-collapse:collapse}td,th{border:1px solid #bbb;padding:.25rem .5rem}")
    return (f"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>"
            f"<style>{style}</style></head><body>{body}</body></html>\n")


def bias_summary(audit: pd.DataFrame) -> pd.DataFrame:
    """One line per group attribute for the card: groups audited, flagged (with which), too small."""
    rows = []
    for attribute, table in audit.groupby("attribute", sort=False):
        groups = table.drop_duplicates("group")
        flagged = table.loc[table["status"] == "flagged"]
        names = sorted(set(flagged["group"].astype(str)))
        rows.append({
            "attribute": attribute, "groups": len(groups),
            "too small": int((groups["status"] == "too small").sum()),
            "flagged group-metrics": len(flagged),
            "flagged groups": ", ".join(names[:6]) + (" ..." if len(names) > 6 else "") or "none",
        })
    return pd.DataFrame(rows)
