"""Unit tests for features as of a date, on tiny inline tables."""

import numpy as np
import pandas as pd
import pytest

from risk_model.features import FEATURE_COLUMNS, build_features, income_band
from tests.support import factories as f

AS_OF = pd.Timestamp("2020-04-01")


def _one(features: pd.DataFrame, number: str) -> pd.Series:
    return features.set_index("charity_number").loc[number]


def test_population_excludes_not_yet_registered_and_removed():
    reg = f.register({}, {"registered_date": "2020-05-01"}, {"ceased_date": "2020-03-01"},
                     {"ceased_date": "2021-01-01"})
    features = build_features(reg, f.returns(), f.case_log(), AS_OF)
    assert list(features["charity_number"]) == ["SC000001", "SC000004"]


def test_a_date_before_anyone_registered_gives_an_empty_table_with_every_column():
    # the "what changed" comparison of a charity registered within the year asks for such a date
    reg = f.register({"registered_date": "2020-05-01"})
    features = build_features(reg, f.returns(), f.case_log(), AS_OF)
    assert features.empty
    assert set(FEATURE_COLUMNS) <= set(features.columns)


def test_only_received_returns_count_and_due_unreceived_is_outstanding():
    reg = f.register({})
    rows = f.annual_returns("SC000001", range(2015, 2019), income=10_000, expenditure=9_000)
    # The 2019 return was due 31/12/2019 and arrives after the as-of date: outstanding, figures unseen.
    rows.append({"charity_number": "SC000001", "year_end": "2019-03-31", "date_received": "2020-06-01",
                 "income_gbp": 99_999.0, "expenditure_gbp": 500_000.0})
    row = _one(build_features(reg, f.returns(*rows), f.case_log(), AS_OF), "SC000001")
    assert row["income_latest_gbp"] == 10_000
    assert row["returns_due"] == 5
    assert row["returns_outstanding"] == 1
    assert row["days_overdue_oldest_outstanding"] == (AS_OF - pd.Timestamp("2019-12-31")).days
    assert row["latest_year_end"] == pd.Timestamp("2018-03-31")


def test_spending_over_income_counts_last_three_received_returns():
    reg = f.register({})
    rows = f.annual_returns("SC000001", range(2014, 2016), income=10_000, expenditure=5_000)
    rows += f.annual_returns("SC000001", range(2016, 2019), income=10_000, expenditure=12_000)
    row = _one(build_features(reg, f.returns(*rows), f.case_log(), AS_OF), "SC000001")
    assert row["spend_over_income_last3"] == 3
    assert row["spend_over_income_ratio_latest"] == pytest.approx(1.2)


def test_income_change_and_jump_are_log_ratios():
    reg = f.register({})
    rows = f.annual_returns("SC000001", range(2016, 2018), income=10_000, expenditure=10_000)
    rows += f.annual_returns("SC000001", range(2018, 2019), income=100_000, expenditure=10_000)
    row = _one(build_features(reg, f.returns(*rows), f.case_log(), AS_OF), "SC000001")
    assert row["income_change_1y"] == pytest.approx(np.log1p(100_000) - np.log1p(10_000))
    assert row["income_jump_max_3y"] == pytest.approx(np.log1p(100_000) - np.log1p(10_000))
    assert row["spending_change_1y"] == pytest.approx(0.0)


def test_change_features_of_every_return_field():
    """Year-on-year and multi-year changes, the largest jump and the years since the last marked
    change, on the log scale for money and headcounts and by the number for trustees."""
    reg = f.register({})
    incomes, others, trustees = (10_000, 10_000, 10_000, 20_000), (0, 0, 0, 8_000), (9.0, 9.0, 9.0, 5.0)
    rows = []
    for year, income, other, people in zip(range(2015, 2019), incomes, others, trustees):
        rows += f.annual_returns("SC000001", range(year, year + 1), income=income, expenditure=income,
                                 other_income_gbp=other, trustees=people, volunteers=30.0)
    row = _one(build_features(reg, f.returns(*rows), f.case_log(), AS_OF), "SC000001")
    assert row["income_change_1y"] == pytest.approx(np.log1p(20_000) - np.log1p(10_000))
    # latest against the mean of the three returns before (on the log scale)
    assert row["income_change_3y"] == pytest.approx(np.log1p(20_000) - np.log1p(10_000))
    assert row["other_income_change_1y"] == pytest.approx(np.log1p(8_000))
    assert row["trustees_change_1y"] == -4
    assert row["trustees_jump_max_3y"] == 4
    assert row["volunteers_change_1y"] == 0
    # the step came with the return for the year ending 31 March 2018
    expected_years = (AS_OF - pd.Timestamp("2018-03-31")).days / 365.25
    assert row["income_years_since_change"] == pytest.approx(expected_years)
    assert row["trustees_years_since_change"] == pytest.approx(expected_years)
    assert np.isnan(row["volunteers_years_since_change"])  # never changed in the record
    assert row["year_end_changed_latest"] == 0
    assert np.isnan(row["years_since_year_end_change"])


def test_a_single_return_has_no_change_yet():
    reg = f.register({})
    rows = f.annual_returns("SC000001", range(2018, 2019), income=10_000, expenditure=10_000)
    row = _one(build_features(reg, f.returns(*rows), f.case_log(), AS_OF), "SC000001")
    assert np.isnan(row["income_change_1y"]) and np.isnan(row["income_change_3y"])
    assert np.isnan(row["year_end_changed_latest"])


