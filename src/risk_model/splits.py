"""Temporal validation: rolling yearly as-of dates, training only on label windows already closed.

The as-of dates fall on the extract date's month and day each year (unless the experiment sets
another), so that training sees the filing cycle where the list is scored: on 31 December, the
returns of every 31 March year end fall due that day, and a model trained on 1 April dates
would read each of them as a surprise.

Each as-of date A has a label window [A, A + horizon). A fold tests on one as-of date T and
trains on every earlier as-of date whose label window has closed by T, with outcomes censored
at T, so no training label is drawn from the period being tested. A test date also leaves a
follow-up after its window for the cases opened in it to close. With a 12-month horizon, 12
months of follow-up and an extract on 2025-12-31:

    as-of  2021-12-31 |== window 2022 ==|
    as-of  2022-12-31                   |== window 2023 ==|
    as-of  2023-12-31                                     |== window 2024 ==|-- follow-up 2025 --|
    fold T=2023-12-31 (the latest): train on as-of 2011-12-31 .. 2022-12-31, outcomes known by
                    2023-12-31; test on as-of 2023-12-31, outcomes known by 2025-12-31.

The final models are refitted on every as-of date whose window has closed by the extract date
(2024-12-31 included, its open cases censored), and rank the register as of the extract date.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from risk_model.config import LabelConfig, SplitConfig


@dataclass(frozen=True)
class TemporalFold:
    """One fold: the as-of dates to train on and the one to test on."""

    test_as_of: pd.Timestamp
    train_as_of: tuple[pd.Timestamp, ...]

    @property
    def name(self) -> str:
        return f"fold_{self.test_as_of:%Y}"


def as_of_month_day(splits: SplitConfig, extract_date: pd.Timestamp) -> str:
    """The month and day ("MM-DD") of the yearly as-of dates."""
    return splits.as_of_month_day or f"{pd.Timestamp(extract_date):%m-%d}"


def yearly_date(year: int, month_day: str) -> pd.Timestamp:
    """The as-of date in a year ("02-29" falls on 28 February in other years)."""
    month, day = (int(part) for part in month_day.split("-"))
    return pd.Timestamp(year=year, month=month, day=min(day, pd.Timestamp(year=year, month=month, day=1).days_in_month))


def labelled_as_of_dates(
    splits: SplitConfig, label: LabelConfig, extract_date: pd.Timestamp, first_registered: pd.Timestamp
) -> list[pd.Timestamp]:
    """Yearly as-of dates whose label window has closed by the extract date."""
    extract_date = pd.Timestamp(extract_date)
    first_year = max(splits.first_as_of_year, pd.Timestamp(first_registered).year + splits.min_history_years)
    month_day = as_of_month_day(splits, extract_date)
    dates = []
    for year in range(first_year, extract_date.year + 1):
        as_of = yearly_date(year, month_day)
        window_end = as_of + pd.DateOffset(months=label.horizon_months)
        if window_end <= extract_date + pd.Timedelta(days=1):
            dates.append(as_of)
    return dates


def temporal_folds(as_of_dates: list[pd.Timestamp], n_folds: int, label: LabelConfig,
                   extract_date: pd.Timestamp) -> list[TemporalFold]:
    """The last `n_folds` as-of dates whose window and follow-up have passed by the extract date, as
    tests, each trained on the earlier dates whose windows closed by it."""
    horizon = pd.DateOffset(months=label.horizon_months)
    settled = pd.DateOffset(months=label.horizon_months + label.follow_up_months)
    testable = [a for a in as_of_dates if a + settled <= pd.Timestamp(extract_date) + pd.Timedelta(days=1)]
    if len(testable) < n_folds:
        raise ValueError(f"only {len(testable)} as-of dates have a closed window and {label.follow_up_months} months "
                         f"of follow-up by {pd.Timestamp(extract_date).date()}; {n_folds} folds requested")
    folds = []
    for test_as_of in testable[-n_folds:]:
        train = tuple(a for a in as_of_dates if a + horizon <= test_as_of)
        if not train:
            raise ValueError(
                f"no training as-of date has a label window closed by {test_as_of.date()}: "
                "lower n_folds or add earlier data"
            )
        folds.append(TemporalFold(test_as_of=test_as_of, train_as_of=train))
    return folds
