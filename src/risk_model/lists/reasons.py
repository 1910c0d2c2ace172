"""Reason codes: each chosen factor as a plain-English sentence from the charity's own values,
with its source (which return, or which case-log event) and its group."""

from __future__ import annotations

import numpy as np
import pandas as pd

from risk_model.domain.factors import FACTOR_BY_ID, FACTORS
from risk_model.lists.changes import (
    CHANGE_FACTORS,
    change_sentences,
    format_dates,
    latest_return_sources,
)
from risk_model.lists.evidence import evidence, needs
from risk_model.lists.explain import top_factors
from risk_model.lists.points import material

REASON_COLUMNS: tuple[str, ...] = (
    "charity_number", "direction", "position", "factor", "label", "group", "contribution_log_odds",
    "contribution_points", "sentence", "source",
)


def _missing(value) -> bool:
    """pd.isna for one scalar, without its dispatch cost (called for every sentence)."""
    return value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and value != value)


def _date(value) -> str:
    if isinstance(value, str):
        return value
    return "unknown date" if _missing(value) else pd.Timestamp(value).strftime("%d %b %Y").lstrip("0")


def _year(value) -> str:
    if isinstance(value, str):
        return value[-4:] if value[-4:].isdigit() else "?"
    return "?" if _missing(value) else str(pd.Timestamp(value).year)


def _records(frame: pd.DataFrame) -> list[dict]:
    """Rows as plain dicts of Python scalars, dates already formatted as text.

    Built column-wise from numpy object arrays: far cheaper than DataFrame.to_dict for the
    hundred thousand rows of a whole register's reasons."""
    names = list(frame.columns)
    arrays = []
    for column in names:
        values = frame[column]
        if pd.api.types.is_datetime64_any_dtype(values):
            arrays.append(format_dates(values))
        elif pd.api.types.is_float_dtype(values):
            arrays.append(values.to_numpy(dtype=float).tolist())
        else:
            arrays.append(values.to_numpy(dtype=object, na_value=None).tolist())
    return [dict(zip(names, row)) for row in zip(*arrays)]


def _gbp(value) -> str:
    return "unknown" if _missing(value) else f"£{value:,.0f}"


def _count(value) -> int:
    return 0 if _missing(value) else int(value)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


# Factors whose source is the latest return received.
_CITES_LATEST_RETURN = frozenset({
    "income", "spending", "income_change", "income_sources", "charitable_spending",
    "trustees", "employees", "volunteers", "filing_record", "spending_change", "income_sources_change",
    "spending_parts_change", "trustees_change", "staff_change", "year_end_change",
})


def _latest_return_source(r) -> str:
    if r["latest_year_end"] == "unknown date" or _missing(r["latest_year_end"]):
        return "no return received"
    return f"return for year ending {_date(r['latest_year_end'])}, received {_date(r['latest_received'])}"


# Who the model compares a charity with, for a factor that is neither a risk nor a reassurance in itself.
_LIKE: dict[str, str] = {
    "income": "charities of this income", "spending": "charities spending like this",
    "income_sources": "charities with income from these sources",
    "charitable_spending": "charities spending this share on their activities",
    "trustees": "charities with this many trustees", "employees": "charities with this many employees",
    "volunteers": "charities with this many volunteers", "year_end_change": "charities whose year end moved like this",
    "filing_record": "charities with a filing record like this", "age": "charities on the register this long",
    "constitutional_form": "charities of this form", "geographical_spread": "charities with this spread",
    "regulatory_type": "charities of this regulatory type", "area": "charities operating mainly there",
    "purposes": "charities with these purposes", "beneficiaries": "charities serving these beneficiaries",
    "activities": "charities with these activities", "inquiries": "charities with this history of inquiries",
    **{factor: "charities whose returns changed like this" for factor in CHANGE_FACTORS},
}
# A fact is a risk in itself (an overdue return), a reassurance (none overdue), or neither (its area);
# `pushed` words the direction so that a reassurance is never read as why a score is higher.
RISK, REASSURING, NEUTRAL, NO_RETURN, SHORT_RECORD = "risk", "reassuring", "neutral", "no return", "short record"
_LIKE_BY_TONE = {NO_RETURN: "charities with no return on record", SHORT_RECORD: "charities with a short record"}


