"""No future data may reach a feature: change everything dated after the as-of date, and no
feature of any charity moves."""

import numpy as np
import pandas as pd

from risk_model.features import build_features

AS_OF = pd.Timestamp("2017-04-01")


def _rewrite_future(register, returns, case_log, as_of, rng):
    """Copies of the tables with every datum dated after `as_of` altered."""
    register = register.copy()
    future_reg = register["registered_date"] > as_of
    register.loc[future_reg, "constitutional_form"] = "Other"
    register.loc[future_reg, "main_operating_location"] = "Glasgow City"
    later_exit = register["ceased_date"] > as_of
    register.loc[later_exit, "ceased_date"] = register.loc[later_exit, "ceased_date"] + pd.Timedelta(days=40)
    # A charity that had not left by the as-of date now leaves the day after.
    staying = register.index[register["ceased_date"].isna() & ~future_reg][:50]
    register.loc[staying, "ceased_date"] = as_of + pd.Timedelta(days=1)

    returns = returns.copy()
    money = [c for c in returns.columns if c.endswith("_gbp")]
    received_later = returns["date_received"] > as_of
    returns.loc[received_later, money] = returns.loc[received_later, money] * 3 + 1_000
    returns.loc[received_later, "trustees"] = 1.0
    returns.loc[received_later, "date_received"] = returns.loc[received_later, "date_received"] + pd.Timedelta(days=17)
    not_due = returns["year_end"] + pd.DateOffset(months=9) > as_of
    returns.loc[not_due & returns["date_received"].isna(), "date_received"] = as_of + pd.Timedelta(days=3)
    # Some returns not yet received by the as-of date now never arrive.
    pending = returns.index[received_later][::3]
    returns.loc[pending, "date_received"] = pd.NaT
    # Returns for years that had not even ended are dropped.
    returns = returns.loc[~(returns["year_end"] > as_of)]

    case_log = case_log.copy()
    future = case_log["date"] >= as_of
    case_log.loc[future, "outcome"] = "regulatory_action"
    case_log = case_log.loc[~future | (rng.random(len(case_log)) < 0.5)]
    extra = pd.DataFrame({
        "charity_number": register["charity_number"].sample(200, random_state=1).to_numpy(),
        "date": as_of + pd.to_timedelta(rng.integers(0, 400, 200), unit="D"),
        "event": rng.choice(["concern_received", "inquiry_opened", "inquiry_closed"], 200),
        "outcome": "regulatory_action",
    })
    case_log = pd.concat([case_log, extra], ignore_index=True)
    return register, returns, case_log


def test_changing_future_data_changes_no_feature(small_world):
    rng = np.random.default_rng(0)
    tables = small_world
    before = build_features(tables.register, tables.returns, tables.case_log, AS_OF)
    changed = _rewrite_future(tables.register, tables.returns, tables.case_log, AS_OF, rng)
    after = build_features(*changed, AS_OF)
    # The rewrite really touched data the features could have read, had they leaked.
    assert (changed[1]["date_received"] > AS_OF).sum() > 100
    assert not changed[0]["ceased_date"].equals(tables.register["ceased_date"])
    pd.testing.assert_frame_equal(before, after)


def test_a_past_change_does_move_features(small_world):
    """The converse, so the test above cannot pass by features ignoring the data altogether."""
    tables = small_world
    before = build_features(tables.register, tables.returns, tables.case_log, AS_OF)
    returns = tables.returns.copy()
    seen = returns["date_received"] <= AS_OF
    returns.loc[seen, "expenditure_gbp"] = returns.loc[seen, "expenditure_gbp"] * 2 + 1
    after = build_features(tables.register, returns, tables.case_log, AS_OF)
    assert not before["spend_over_income_last3"].equals(after["spend_over_income_last3"])


def test_no_feature_depends_on_a_charitys_later_removal(small_world):
    """Undo every removal after the as-of date: the training panel's features do not move, and
    charities whose register entry lost its profile (as OSCR's older removals do) are left out,
    never marked by a feature."""
    from risk_model.panel import build_panel, profile_recorded

    tables = small_world
    as_of = pd.Timestamp("2012-12-31")
    later = tables.register["ceased_date"] > as_of
    assert later.sum() > 100
    blank = ~profile_recorded(tables.register)
    assert (blank & ~tables.register["ceased_date"].isna()).sum() > 10, "the world should hold blanked removals"
    kept = tables.register.assign(ceased_date=tables.register["ceased_date"].where(~later))
    panels = [build_panel(register, tables.returns, tables.case_log, [as_of], 12)[0]
              for register in (tables.register, kept)]
    pd.testing.assert_frame_equal(panels[0], panels[1])
    blank_numbers = set(tables.register.loc[blank, "charity_number"])
    assert not blank_numbers & set(panels[0]["charity_number"])


def test_a_removal_after_the_as_of_date_changes_no_feature_of_that_charity():
    from tests.support import factories as f

    register = f.register({})
    removed = register.assign(ceased_date=pd.Timestamp("2021-02-01"))
    returns = f.returns(*f.annual_returns("SC000001", range(2016, 2020), 10_000, 9_000))
    as_of = pd.Timestamp("2020-12-31")
    pd.testing.assert_frame_equal(build_features(register, returns, f.case_log(), as_of),
                                  build_features(removed, returns, f.case_log(), as_of))
