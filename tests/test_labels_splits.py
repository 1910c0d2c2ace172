"""Unit tests for labels and temporal folds."""

import pandas as pd
import pytest

from risk_model.config import LabelConfig, SplitConfig
from risk_model.labels import build_labels, label_window
from risk_model.splits import labelled_as_of_dates, temporal_folds
from tests import factories as f

AS_OF = pd.Timestamp("2020-04-01")
EXTRACT = pd.Timestamp("2025-12-31")


def test_regulatory_action_label_window_is_half_open():
    log = f.case_log(
        ("SC000001", "2020-04-01", "inquiry_closed", "regulatory_action"),  # first day: in
        ("SC000002", "2021-04-01", "inquiry_closed", "regulatory_action"),  # window end: out
        ("SC000003", "2020-09-01", "inquiry_closed", "guidance_issued"),    # wrong outcome
        ("SC000004", "2020-03-31", "inquiry_closed", "regulatory_action"),  # before: out
        ("SC000005", "2021-03-31", "inquiry_closed", "regulatory_action"),  # last day: in
    )
    numbers = pd.Series([f"SC{i:06d}" for i in range(1, 7)])
    labels = build_labels(numbers, log, f.returns(), AS_OF, LabelConfig(), EXTRACT)
    assert labels.tolist() == [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]


def test_late_return_label_uses_first_return_due_in_window():
    rows = [
        # due 2020-12-31, received late -> 1
        {"charity_number": "SC000001", "year_end": "2020-03-31", "date_received": "2021-02-01", "income_gbp": 1.0,
         "expenditure_gbp": 1.0},
        # due 2020-12-31, on time -> 0
        {"charity_number": "SC000002", "year_end": "2020-03-31", "date_received": "2020-11-01", "income_gbp": 1.0,
         "expenditure_gbp": 1.0},
        # due 2020-12-31, never received -> 1
        {"charity_number": "SC000003", "year_end": "2020-03-31", "date_received": None, "income_gbp": None,
         "expenditure_gbp": None},
    ]
    numbers = pd.Series(["SC000001", "SC000002", "SC000003", "SC000004"])
    labels = build_labels(numbers, f.case_log(), f.returns(*rows), AS_OF,
                          LabelConfig(definition="late_return"), EXTRACT)
    assert labels.iloc[:3].tolist() == [1.0, 0.0, 1.0]
    assert pd.isna(labels.iloc[3])  # nothing due in the window: no label


def test_labels_refuse_an_unclosed_window():
    with pytest.raises(ValueError, match="runs past the extract date"):
        build_labels(pd.Series(["SC000001"]), f.case_log(), f.returns(), pd.Timestamp("2025-04-01"),
                     LabelConfig(), EXTRACT)


def test_label_window():
    assert label_window(AS_OF, 6) == (AS_OF, pd.Timestamp("2020-10-01"))


def test_as_of_dates_stop_where_windows_close():
    dates = labelled_as_of_dates(SplitConfig(first_as_of_year=2011), LabelConfig(), EXTRACT,
                                 pd.Timestamp("1990-01-01"))
    assert dates[0] == pd.Timestamp("2011-04-01")
    assert dates[-1] == pd.Timestamp("2024-04-01")


def test_folds_never_train_on_a_window_overlapping_the_test():
    dates = [pd.Timestamp(f"{y}-04-01") for y in range(2011, 2025)]
    folds = temporal_folds(dates, n_folds=5, horizon_months=12)
    assert [fold.test_as_of.year for fold in folds] == [2020, 2021, 2022, 2023, 2024]
    for fold in folds:
        assert max(fold.train_as_of) + pd.DateOffset(months=12) <= fold.test_as_of
        assert fold.test_as_of not in fold.train_as_of
    # A 24-month horizon pushes training back another year.
    long = temporal_folds(dates, n_folds=1, horizon_months=24)
    assert max(long[0].train_as_of) == pd.Timestamp("2022-04-01")


def test_too_many_folds_is_an_error():
    dates = [pd.Timestamp(f"{y}-04-01") for y in range(2020, 2023)]
    with pytest.raises(ValueError):
        temporal_folds(dates, n_folds=3, horizon_months=12)
