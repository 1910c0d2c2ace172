"""The training panel: every charity-year on the register, with the list it was on and its labels.

Pure: frames in, frames out. It never reads the truth (`truth.Truth` judges a panel afterwards).

Every charity-year on the register with a recorded profile goes into the panel with its features
as of that date and the list it was on (`lists`). Labels are worked out per as-of date from the
case log and the returns, censored at a `known_by` date (`labels`): `train` censors a fold's
training labels at the fold's test date, so no outcome learned later reaches a fit. With
sampling below 1, proactive charity-years without a case opened in their window are kept at
that rate, and the panel counts say how many were left out. Each list reads its model inputs
from the panel its own way (`list_inputs`): the triage list sees an inquiry's charity-year as
it stood on the day the inquiry opened (`as_triaged`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from risk_model.config import SamplingConfig
from risk_model.features import HISTORY_FEATURES, build_features, history_as_of, population, prepare_returns
from risk_model.ingest.parsing import is_in
from risk_model.labels import build_labels, cases
from risk_model.lists.membership import PROACTIVE, REVIEW_LISTS, TRIAGE, review_list
from risk_model.models import model_inputs

Progress = Callable[[str], None]


def profile_recorded(register: pd.DataFrame) -> np.ndarray:
    """Whether each register entry records its profile (a form or a purpose).

    OSCR's former-charities file lacks the profile of most older removals, so a blank profile in
    the past marks a charity that was later removed: such charity-years are left out of training,
    never given a feature that says so.
    """
    return (register["constitutional_form"].notna() | register["purposes"].map(len).gt(0)).to_numpy()


def build_panel(
    register: pd.DataFrame,
    returns: pd.DataFrame,
    case_log: pd.DataFrame,
    as_of_dates: list[pd.Timestamp],
    horizon_months: int,
    progress: Progress | None = None,
    sampling: SamplingConfig = SamplingConfig(),
    seed: int = 0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Features of every charity-year on the register with a recorded profile, and the list each is on.

    With `sampling` below 1, proactive charity-years without a case opened in their window are
    kept at that rate (seeded); every other charity-year is kept.
    """
    prepared = prepare_returns(returns)
    case_table = cases(case_log)
    frames, counts = [], []
    for as_of in as_of_dates:
        if progress:
            progress(f"features as of {as_of.date()}")
        on_register = population(register, as_of)
        with_profile = on_register.loc[profile_recorded(on_register)]
        features = build_features(with_profile, prepared, case_log, as_of)
        on_list = review_list(features)
        end = as_of + pd.DateOffset(months=horizon_months)
        opened = case_table.loc[case_table["opened"].ge(as_of) & case_table["opened"].lt(end), "charity_number"]
        with_case = is_in(features["charity_number"], pd.Index(opened.unique()))
        keep = np.ones(len(features), dtype=bool)
        if sampling.negative_rate < 1:
            draw = np.random.default_rng([seed, as_of.toordinal()]).random(len(features))
            keep = (on_list.to_numpy() != PROACTIVE) | with_case | (draw < sampling.negative_rate)
        counts.append({
            "as_of": as_of, "population": len(on_register), "excluded_no_profile": len(on_register) - len(features),
            **{f"on_{name}_list": int((on_list == name).sum()) for name in REVIEW_LISTS},
            "under_inquiry": int((on_list == "under inquiry").sum()),
            "recently_inquired": int((on_list == "recently inquired").sum()),
            "with_case_in_window": int(with_case.sum()), "negatives_sampled_out": int((~keep).sum()),
        })
        frames.append(features.loc[keep].assign(review_list=on_list.loc[keep].to_numpy()))
    return pd.concat(frames, ignore_index=True), pd.DataFrame(counts)


def panel_labels(panel: pd.DataFrame, case_table: pd.DataFrame, returns: pd.DataFrame, definition: str,
                 horizon_months: int, known_by: pd.Timestamp, rows: np.ndarray | None = None) -> pd.Series:
    """The label of each panel row among `rows` (default all) with outcomes known by `known_by`, NaN
    elsewhere: a series as long as the panel."""
    rows = np.arange(len(panel)) if rows is None else np.asarray(rows)
    out = np.full(len(panel), np.nan)
    as_of = panel["as_of"].to_numpy()[rows]
    numbers = panel["charity_number"].to_numpy(dtype=object)
    for date in np.unique(as_of):
        at = rows[as_of == date]
        out[at] = build_labels(pd.Series(numbers[at]), case_table, returns, pd.Timestamp(date), definition,
                               horizon_months, known_by).to_numpy()
    return pd.Series(out, index=panel.index)


