"""Outcome labels for each charity in a horizon after an as-of date, from the case log or returns.

A *case* is an inquiry, anchored on the day it opened and followed to its outcome. The label
window starts on the as-of date and runs for `horizon_months`: [as_of, as_of + horizon); a case
belongs to the window its inquiry opened in, however long it then takes to close, so long
inquiries are labelled like short ones. Features see only events strictly before the as-of
date, so the two never share an event.

An outcome is known only once the inquiry has closed. Training for a fold may use only what was
known by the fold's test date (`known_by`): a case opened in the window but still open then is
*censored*, and the charity's label is missing (NaN) rather than guessed, so it is left out of
that fit. Worked example, horizon 12 months, as-of 2019-12-31, fold test date 2020-12-31:

    inquiry opened 2020-03-02, closed 2020-09-14 with guidance   -> substantiated: 1
    inquiry opened 2020-11-20, closed 2021-05-01 with action     -> censored for this fold: NaN
                                                                    (1 once the cutoff passes 2021-05-01)
    no inquiry opened in the window                               -> 0

Label definitions:

- `substantiated`: a case opened in the window ended in guidance or regulatory action;
- `regulatory_action`: a case opened in the window ended in regulatory action;
- `substantiated_given_inquiry`: only charities with a case opened in the window are labelled
  (1 if substantiated), the others are NaN: the inspected population, as food-inspection models
  are trained on inspected establishments;
- `late_return`: the first return falling due in the window was not received by its due date.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from risk_model.features import due_dates

SUBSTANTIATED_OUTCOMES: tuple[str, ...] = ("guidance_issued", "regulatory_action")
CASE_COLUMNS: tuple[str, ...] = ("charity_number", "opened", "closed", "outcome")
LABEL_DEFINITIONS: tuple[str, ...] = ("substantiated", "regulatory_action", "substantiated_given_inquiry",
                                      "late_return")
CASE_LABELS: dict[str, tuple[str, ...]] = {
    "substantiated": SUBSTANTIATED_OUTCOMES,
    "regulatory_action": ("regulatory_action",),
    "substantiated_given_inquiry": SUBSTANTIATED_OUTCOMES,
}


def label_window(as_of: pd.Timestamp, horizon_months: int) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The half-open label window [start, end) for an as-of date."""
    as_of = pd.Timestamp(as_of).normalize()
    return as_of, as_of + pd.DateOffset(months=horizon_months)


def cases(case_log: pd.DataFrame) -> pd.DataFrame:
    """One row per inquiry: its charity, the day it opened, and its closing day and outcome (NaT/NA
    while still open). Each opening is paired with the first closing on or after it."""
    events = case_log.sort_values(["date"], kind="stable")
    opened = events.loc[events["event"] == "inquiry_opened", ["charity_number", "date"]]
    closed = events.loc[events["event"] == "inquiry_closed", ["charity_number", "date", "outcome"]]
    if opened.empty:
        return pd.DataFrame({"charity_number": pd.Series(dtype="string"), "opened": pd.Series(dtype="datetime64[ns]"),
                             "closed": pd.Series(dtype="datetime64[ns]"), "outcome": pd.Series(dtype="string")})
    paired = pd.merge_asof(
        opened.rename(columns={"date": "opened"}).astype({"charity_number": object}),
        closed.rename(columns={"date": "closed"}).assign(at=lambda f: f["closed"]).astype({"charity_number": object}),
        left_on="opened", right_on="at", by="charity_number", direction="forward",
    )
    out = paired[list(CASE_COLUMNS)].astype({"charity_number": "string", "outcome": "string"})
    return out.sort_values(["charity_number", "opened"], kind="stable").reset_index(drop=True)


def case_label(
    case_table: pd.DataFrame, charity_numbers: pd.Series, start, end, outcomes: tuple[str, ...], known_by,
    inspected_only: bool = False,
) -> pd.Series:
    """Per charity: 1 if a case opened in [start, end) ended in one of `outcomes` by `known_by`; NaN if
    none did but one was still open then (censored); else 0 (NaN when `inspected_only` and no case)."""
    known_by = np.datetime64(pd.Timestamp(known_by), "ns")
    opened = case_table["opened"].to_numpy()
    in_window = (opened >= np.datetime64(pd.Timestamp(start), "ns")) & (opened < np.datetime64(pd.Timestamp(end), "ns"))
    window = case_table.loc[in_window]
    closed = window["closed"].to_numpy()
    settled = ~np.isnat(closed) & (closed < known_by)
    hit = settled & window["outcome"].isin(list(outcomes)).fillna(False).to_numpy(dtype=bool)
    numbers = pd.Index(charity_numbers.to_numpy(dtype=object))
    cases_of = window["charity_number"].to_numpy(dtype=object)
    positive, pending = numbers.isin(cases_of[hit]), numbers.isin(cases_of[~settled])
    label = np.where(positive, 1.0, np.where(pending, np.nan, 0.0))
    if inspected_only:
        label[~numbers.isin(cases_of)] = np.nan
    return pd.Series(label, index=charity_numbers.index)


def late_return_label(returns: pd.DataFrame, charity_numbers: pd.Series, start, end) -> pd.Series:
    """For the first return falling due inside [start, end): 1.0 if not received by its due date.

    Charities with no return due in the window get NaN: there is nothing to be late with.
    """
    due = due_dates(returns["year_end"])
    in_window = due.ge(start) & due.lt(end)
    window = returns.loc[in_window].assign(due_date=due[in_window])
    first = window.sort_values("due_date").drop_duplicates("charity_number", keep="first")
    late = first["date_received"].isna() | (first["date_received"] > first["due_date"])
    by_charity = pd.Series(late.to_numpy(dtype=float), index=first["charity_number"].to_numpy())
    return pd.Series(
        by_charity.reindex(charity_numbers.to_numpy()).to_numpy(dtype=float), index=charity_numbers.index
    )


def build_labels(
    charity_numbers: pd.Series,
    case_table: pd.DataFrame,
    returns: pd.DataFrame,
    as_of: pd.Timestamp,
    definition: str,
    horizon_months: int,
    known_by: pd.Timestamp,
) -> pd.Series:
    """Label for each charity number at `as_of`, with outcomes known by `known_by`; raises if the window
    has not closed by then. `case_table` is `cases(case_log)`."""
    start, end = label_window(as_of, horizon_months)
    if end > pd.Timestamp(known_by) + pd.Timedelta(days=1):
        raise ValueError(
            f"label window {start.date()}..{end.date()} runs past {pd.Timestamp(known_by).date()}, "
            "the date outcomes are known by: its labels are not yet known"
        )
    if definition in CASE_LABELS:
        labels = case_label(case_table, charity_numbers, start, end, CASE_LABELS[definition], known_by,
                            inspected_only=definition == "substantiated_given_inquiry")
    elif definition == "late_return":
        labels = late_return_label(returns, charity_numbers, start, end)
    else:
        raise ValueError(f"unknown label definition {definition!r}; expected one of {', '.join(LABEL_DEFINITIONS)}")
    return labels.rename("label").astype(np.float64)