def pushed(fact: str, up: bool, tone: str, like: str) -> str:
    """The fact and the direction it pushes the score in, in words (`like`: whom the model compares a
    charity with, for a fact that is neither a risk nor a reassurance in itself)."""
    if tone == RISK and up or tone == REASSURING and not up:
        return f"{fact}: this {'raises' if up else 'lowers'} the score"
    if tone in (RISK, REASSURING):
        return f"{fact}; even so, the model weighs this as {'raising' if up else 'lowering'} the score"
    return f"{fact}: {like} score {'higher' if up else 'lower'}"


def _spending(r: dict, latest: str) -> tuple[str, str, str]:
    """Spending in the latest return, against income, and in the last three: one quantity, one sentence."""
    ratio, k, m = r["spend_over_income_ratio_latest"], _count(r["spend_over_income_last3"]), _count(r["last3_count"])
    fact = f"Spending of {_gbp(r['expenditure_latest_gbp'])} in the latest return"
    if not _missing(ratio):
        fact += f", {ratio:.0%} of its income of {_gbp(r['income_latest_gbp'])}"
    if m < 2:
        return fact, latest, RISK if not _missing(ratio) and ratio > 1 else NEUTRAL
    span = f"{_year(r['last3_first_year_end'])}-{_year(r['last3_last_year_end'])}"
    if k == m:
        fact += f"; spending exceeded income in each of the last {m} returns ({span})"
    elif k == 0:
        fact += f"; spending stayed within income in each of the last {m} returns ({span})"
    else:
        fact += f"; spending exceeded income in {k} of the last {m} returns ({r['last3_over_years']})"
    over = (not _missing(ratio) and ratio > 1) or k >= 2
    tone = RISK if over else REASSURING if k == 0 and (_missing(ratio) or ratio <= 1) else NEUTRAL
    return fact, f"returns for years ending {span}", tone


