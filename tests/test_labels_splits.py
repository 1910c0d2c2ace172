"""Unit tests for labels (cases anchored on the inquiry's opening, censored at a cutoff) and temporal folds."""

import numpy as np
import pandas as pd
import pytest

from risk_model.config import LabelConfig, SplitConfig
from risk_model.labels import build_labels, cases, label_window
from risk_model.splits import labelled_as_of_dates, temporal_folds
from tests.support import factories as f

AS_OF = pd.Timestamp("2020-04-01")
EXTRACT = pd.Timestamp("2025-12-31")
NUMBERS = pd.Series([f"SC{i:06d}" for i in range(1, 8)])


def _labels(log, definition, known_by=EXTRACT, as_of=AS_OF, numbers=NUMBERS):
    return build_labels(numbers, cases(log), f.returns(), as_of, definition, 12, known_by).tolist()


def test_cases_pair_each_opening_with_its_closing():
    log = f.case_log(
        ("SC000001", "2019-01-01", "concern_received", None),
        ("SC000001", "2019-02-01", "inquiry_opened", None),
        ("SC000001", "2019-08-01", "inquiry_closed", "guidance_issued"),
        ("SC000001", "2020-02-01", "inquiry_opened", None),          # still open
        ("SC000002", "2019-05-01", "inquiry_opened", None),
        ("SC000002", "2019-05-01", "inquiry_closed", "no_action"),   # closed the day it opened
    )
    table = cases(log)
    assert table["opened"].dt.strftime("%Y-%m-%d").tolist() == ["2019-02-01", "2020-02-01", "2019-05-01"]
    assert table["outcome"].tolist()[0] == "guidance_issued" and pd.isna(table["outcome"].iloc[1])
    assert pd.isna(table["closed"].iloc[1]) and table["outcome"].iloc[2] == "no_action"


def test_a_case_belongs_to_the_window_it_opened_in_however_long_it_lasts():
    log = f.case_log(
        ("SC000001", "2020-04-01", "inquiry_opened", None),             # first day of the window: in
        ("SC000001", "2022-11-01", "inquiry_closed", "regulatory_action"),  # closed 19 months later
        ("SC000002", "2021-04-01", "inquiry_opened", None),             # window end: the next window's
        ("SC000002", "2021-06-01", "inquiry_closed", "regulatory_action"),
        ("SC000003", "2020-09-01", "inquiry_opened", None),
        ("SC000003", "2020-12-01", "inquiry_closed", "guidance_issued"),
        ("SC000004", "2020-03-31", "inquiry_opened", None),             # opened before: not this window's
        ("SC000004", "2020-05-01", "inquiry_closed", "regulatory_action"),
        ("SC000005", "2021-03-31", "inquiry_opened", None),             # last day: in
        ("SC000005", "2021-05-01", "inquiry_closed", "no_action"),
        ("SC000006", "2020-06-01", "concern_received", None),           # a concern is not a case
    )
    assert _labels(log, "regulatory_action") == [1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]
    assert _labels(log, "substantiated") == [1.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0]
    inspected = _labels(log, "substantiated_given_inquiry")
    assert inspected[0] == 1.0 and inspected[2] == 1.0 and inspected[4] == 0.0
    assert all(np.isnan(inspected[i]) for i in (1, 3, 5, 6))  # no case opened in the window: unlabelled


def test_an_outcome_after_the_cutoff_is_censored_never_guessed():
    log = f.case_log(
        ("SC000001", "2020-06-01", "inquiry_opened", None),
        ("SC000001", "2021-06-01", "inquiry_closed", "regulatory_action"),
        ("SC000002", "2020-06-01", "inquiry_opened", None),
        ("SC000002", "2021-06-01", "inquiry_closed", "no_action"),
        ("SC000003", "2020-06-01", "inquiry_opened", None),
        ("SC000003", "2020-09-01", "inquiry_closed", "regulatory_action"),
    )
    fold_test_date = pd.Timestamp("2021-04-01")
    early = _labels(log, "substantiated", known_by=fold_test_date)
    assert np.isnan(early[0]) and np.isnan(early[1]) and early[2] == 1.0 and early[3] == 0.0
    assert _labels(log, "substantiated")[:4] == [1.0, 0.0, 1.0, 0.0]


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
    labels = build_labels(numbers, cases(f.case_log()), f.returns(*rows), AS_OF, "late_return", 12, EXTRACT)
    assert labels.iloc[:3].tolist() == [1.0, 0.0, 1.0]
    assert pd.isna(labels.iloc[3])  # nothing due in the window: no label


def test_labels_refuse_an_unclosed_window():
    with pytest.raises(ValueError, match="runs past"):
        build_labels(pd.Series(["SC000001"]), cases(f.case_log()), f.returns(), pd.Timestamp("2025-04-01"),
                     "substantiated", 12, EXTRACT)


def test_label_window():
    assert label_window(AS_OF, 6) == (AS_OF, pd.Timestamp("2020-10-01"))


def test_as_of_dates_fall_on_the_extract_dates_month_and_day_unless_set():
    aligned = labelled_as_of_dates(SplitConfig(first_as_of_year=2011), LabelConfig(), EXTRACT,
                                   pd.Timestamp("1990-01-01"))
    assert aligned[0] == pd.Timestamp("2011-12-31") and aligned[-1] == pd.Timestamp("2024-12-31")
    assert {d.strftime("%m-%d") for d in aligned} == {"12-31"}
    april = labelled_as_of_dates(SplitConfig(first_as_of_year=2011, as_of_month_day="04-01"), LabelConfig(),
                                 EXTRACT, pd.Timestamp("1990-01-01"))
    assert april[0] == pd.Timestamp("2011-04-01") and april[-1] == pd.Timestamp("2024-04-01")
    leap = labelled_as_of_dates(SplitConfig(first_as_of_year=2021), LabelConfig(), pd.Timestamp("2024-02-29"),
                                pd.Timestamp("1990-01-01"))
    assert leap == [pd.Timestamp("2021-02-28"), pd.Timestamp("2022-02-28"), pd.Timestamp("2023-02-28")]


def test_folds_never_train_on_a_window_overlapping_the_test_and_leave_a_follow_up():
    dates = [pd.Timestamp(f"{y}-12-31") for y in range(2011, 2025)]
    folds = temporal_folds(dates, 5, LabelConfig(), EXTRACT)
    # the latest test date leaves its window and a year's follow-up before the extract
    assert [fold.test_as_of.year for fold in folds] == [2019, 2020, 2021, 2022, 2023]
    for fold in folds:
        assert max(fold.train_as_of) + pd.DateOffset(months=12) <= fold.test_as_of
        assert fold.test_as_of not in fold.train_as_of
    no_follow_up = temporal_folds(dates, 1, LabelConfig(follow_up_months=0), EXTRACT)
    assert no_follow_up[0].test_as_of == pd.Timestamp("2024-12-31")
    # A 24-month horizon pushes training back another year.
    long = temporal_folds(dates, 1, LabelConfig(horizon_months=24, follow_up_months=0), EXTRACT)
    assert max(long[0].train_as_of) == pd.Timestamp("2021-12-31")


def test_too_many_folds_is_an_error():
    dates = [pd.Timestamp(f"{y}-12-31") for y in range(2016, 2023)]
    # windows and follow-up have passed by 2023-12-31 for the as-of dates up to 2021 only
    with pytest.raises(ValueError, match="only 6 as-of dates .* 7 folds requested"):
        temporal_folds(dates, 7, LabelConfig(), pd.Timestamp("2023-12-31"))