def test_a_new_financial_year_end_is_seen():
    reg = f.register({})
    rows = f.annual_returns("SC000001", range(2016, 2018), income=10_000, expenditure=10_000)
    rows.append({"charity_number": "SC000001", "year_end": pd.Timestamp("2018-12-31"),
                 "date_received": pd.Timestamp("2019-06-30"), "income_gbp": 10_000.0, "expenditure_gbp": 10_000.0})
    row = _one(build_features(reg, f.returns(*rows), f.case_log(), AS_OF), "SC000001")
    assert row["year_end_changed_latest"] == 1
    assert row["years_since_year_end_change"] == pytest.approx((AS_OF - pd.Timestamp("2018-12-31")).days / 365.25)


def test_late_returns_and_mean_days_late():
    reg = f.register({})
    rows = f.annual_returns("SC000001", range(2016, 2019), income=5_000, expenditure=5_000, received_days=305)
    row = _one(build_features(reg, f.returns(*rows), f.case_log(), AS_OF), "SC000001")
    # Due 9 months after 31 March is 31 December: 275 days; received after 305 days.
    assert row["returns_late"] == 3
    assert row["mean_days_late"] == pytest.approx(30)
    assert row["late_share_last3_due"] == pytest.approx(1.0)


def test_missing_values_are_flagged_not_filled():
    reg = f.register({}, {"constitutional_form": None, "purposes": []})
    rows = f.annual_returns("SC000001", range(2017, 2019), income=5_000, expenditure=4_000, trustees=4.0)
    features = build_features(reg, f.returns(*rows), f.case_log(), AS_OF).set_index("charity_number")
    assert features.loc["SC000001", "missing__return"] == 0
    assert features.loc["SC000001", "missing__trustees"] == 0
    assert features.loc["SC000001", "missing__employees"] == 1
    assert np.isnan(features.loc["SC000001", "employees_latest"])
    assert features.loc["SC000002", "missing__return"] == 1
    assert np.isnan(features.loc["SC000002", "income_latest_gbp"])
    assert features.loc["SC000002", "constitutional_form"] == "Unknown"
    assert features.loc["SC000002", "n_purposes"] == 0
    assert features.loc["SC000002", "income_band"] == "no return"


def test_case_log_events_before_as_of_only():
    reg = f.register({})
    log = f.case_log(
        ("SC000001", "2018-01-10", "concern_received", None),
        ("SC000001", "2019-06-10", "concern_received", None),
        ("SC000001", "2019-07-01", "inquiry_opened", None),
        ("SC000001", "2019-12-01", "inquiry_closed", "regulatory_action"),
        ("SC000001", "2020-04-01", "concern_received", None),  # on the as-of date: label side
    )
    row = _one(build_features(reg, f.returns(), log, AS_OF), "SC000001")
    assert row["concerns_prior"] == 2
    assert row["concerns_last_12m"] == 1
    assert row["inquiries_prior"] == 1
    assert row["regulatory_actions_prior"] == 1
    assert row["days_since_last_concern"] == (AS_OF - pd.Timestamp("2019-06-10")).days
    # the 2019 concern was taken up by the inquiry, which has closed
    assert row["open_concern"] == 0 and row["open_inquiry"] == 0


def test_open_concern_and_open_inquiry():
    reg = f.register({}, {}, {}, {})
    log = f.case_log(
        ("SC000001", "2019-11-01", "concern_received", None),               # waiting: no inquiry since
        ("SC000002", "2019-11-01", "concern_received", None),
        ("SC000002", "2019-12-01", "inquiry_opened", None),                 # open at the as-of date
        ("SC000003", "2018-01-01", "concern_received", None),               # too old to wait
        ("SC000004", "2019-06-01", "inquiry_opened", None),
        ("SC000004", "2019-09-01", "inquiry_closed", "no_action"),
        ("SC000004", "2020-01-15", "concern_received", None),               # a new concern after it closed
    )
    features = build_features(reg, f.returns(), log, AS_OF).set_index("charity_number")
    assert features["open_concern"].to_dict() == {"SC000001": 1, "SC000002": 0, "SC000003": 0, "SC000004": 1}
    assert features["open_inquiry"].to_dict() == {"SC000001": 0, "SC000002": 1, "SC000003": 0, "SC000004": 0}


def test_multi_valued_fields_are_multi_hot():
    reg = f.register({"purposes": [f.EDUCATION, f.HEALTH]})
    row = _one(build_features(reg, f.returns(), f.case_log(), AS_OF), "SC000001")
    assert row["purpose__education"] == 1
    assert row["purpose__health"] == 1
    assert row["purpose__poverty"] == 0
    assert row["n_purposes"] == 2


def test_age_and_columns():
    reg = f.register({"registered_date": "2017-04-01"})
    features = build_features(reg, f.returns(), f.case_log(), AS_OF)
    assert set(FEATURE_COLUMNS) <= set(features.columns)
    assert features.loc[0, "age_years"] == pytest.approx(3.0, abs=0.01)
    assert features.loc[0, "age_under_5"] == 1


def test_inputs_are_not_mutated():
    reg = f.register({})
    ret = f.returns(*f.annual_returns("SC000001", range(2016, 2019), 1_000, 900))
    log = f.case_log(("SC000001", "2019-01-01", "concern_received", None))
    copies = [reg.copy(), ret.copy(), log.copy()]
    build_features(reg, ret, log, AS_OF)
    for before, after in zip(copies, [reg, ret, log]):
        pd.testing.assert_frame_equal(before, after)


@pytest.mark.parametrize("income,band", [(0, "up to 25k"), (25_000, "up to 25k"), (25_001, "25k-100k"),
                                         (2e6, "1m-5m"), (9e9, "over 5m")])
def test_income_band(income, band):
    assert income_band(pd.Series([float(income)])).iloc[0] == band
