"""Outcome labels for each charity in a horizon after an as-of date, from the case log or returns.

The label window starts on the as-of date and runs for `horizon_months`: [as_of, as_of + horizon).
Features see only events strictly before the as-of date, so the two never share an event.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from risk_model.config import LabelConfig
from risk_model.features import due_dates


def label_window(as_of: pd.Timestamp, horizon_months: int) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The half-open label window [start, end) for an as-of date."""
    as_of = pd.Timestamp(as_of).normalize()
    return as_of, as_of + pd.DateOffset(months=horizon_months)


def regulatory_action_label(case_log: pd.DataFrame, charity_numbers: pd.Series, start, end) -> pd.Series:
    """1.0 where an inquiry closed with regulatory action inside [start, end), else 0.0."""
    in_window = case_log["date"].ge(start) & case_log["date"].lt(end)
    positive = case_log.loc[
        in_window & case_log["event"].eq("inquiry_closed") & case_log["outcome"].eq("regulatory_action"),
        "charity_number",
    ].unique()
    return charity_numbers.isin(positive).astype(float)


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
    case_log: pd.DataFrame,
    returns: pd.DataFrame,
    as_of: pd.Timestamp,
    config: LabelConfig,
    extract_date: pd.Timestamp,
) -> pd.Series:
    """Label for each charity number at `as_of`; raises if the window is not fully observed."""
    start, end = label_window(as_of, config.horizon_months)
    if end > pd.Timestamp(extract_date) + pd.Timedelta(days=1):
        raise ValueError(
            f"label window {start.date()}..{end.date()} runs past the extract date "
            f"{pd.Timestamp(extract_date).date()}: its labels are not yet known"
        )
    if config.definition == "regulatory_action":
        labels = regulatory_action_label(case_log, charity_numbers, start, end)
    elif config.definition == "late_return":
        labels = late_return_label(returns, charity_numbers, start, end)
    else:  # pragma: no cover - pydantic restricts the values
        raise ValueError(f"unknown label definition {config.definition!r}")
    return labels.rename("label").astype(np.float64)
