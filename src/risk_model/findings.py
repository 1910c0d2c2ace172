"""What each review list found, judged against the truth, beside the references.

From a training run's out-of-fold predictions (`train.cross_validate`, with the truth joined on a
simulated world), per list, model and fold:

- the proactive list takes its capacity k; it is judged on misconduct found, on misconduct the
  complaint process did not reach within the window, and on the days it named the misconduct
  the regulator did later reach;
- the concern-triage list orders the inquiries the regulator opened in the window; it is judged
  on the first N (its capacity, or all of them if fewer): how many were real misconduct, and,
  from the case log, how many inquiries were substantiated (guidance or regulatory action).

The references: the ranking by true risk (a ceiling no model passes), the full-information
learner (the ceiling for what returns and registers can show), the regulator's own inquiries
(on the proactive list, every inquiry it opened into those charities in the window; on the
triage list, the order it opened them in), and random choice (its expectation, with the range
of the draw). Folds before the latest chose the champion (`period` "selection"); the latest
played no part in that choice (`period` "holdout") and gives the figures quoted as expected.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from risk_model.evaluate import paired_difference, random_at_k, selected, truth_at_k, wilson_interval
from risk_model.lists.membership import PROACTIVE, REVIEW_LISTS, TRIAGE
from risk_model.train import FULL_INFORMATION, RANDOM, REFERENCES, REGULATOR, TRUE_RISK

# The default experiment's target labels; a run's own are in its `review_lists.json` ("targets").
TARGET_LABEL: dict[str, str] = {PROACTIVE: "label_substantiated", TRIAGE: "label_substantiated_given_inquiry"}


def target_columns(config) -> dict[str, str]:
    """The prediction column of each list's target label in an experiment."""
    return {name: f"label_{getattr(config.lists, name).labels[0]}" for name in REVIEW_LISTS}
# What each list is judged on first: misconduct nobody reached (proactive), real misconduct (triage).
HEADLINE: dict[str, str] = {PROACTIVE: "hits_not_reached", TRIAGE: "hits"}
SUMMED: tuple[str, ...] = ("k", "hits", "expected_found", "hits_not_reached", "reached_later", "label_hits",
                           "misconduct_in_population")


def list_size(name: str, model: str, rows: pd.DataFrame, capacity: int) -> int:
    """How many charities a list takes in a fold: its capacity (the regulator's own count of
    inquiries, for its reference on the proactive list), never more than there are."""
    if name == PROACTIVE and model == REGULATOR:
        return int(rows["days_to_first_inquiry"].notna().sum())
    return min(int(capacity), len(rows))


def chosen(name: str, model: str, rows: pd.DataFrame, capacity: int) -> np.ndarray:
    """The 0/1 selection of a list in one fold."""
    return selected(rows["score"].to_numpy(), list_size(name, model, rows, capacity))


def fold_findings(predictions: pd.DataFrame, capacities: dict[str, int], holdout_fold: str,
                  targets: dict[str, str] = TARGET_LABEL) -> pd.DataFrame:
    """One row per (list, model, fold): truth at k, label hits (`targets`: each list's label column),
    and the period the fold served."""
    rows = []
    for (name, model, fold), group in predictions.groupby(["review_list", "model", "fold"], sort=False):
        mask = chosen(name, model, group, capacities[name])
        labels = group[targets[name]].to_numpy(dtype=float)
        rows.append({
            "review_list": name, "model": model, "fold": fold,
            "period": "holdout" if fold == holdout_fold else "selection",
            **truth_at_k(group, mask),
            "label_hits": float(np.nansum(labels[mask])), "label_known": float((~np.isnan(labels[mask])).sum()),
        })
    for (name, fold), group in predictions.groupby(["review_list", "fold"], sort=False):
        one = group.loc[group["model"] == group["model"].iloc[0]]
        rows.append({"review_list": name, "model": RANDOM, "fold": fold,
                     "period": "holdout" if fold == holdout_fold else "selection",
                     **random_at_k(one, list_size(name, RANDOM, one, capacities[name])),
                     "label_hits": math.nan, "label_known": math.nan})
    return pd.DataFrame(rows)