def panel_days_to_first_inquiry(panel: pd.DataFrame, case_table: pd.DataFrame, horizon_months: int) -> np.ndarray:
    """Days from each panel row's as-of date to the first inquiry opened into the charity in its
    window (NaN: none opened)."""
    out = np.full(len(panel), np.nan)
    for as_of, group in panel.groupby("as_of", sort=False):
        start, end = pd.Timestamp(as_of), pd.Timestamp(as_of) + pd.DateOffset(months=horizon_months)
        opened = case_table.loc[case_table["opened"].ge(start) & case_table["opened"].lt(end)]
        first = opened.groupby("charity_number")["opened"].min().reindex(group["charity_number"].to_numpy())
        out[panel.index.get_indexer(group.index)] = (first - start).dt.days.to_numpy(dtype=float)
    return out


def as_triaged(panel: pd.DataFrame, case_log: pd.DataFrame, days_to_first_inquiry: np.ndarray) -> pd.DataFrame:
    """The charity-years the triage list learns from and is judged on, as the triage list sees them.

    Those are its own charity-years (a concern waiting at the as-of date) and every charity-year
    into which an inquiry was opened in its window. The list is worked while concerns wait, so an
    inquiry's charity-year carries its case-log history as of the day the inquiry opened: the
    concern it took up is in it, waiting, as on a list scored that day (at the window's start it
    had mostly not arrived yet). Its returns and profile stay as of the as-of date. Only events
    before that day are read; the row's labels and window are the panel's own. Indexed by the
    rows' positions in the panel (whatever its own index).
    """
    rows = np.flatnonzero((panel["review_list"].to_numpy() == TRIAGE) | ~np.isnan(days_to_first_inquiry))
    out = panel.iloc[rows].copy()
    out.index = rows
    columns = [out.columns.get_loc(c) for c in HISTORY_FEATURES]
    opened = rows[~np.isnan(days_to_first_inquiry[rows])]
    as_of = panel["as_of"].to_numpy()[opened]
    numbers = panel["charity_number"].to_numpy(dtype=object)
    for date in np.unique(as_of):  # one charity-year per charity at each as-of date
        at = opened[as_of == date]
        day = pd.Timestamp(date) + pd.to_timedelta(days_to_first_inquiry[at], unit="D")
        anchors = pd.Series(day, index=pd.Index(numbers[at], name="charity_number"))
        mine = case_log.loc[is_in(case_log["charity_number"], anchors.index)]
        out.iloc[np.searchsorted(rows, at), columns] = history_as_of(mine, anchors)[list(HISTORY_FEATURES)].to_numpy()
    return out


class ListInputs:
    """One list's model inputs for some of the panel's rows, read by panel position."""

    def __init__(self, rows_of_list: pd.DataFrame, positions: np.ndarray, panel_length: int):
        self.frame = model_inputs(rows_of_list).copy()  # one consolidated block to slice
        self.position = np.full(panel_length, -1)
        self.position[positions] = np.arange(len(rows_of_list))

    def at(self, rows: np.ndarray) -> np.ndarray:
        """Positions in `frame` of the panel's `rows` (each must be one of the list's)."""
        found = self.position[np.asarray(rows, dtype=int)]
        if (found < 0).any():
            raise ValueError("a panel row outside the list's rows was asked for")
        return found


def list_inputs(panel: pd.DataFrame, case_log: pd.DataFrame, horizon_months: int) -> dict[str, ListInputs]:
    """Each list's model inputs: the proactive list reads the panel as it is, the triage list its
    rows as it sees them (`as_triaged`)."""
    days = panel_days_to_first_inquiry(panel, cases(case_log), horizon_months)
    triaged = as_triaged(panel, case_log, days)
    return {PROACTIVE: ListInputs(panel, np.arange(len(panel)), len(panel)),
            TRIAGE: ListInputs(triaged, triaged.index.to_numpy(), len(panel))}