def _sentence_and_source(factor: str, r: dict) -> tuple[str, str, str]:
    """The fact, its source and its tone for one factor of one charity (r: its features and evidence)."""
    latest = _latest_return_source(r) if factor in _CITES_LATEST_RETURN else ""
    register = "register entry"
    no_return = r["latest_year_end"] == "unknown date" or _missing(r["latest_year_end"])
    if factor in {"income", "spending", "income_sources", "charitable_spending",
                  "trustees", "employees", "volunteers"} and no_return:
        return "No annual return has been received, so its finances are unknown", latest, NO_RETURN
    if factor == "income":
        return f"Income of {_gbp(r['income_latest_gbp'])} in the latest return", latest, NEUTRAL
    if factor == "spending":
        return _spending(r, latest)
    if factor == "year_end_change":
        if no_return:
            return "No annual return has been received, so its year end is unknown", latest, NO_RETURN
        if r["year_end_changed_latest"] == 1:
            return (f"The financial year end moved: the latest return is for the year ending "
                    f"{_date(r['latest_year_end'])}, the one before for {_date(r['previous_year_end'])}"), latest, NEUTRAL
        years = r["years_since_year_end_change"]
        if _missing(years):
            return "The financial year end has not changed in the returns on record", latest, NEUTRAL
        return f"The financial year end last changed {years:.1f} years ago", latest, NEUTRAL
    if factor == "income_sources":
        parts = [(r["trading_income_share_latest"], "trading"), (r["donations_income_share_latest"], "donations"),
                 (r["investments_income_share_latest"], "investments")]
        text = ", ".join(f"{name} {share:.0%}" for share, name in parts if not _missing(share))
        return f"Income by source in the latest return: {text or 'not given'}", latest, NEUTRAL
    if factor == "charitable_spending":
        share = r["charitable_spending_share_latest"]
        if _missing(share):
            return "No breakdown of spending in the latest return", latest, NEUTRAL
        return f"{share:.0%} of spending went on charitable activities in the latest return", latest, NEUTRAL
    if factor in {"trustees", "employees", "volunteers"}:
        value = r[f"{factor}_latest"]
        word = {"trustees": "trustee", "employees": "employee", "volunteers": "volunteer"}[factor]
        if _missing(value):
            return f"The latest return gives no number of {factor}", latest, NEUTRAL
        return f"{_plural(int(value), word)} recorded in the latest return", latest, NEUTRAL
    if factor == "overdue_returns":
        n = _count(r["returns_outstanding"])
        if n == 0:
            return "No annual return is overdue", "filing record", REASSURING
        ye, due = r["oldest_overdue_year_end"], r["oldest_overdue_due"]
        return (f"{_plural(n, 'annual return')} overdue; the oldest, for the year ending {_date(ye)}, "
                f"was due {_date(due)} and is {int(r['days_overdue_oldest_outstanding'])} days late"), (
            f"return for year ending {_date(ye)}, not received"), RISK
    if factor == "late_returns":
        late, due_n = _count(r["returns_late"]), _count(r["returns_due"])
        if late == 0:
            return (f"Every return received was filed on time ({_plural(due_n, 'return')} due)", "filing record",
                    REASSURING)
        return (f"{late} of {due_n} returns due were filed late, on average {r['mean_days_late']:.0f} days "
                f"after the due date"), "filing record", RISK
    if factor == "filing_record":
        due_n = _count(r["returns_due"])
        if no_return:
            return f"No annual return received ({_plural(due_n, 'return')} due)", "filing record", NO_RETURN
        record = f"Only {_plural(due_n, 'return')} due" if due_n <= 2 else f"{_plural(due_n, 'return')} due"
        return (f"{record} since registration; the latest accounts are for the year ending "
                f"{_date(r['latest_year_end'])}"), latest, SHORT_RECORD if due_n <= 2 else NEUTRAL
    if factor == "age":
        return f"On the register for {r['age_years']:.1f} years", register, NEUTRAL
    if factor in {"constitutional_form", "geographical_spread", "regulatory_type"}:
        return f"{FACTOR_BY_ID[factor].label.capitalize()}: {r[factor]}", register, NEUTRAL
    if factor == "area":
        return f"Operates mainly in {r['main_operating_location']}", register, NEUTRAL
    if factor in {"purposes", "beneficiaries", "activities"}:
        prefix = {"purposes": "purpose__", "beneficiaries": "beneficiary__", "activities": "activity__"}[factor]
        items = [c.removeprefix(prefix).replace("_", " ") for c in r if c.startswith(prefix) and r[c] == 1]
        return f"{FACTOR_BY_ID[factor].label.capitalize()}: {', '.join(items) or 'none recorded'}", register, NEUTRAL
    if factor == "concerns":
        n = _count(r["concerns_prior"])
        if n == 0:
            return "No concerns have been received about this charity", "case log", REASSURING
        recent = _count(r["concerns_last_12m"])
        waiting = ", not yet taken up by an inquiry" if r["open_concern"] == 1 else ""
        return (f"{_plural(n, 'concern')} received, {recent} in the last 12 months; the latest on "
                f"{_date(r['last_concern'])}{waiting}"), f"case log: concern received {_date(r['last_concern'])}", RISK
    if factor == "inquiries":
        n = _count(r["inquiries_prior"])
        inquiries = _plural(n, "previous inquiry").replace("inquirys", "inquiries")
        if r["open_inquiry"] == 1:
            return f"An inquiry is open ({inquiries.replace('previous ', '')} opened in all)", "case log", RISK
        if n == 0:
            return "No previous inquiries", "case log", REASSURING
        actions = _count(r["regulatory_actions_prior"])
        source = (f"case log: inquiry closed {_date(r['last_inquiry_closed'])} ({r['last_inquiry_outcome']})"
                  if r["last_inquiry_closed"] != "unknown date" else "case log")
        return f"{inquiries}, {actions} ending in regulatory action", source, RISK if actions else NEUTRAL
    raise KeyError(f"no sentence for factor {factor!r}")


