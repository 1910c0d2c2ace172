"""Model cards: what a registered version is for and how well each of its lists does, in Markdown and HTML.

The card is built from the run's own records (fold metrics, out-of-fold predictions, the
findings against the truth where there is one, config, manifest), so every figure in it can be
traced back to the run that produced the model.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from risk_model.config import ExperimentConfig
from risk_model.domain.bands import RISK_BANDS, rank_percentile, risk_band
from risk_model.evaluate import wilson_interval
from risk_model.lists.membership import LIST_TITLES, PROACTIVE, REVIEW_LISTS, TRIAGE

LABEL_TEXT = {
    "substantiated": "an inquiry opened within {h} months of the as-of date ended in guidance or regulatory action",
    "regulatory_action": "an inquiry opened within {h} months of the as-of date ended in regulatory action",
    "substantiated_given_inquiry": "of the charities with an inquiry opened within {h} months of the as-of date, "
                                   "the inquiry ended in guidance or regulatory action",
    "late_return": "the first annual return falling due within {h} months of the as-of date was not received by "
                   "its due date",
}
PURPOSE = {
    PROACTIVE: "charities with no concern in the last 12 months and no open inquiry, ordered by the chance that a "
               "review finds a substantiated problem: the proactive reviews the regulator sets capacity aside for",
    TRIAGE: "concerns received in the last 12 months that no inquiry has taken up yet, ordered by the chance that "
            "an inquiry would substantiate them: the order in which to work the complaints it has",
}


@dataclass(frozen=True)
class RunRecords:
    """What a card is made from: a training run's tables."""

    config: ExperimentConfig
    champions: dict[str, str]
    capacities: dict[str, int]
    calibration: dict[str, tuple[float, float]]
    fold_metrics: pd.DataFrame
    summary: pd.DataFrame
    predictions: pd.DataFrame
    panel_counts: pd.DataFrame
    extract_date: pd.Timestamp
    findings: pd.DataFrame | None = None  # findings.pooled, on simulated worlds
    differences: pd.DataFrame | None = None
    truth_source: str | None = None


def outcome_rate_by_band(predictions: pd.DataFrame, outcome: str) -> pd.DataFrame:
    """Observed outcome rate per risk band of one list's model, pooled over test folds, with 95% intervals."""
    parts = []
    for _, fold in predictions.groupby("fold", sort=False):
        percentile = rank_percentile(fold["score"].rank(method="first", ascending=False), len(fold))
        parts.append(pd.DataFrame({"band": risk_band(percentile).to_numpy(), "label": fold[outcome].to_numpy()}))
    pooled = pd.concat(parts, ignore_index=True).dropna(subset=["label"])
    table = pooled.groupby("band")["label"].agg(charities="size", outcomes="sum").reindex(
        [name for name, _ in RISK_BANDS]).fillna(0)
    intervals = [wilson_interval(int(o), int(c)) for o, c in zip(table["outcomes"], table["charities"])]
    table["rate"] = table["outcomes"] / table["charities"].replace(0, np.nan)
    table["rate_low"] = [i[0] for i in intervals]
    table["rate_high"] = [i[1] for i in intervals]
    return table.reset_index().rename(columns={"index": "band"})


def _fmt(value: float, digits: int = 3) -> str:
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def _pct(value: float, digits: int = 1) -> str:
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}%}"


def _sampling_note(panel_counts: pd.DataFrame, config: ExperimentConfig) -> str:
    """Sentences on the panel's subsampling (registers of millions) and each fit's (always stated)."""
    dropped = int(panel_counts["negatives_sampled_out"].sum()) if "negatives_sampled_out" in panel_counts else 0
    note = (f" Each model with plenty of negatives was fitted on a seeded {config.sampling.fit_negative_rate:.0%} of "
            "them, weighted back; every positive was kept, and every charity-year was scored in evaluation.")
    if dropped:
        note += (f" **The panel was subsampled:** {dropped:,} proactive charity-years without a case were left out "
                 "(a seeded draw), so fold metrics are measured on that sample, and read higher than they would on "
                 "the whole register.")
    return note


def _candidates_table(records: RunRecords, name: str) -> list[str]:
    target = getattr(records.config.lists, name).labels[0]
    metric = getattr(records.config.lists, name).selection_metric
    k = records.capacities[name]
    lines = [f"Candidates, on the target label ({target}), k = {k}. Means over the folds used to choose; the latest "
             "fold (held out from the choice) in the last columns:", "",
             f"| model | trained on | {metric} (choosing folds) | AUC-PR (choosing) | precision@k (held-out fold) | "
             "AUC-PR (held-out) |", "|---|---|---|---|---|---|"]
    rows = records.summary.reset_index()
    rows = rows.loc[rows["review_list"] == name]
    for _, r in rows.iterrows():
        star = " (champion)" if r["model"] == records.champions[name] else ""
        lines.append(f"| {r['model']}{star} | {r['label_definition']} | {_fmt(r.get(metric + '_mean'))} | "
                     f"{_fmt(r.get('auc_pr_mean'))} | {_fmt(r.get('holdout_precision_at_k'))} | "
                     f"{_fmt(r.get('holdout_auc_pr'))} |")
    return lines


