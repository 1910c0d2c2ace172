"""Temporal validation: rolling yearly as-of dates, training only on label windows already closed.

Each as-of date A has a label window [A, A + horizon). A fold tests on one as-of date T and
trains on every earlier as-of date whose label window has closed by T, so no training label is
drawn from the period being tested. With yearly as-of dates on 1 April and a 12-month horizon:

    as-of  2019-04 |== label 2019-20 ==|
    as-of  2020-04                     |== label 2020-21 ==|
    as-of  2021-04                                         |== label 2021-22 ==|   <- test T
    fold T=2021-04: train on as-of 2011-04 .. 2020-04 (their windows end by 2021-04),
                    test on as-of 2021-04 (features from before it, labels after it).

The last fold's window must close by the extract date; the final model is refitted on every
as-of date whose window has closed, and ranks the register as of the extract date.
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


def labelled_as_of_dates(
    splits: SplitConfig, label: LabelConfig, extract_date: pd.Timestamp, first_registered: pd.Timestamp
) -> list[pd.Timestamp]:
    """Yearly as-of dates whose label window has closed by the extract date."""
    extract_date = pd.Timestamp(extract_date)
    first_year = max(splits.first_as_of_year, pd.Timestamp(first_registered).year + splits.min_history_years)
    dates = []
    for year in range(first_year, extract_date.year + 1):
        as_of = pd.Timestamp(f"{year}-{splits.as_of_month_day}")
        window_end = as_of + pd.DateOffset(months=label.horizon_months)
        if window_end <= extract_date + pd.Timedelta(days=1):
            dates.append(as_of)
    return dates


def temporal_folds(as_of_dates: list[pd.Timestamp], n_folds: int, horizon_months: int) -> list[TemporalFold]:
    """The last `n_folds` as-of dates as tests, each trained on earlier closed windows."""
    folds = []
    for test_as_of in as_of_dates[-n_folds:]:
        train = tuple(
            a for a in as_of_dates if a + pd.DateOffset(months=horizon_months) <= test_as_of
        )
        if not train:
            raise ValueError(
                f"no training as-of date has a label window closed by {test_as_of.date()}: "
                "lower n_folds or add earlier data"
            )
        folds.append(TemporalFold(test_as_of=test_as_of, train_as_of=train))
    if len(folds) < n_folds:
        raise ValueError(f"only {len(folds)} labelled as-of dates, {n_folds} folds requested")
    return folds