def pooled(fold_table: pd.DataFrame, predictions: pd.DataFrame, capacities: dict[str, int]) -> pd.DataFrame:
    """Per (list, model, period) and over every test fold ("all"): sums over folds, precision with its
    95% Wilson interval, recall, and the median lead time over every misconduct reached later."""
    lead = _lead_days(predictions, capacities)
    parts = []
    for period in ("selection", "holdout", "all"):
        table = fold_table if period == "all" else fold_table.loc[fold_table["period"] == period]
        for (name, model), group in table.groupby(["review_list", "model"], sort=False):
            sums = group[list(SUMMED)].sum()
            low, high = (wilson_interval(int(round(sums["hits"])), int(sums["k"])) if model != RANDOM
                         else (group["precision_low"].mean(), group["precision_high"].mean()))
            days = lead.get((name, model, period), np.array([]))
            parts.append({
                "review_list": name, "model": model, "period": period, "folds": len(group), **sums.to_dict(),
                "precision": sums["hits"] / sums["k"] if sums["k"] else math.nan,
                "precision_low": low, "precision_high": high,
                "recall": sums["hits"] / sums["misconduct_in_population"] if sums["misconduct_in_population"] else math.nan,
                "lead_days_median": float(np.median(days)) if len(days) else
                float(group["lead_days_median"].median()) if model == RANDOM else math.nan,
                "label_share": sums["label_hits"] / sums["k"] if model != RANDOM and sums["k"] else math.nan,
            })
    return pd.DataFrame(parts)


def _lead_days(predictions: pd.DataFrame, capacities: dict[str, int]) -> dict:
    """Days by which each list named the misconduct the regulator later reached, pooled by period."""
    holdout = sorted(predictions["fold"].unique())[-1]
    out: dict = {}
    for (name, model, fold), group in predictions.groupby(["review_list", "model", "fold"], sort=False):
        mask = chosen(name, model, group, capacities[name])
        days = group["days_to_reach"].to_numpy()[mask & (group["reached_in_window"].to_numpy() > 0)
                                                  & (group["misconduct"].to_numpy() > 0)]
        for period in ("holdout" if fold == holdout else "selection", "all"):
            out[(name, model, period)] = np.concatenate([out.get((name, model, period), np.array([])), days])
    return out


def differences(predictions: pd.DataFrame, champions: dict[str, str], capacities: dict[str, int],
                n_boot: int, seed: int) -> pd.DataFrame:
    """Per list, the champion's headline hits minus each other list's, over every test fold, with a
    paired bootstrap 95% interval."""
    rows = []
    for name in REVIEW_LISTS:
        mine = predictions.loc[(predictions["review_list"] == name)]
        headline = HEADLINE[name]
        others = [m for m in mine["model"].unique() if m != champions[name]] + [RANDOM]
        for other in others:
            folds = []
            for fold, group in mine.groupby("fold", sort=True):
                champion = group.loc[group["model"] == champions[name]]
                outcome = _headline_outcome(champion, headline)
                first = chosen(name, champions[name], champion, capacities[name]).astype(float)
                if other == RANDOM:
                    second = np.full(len(champion), list_size(name, RANDOM, champion, capacities[name]) / len(champion))
                else:
                    theirs = group.loc[group["model"] == other]
                    if theirs.empty:
                        continue
                    theirs = theirs.set_index("charity_number").loc[champion["charity_number"]].reset_index()
                    second = chosen(name, other, theirs, capacities[name]).astype(float)
                folds.append((outcome, first, second))
            if not folds:
                continue
            observed, low, high = paired_difference(folds, n_boot, seed)
            rows.append({"review_list": name, "champion": champions[name], "against": other, "measure": headline,
                         "difference": observed, "difference_low": low, "difference_high": high,
                         "excludes_zero": bool(low > 0 or high < 0)})
    return pd.DataFrame(rows)


def _headline_outcome(rows: pd.DataFrame, headline: str) -> np.ndarray:
    misconduct = rows["misconduct"].to_numpy() > 0
    if headline == "hits_not_reached":
        return (misconduct & ~(rows["reached_in_window"].to_numpy() > 0)).astype(float)
    return misconduct.astype(float)