def _truth_table(records: RunRecords, name: str) -> list[str]:
    """The champion and the references against the truth: held-out fold, then every test fold."""
    table = records.findings
    mine = table.loc[table["review_list"] == name]
    first = "hits not reached" if name == PROACTIVE else "hits"
    lines = ["", f"Against the truth of the simulated world ({records.truth_source}). The **held-out fold** "
             "is the expected performance; the other folds chose the champion and are shown for the spread:", "",
             f"| list | period | charities taken | real misconduct found (95% interval) | {first} | "
             "expected found | reached later | median days earlier |", "|---|---|---|---|---|---|---|---|"]
    keep = [records.champions[name], "true_risk", "full_information", "regulator", "random"]
    keep += [m for m in mine["model"].unique() if m not in keep]
    for period in ("holdout", "selection"):
        for model in keep:
            r = mine.loc[(mine["model"] == model) & (mine["period"] == period)]
            if r.empty:
                continue
            r = r.iloc[0]
            label = f"**{model} (champion)**" if model == records.champions[name] else model
            headline = r["hits_not_reached"] if name == PROACTIVE else r["hits"]
            lines.append(
                f"| {label} | {'held out' if period == 'holdout' else f'choosing ({int(r.folds)} folds)'} | "
                f"{r['k']:.0f} | {r['hits']:.0f} = {_pct(r['precision'])} ({_pct(r['precision_low'])}-"
                f"{_pct(r['precision_high'])}) | {headline:.0f} | {r['expected_found']:.1f} | "
                f"{r['reached_later']:.0f} | {_fmt(r['lead_days_median'], 0)} |")
    if records.differences is not None and len(records.differences):
        diffs = records.differences.loc[records.differences["review_list"] == name]
        lines += ["", f"Paired bootstrap (charities resampled within each fold, every test fold): the champion's "
                  f"{first} minus each other list's.", "", "| against | difference | 95% interval |", "|---|---|---|"]
        for _, d in diffs.iterrows():
            lines.append(f"| {d['against']} | {d['difference']:+.0f} | {d['difference_low']:+.0f} to "
                         f"{d['difference_high']:+.0f} |")
    return lines