def reason_codes(
    features: pd.DataFrame,
    factor_values: pd.DataFrame,
    returns: pd.DataFrame,
    case_log: pd.DataFrame,
    n: int = 3,
    *,
    base_log_odds=None,
    rule_points: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Top-n factors raising and top-n lowering each charity's score, with sentence and source.

    With `base_log_odds` (per row of `factor_values`), each reason's step in percentage points
    (`points`), and a reason whose step is negligible is left out. With `rule_points` (a rule's points
    by factor, NaN for rows of other models), a rule's reasons name the points its indicators scored."""
    as_of = pd.Timestamp(features["as_of"].iloc[0]) if len(features) else pd.Timestamp.now()
    chosen = top_factors(factor_values, n)
    if base_log_odds is None:
        chosen["contribution_points"] = np.nan
    else:
        chosen = material(chosen, pd.Series(np.asarray(base_log_odds, dtype=float), index=factor_values.index),
                          key="index").reset_index(drop=True)
    facts = features.join(evidence(returns, case_log, as_of), on="charity_number")
    told = np.empty(len(chosen), dtype=object)  # each fact, before the direction it pushes in
    tones = np.full(len(chosen), NEUTRAL, dtype=object)
    sources = np.empty(len(chosen), dtype=object)
    # One pass per factor over just the rows and columns it needs: a whole register in well
    # under a second, where a row-by-row pass over every column would take many.
    for factor, positions in chosen.groupby("factor", sort=False).indices.items():
        needed = [c for c in facts.columns if needs(factor, c)]
        if factor in CHANGE_FACTORS:
            frame = facts.loc[chosen["index"].to_numpy()[positions], needed]
            told[positions] = change_sentences(factor, frame)
            sources[positions] = latest_return_sources(frame)
            continue
        records = _records(facts.loc[chosen["index"].to_numpy()[positions], needed])
        triples = [_sentence_and_source(factor, r) for r in records]
        told[positions] = [t[0] for t in triples]
        sources[positions] = [t[1] for t in triples]
        tones[positions] = [t[2] for t in triples]
    met = _rule_points_of(chosen, rule_points)
    sentences = [f"{fact}: scores {_plural(int(p), 'point')} on the rule's risk indicators" if p == p
                 else pushed(fact, direction == "up", tone,
                             _LIKE_BY_TONE.get(tone) or _LIKE.get(factor, "charities like this"))
                 for fact, factor, direction, tone, p in zip(told, chosen["factor"], chosen["direction"], tones, met)]
    rows = facts.loc[chosen["index"].to_numpy()]
    chosen["charity_number"] = rows["charity_number"].to_numpy()
    chosen["label"] = chosen["factor"].map({f: factor.label for f, factor in FACTOR_BY_ID.items()})
    chosen["group"] = chosen["factor"].map({f: factor.group for f, factor in FACTOR_BY_ID.items()})
    chosen["sentence"] = sentences
    chosen["source"] = sources
    return chosen[list(REASON_COLUMNS)]


def _rule_points_of(chosen: pd.DataFrame, rule_points: pd.DataFrame | None) -> np.ndarray:
    """The points a rule scored for each chosen reason's factor; NaN where a row was not scored by a rule."""
    if rule_points is None or not len(chosen):
        return np.full(len(chosen), np.nan)
    table = rule_points.reindex(columns=[f.id for f in FACTORS]).to_numpy(dtype=float)
    column = {f.id: i for i, f in enumerate(FACTORS)}
    return table[rule_points.index.get_indexer(chosen["index"]), chosen["factor"].map(column).to_numpy()]