def targets(table: pd.DataFrame, diffs: pd.DataFrame, champions: dict[str, str], baseline: str,
            candidates_by_list: dict[str, dict[str, str]]) -> pd.DataFrame:
    """The issue's targets over every test fold ("all"), each with its figure and whether it is met.

    `candidates_by_list` maps a list to {grid model name: candidate name}, to find the baseline rule.
    """
    every = table.loc[table["period"] == "all"].set_index(["review_list", "model"])
    rows = []
    champion = every.loc[(PROACTIVE, champions[PROACTIVE])]
    rule = candidates_by_list[PROACTIVE].get(baseline)
    if rule is not None and (PROACTIVE, rule) in every.index:
        against = every.loc[(PROACTIVE, rule), "hits_not_reached"]
        ratio = champion["hits_not_reached"] / against if against else math.inf
        rows.append(_target("proactive: unreached misconduct vs the indicator rule", ratio, 2.0,
                            f"{champion['hits_not_reached']:.0f} against {against:.0f}"))
        paired = diffs.loc[(diffs["review_list"] == PROACTIVE) & (diffs["against"] == rule)]
        if len(paired):
            d = paired.iloc[0]
            rows.append({"target": "proactive: paired interval of the difference to the rule excludes 0",
                         "figure": f"{d['difference']:+.0f} ({d['difference_low']:+.0f} to {d['difference_high']:+.0f})",
                         "threshold": "excludes 0", "met": bool(d["excludes_zero"] and d["difference"] > 0)})
    if (PROACTIVE, FULL_INFORMATION) in every.index:
        ceiling = every.loc[(PROACTIVE, FULL_INFORMATION), "hits_not_reached"]
        rows.append(_target("proactive: unreached misconduct vs the full-information learner",
                            champion["hits_not_reached"] / ceiling if ceiling else math.nan, 0.85,
                            f"{champion['hits_not_reached']:.0f} against {ceiling:.0f}", share=True))
    rows.append({"target": "proactive: median lead time on misconduct the regulator later reached (days)",
                 "figure": f"{champion['lead_days_median']:.0f} over {champion['reached_later']:.0f} reached",
                 "threshold": ">= 120", "met": bool(champion["lead_days_median"] >= 120)})
    triage = every.loc[(TRIAGE, champions[TRIAGE])]
    if (TRIAGE, REGULATOR) in every.index:
        own = every.loc[(TRIAGE, REGULATOR)]
        rows.append(_target("triage: real misconduct among the first N inquiries vs the regulator's order",
                            triage["precision"] / own["precision"] if own["precision"] else math.nan, 1.3,
                            f"{triage['precision']:.1%} against {own['precision']:.1%}"))
        rows.append(_target("triage: substantiated inquiries among the first N vs the regulator's order (labels)",
                            triage["label_share"] / own["label_share"] if own["label_share"] else math.nan, 1.3,
                            f"{triage['label_share']:.1%} against {own['label_share']:.1%}"))
    return pd.DataFrame(rows)


def _target(name: str, ratio: float, threshold: float, detail: str, share: bool = False) -> dict:
    figure = f"{ratio:.0%} ({detail})" if share else f"{ratio:.2f}x ({detail})"
    return {"target": name, "figure": figure, "threshold": f">= {threshold:.0%}" if share else f">= {threshold}x",
            "met": bool(np.isfinite(ratio) and ratio >= threshold)}


def references_first(table: pd.DataFrame) -> pd.DataFrame:
    """Rows ordered for reading: per list, the candidates, then the references in a fixed order."""
    order = {name: i for i, name in enumerate(REFERENCES)}
    key = table["model"].map(lambda m: (1, order.get(m, 0)) if m in order else (0, 0))
    return table.assign(_key=key).sort_values(["review_list", "_key"], kind="stable").drop(columns="_key")


__all__ = ["TRUE_RISK", "fold_findings", "pooled", "differences", "targets", "references_first"]