def render_markdown(*, model_name: str, version: str, run_id: str, records: RunRecords,
                    manifest: dict | None = None, bias_summary: pd.DataFrame | None = None) -> str:
    """The model card as Markdown."""
    config, counts = records.config, records.panel_counts
    h = config.label.horizon_months
    champions = "; ".join(f"{LIST_TITLES[n]}: **{records.champions[n]}**" for n in REVIEW_LISTS)
    lines = [
        f"# Model card: {model_name} version {version}",
        "",
        f"Two review lists in one artefact ({champions}). Training run: `{run_id}`. Extract date of the data: "
        f"{records.extract_date.date()}.",
        "",
        "## Intended use",
        "",
        "To help a charity regulator decide where to look, with two lists:",
        "",
        *[f"- **{LIST_TITLES[n]}** ({records.capacities[n]} a year): {PURPOSE[n]}." for n in REVIEW_LISTS],
        "",
        "**A high score is not a finding of wrongdoing**; it is a reason to look. The lists support, and do not "
        "replace, a case officer's judgement, and each charity's reasons should be read before acting.",
        "",
        "## Training data and period",
        "",
        f"Yearly as-of dates on {records.extract_date:%d %B} (the extract date's point in the filing cycle) from "
        f"{pd.Timestamp(counts['as_of'].min()).date()} to {pd.Timestamp(counts['as_of'].max()).date()} "
        f"({len(counts)} dates): {int(counts['on_proactive_list'].sum()):,} charity-years on the proactive list, "
        f"{int(counts['on_triage_list'].sum()):,} on the triage list, {int(counts['with_case_in_window'].sum()):,} "
        f"with an inquiry opened in their window. {int(counts['excluded_no_profile'].sum()):,} charity-years whose "
        "register entry records no profile were left out (in OSCR's files a blank profile marks a charity later "
        "removed). Features use only what the regulator knew at each as-of date; the triage list reads a "
        "charity-year into which an inquiry opened as it stood on the day the inquiry opened (its case-log "
        "history up to that day, the concern waiting), as a list scored that day would."
        + _sampling_note(counts, config),
        "",
        "## Labels and their known biases",
        "",
        "A case is an inquiry, anchored on the day it opened and followed to its outcome, so long inquiries count "
        "like short ones. Training for a fold uses only outcomes known by the fold's test date: a case still open "
        "then is censored (its charity-year is left out of that fit), never guessed. Labels tried:",
        "",
        *[f"- `{d}`: {LABEL_TEXT[d].format(h=h)}." for d in dict.fromkeys(
            label for n in REVIEW_LISTS for label in getattr(config.lists, n).labels)],
        "",
        "Labels exist only where the regulator looked: inquiries follow complaints, and complaints follow "
        "visibility as well as misconduct. These are **selective labels**: misconduct nobody complains about "
        "counts as negative, so a list can score well on labels by predicting complaints. On simulated data the "
        "lists are judged against the truth below.",
        "",
        "## Performance over temporal folds",
        "",
        f"Each fold tests on one as-of date, training only on earlier dates whose windows had closed, and leaves "
        f"{config.label.follow_up_months} months after its window for its cases to close. The champion of each "
        f"list was chosen on every fold but the latest ({records.fold_metrics['fold'].max()}); the latest gives the "
        "figures quoted as expected.",
    ]
    for name in REVIEW_LISTS:
        lines += ["", f"### {LIST_TITLES[name].capitalize()}", "", PURPOSE[name].capitalize() + ".", ""]
        if name == TRIAGE:
            lines += ["Judged on the inquiries the regulator opened in each window: of the first "
                      f"{records.capacities[name]}, in the list's order against the order the regulator opened them "
                      "in, how many were substantiated. (The regulator chose which concerns to take up with the "
                      "concern's own content, which no model here sees.)", ""]
        lines += _candidates_table(records, name)
        if records.findings is not None:
            lines += _truth_table(records, name)
        slope, intercept = records.calibration.get(name, (1.0, 0.0))
        target = getattr(config.lists, name).labels[0]
        champion_rows = records.predictions.loc[(records.predictions["review_list"] == name)
                                                & (records.predictions["model"] == records.champions[name])]
        bands = outcome_rate_by_band(champion_rows, f"label_{target}")
        lines += ["", f"Scores are calibrated on the held-out fold (log-odds x {slope:.3f} {intercept:+.3f}), so a "
                  f"score reads as the chance of the target label. Outcome rate by band, pooled over the test folds "
                  "(95% Wilson intervals):", "", "| band | charities | outcomes | rate | 95% interval |",
                  "|---|---|---|---|---|"]
        for _, b in bands.iterrows():
            lines.append(f"| {b['band']} | {int(b['charities']):,} | {int(b['outcomes'])} | {_fmt(b['rate'], 4)} | "
                         f"{_fmt(b['rate_low'], 4)}-{_fmt(b['rate_high'], 4)} |")
    lines += ["", "## Bias audit", ""]
    if bias_summary is None or bias_summary.empty:
        lines.append("No bias audit has been recorded for this run yet: run `risk-model audit "
                     f"{run_id}` and read its report before relying on the lists.")
    else:
        lines += ["| " + " | ".join(map(str, bias_summary.columns)) + " |",
                  "|" + "---|" * len(bias_summary.columns)]
        lines += ["| " + " | ".join(map(str, r)) + " |" for r in bias_summary.itertuples(index=False)]
    lines += [
        "",
        "## Limitations",
        "",
        "- Few cases a year: figures move a lot from fold to fold; read them with their intervals.",
        "- Selective labels (above): on real data the lists can only be checked against what inquiries found; a "
        "random-review quota (`risk-model rank --random-quota`) gives an unbiased check.",
        "- The model sees only the register, the annual returns and the case log; it knows nothing a charity has "
        "not filed, and nothing of what a concern says.",
        "- Lists are scored where training was: at the extract date's point in the filing cycle. A list for "
        "another day of the year is scored with the same model, and `risk-model rank` says so.",
        "",
        "## How to reproduce",
        "",
        f"`risk-model reproduce {run_id}` re-runs training and ranking from this run's manifest and reports, "
        "check by check, whether the data, configuration, code and packages match and whether the ranked "
        "lists are identical.",
    ]
    if manifest:
        lines += ["", f"Code: commit `{manifest['code']['commit']}`"
                  + (" (with uncommitted changes)" if manifest['code']['dirty'] else "")
                  + f"; config hash `{manifest['config']['hash'][:16]}`; ranked lists sha256 "
                  f"`{manifest['ranking_sha256'][:16]}`."]
    return "\n".join(lines) + "\n"


def markdown_to_html(markdown_text: str, title: str) -> str:
    """A self-contained HTML page for the card (no external assets)."""
    import markdown  # deferred on purpose: only the HTML card needs it

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
