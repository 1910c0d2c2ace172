"""Training per review list: who each list's models learn from and are judged on, and what
happens on a world with too few cases to learn a list."""

import numpy as np
import pandas as pd
import pytest

from risk_model.config import ExperimentConfig
from risk_model.features import HISTORY_FEATURES, build_features
from risk_model.labels import cases
from risk_model.lists.membership import REVIEW_LISTS
from risk_model.panel import as_triaged, build_panel, list_inputs, panel_days_to_first_inquiry
from risk_model.train import evaluated_on, run_training
from tests.support.worlds import SMALL_EXPERIMENT

DATES = [pd.Timestamp(f"{y}-12-31") for y in (2016, 2017, 2018)]


def test_the_panel_places_each_charity_year_on_the_list_its_case_log_puts_it(small_world):
    panel, counts = build_panel(small_world.register, small_world.returns, small_world.case_log, DATES, 12)
    log = small_world.case_log
    for as_of in DATES:
        rows = panel.loc[panel["as_of"] == as_of].set_index("charity_number")["review_list"]
        before = log.loc[log["date"] < as_of]
        concerns = before.loc[before["event"] == "concern_received"]
        recent = set(concerns.loc[concerns["date"] >= as_of - pd.DateOffset(months=12), "charity_number"])
        assert recent and not recent & set(rows.index[rows == "proactive"])
        last_concern = concerns.groupby("charity_number")["date"].max()
        opened = before.loc[before["event"] == "inquiry_opened"].groupby("charity_number")["date"].max()
        waiting = {n for n in recent if not opened.get(n, pd.NaT) >= last_concern[n]}
        assert set(rows.index[rows == "triage"]) <= waiting
        assert waiting - set(rows.index[rows == "triage"]) <= set(rows.index[rows == "under inquiry"])
    assert (counts[[f"on_{n}_list" for n in REVIEW_LISTS]].sum(axis=1) + counts["under_inquiry"]
            + counts["recently_inquired"] == counts["population"] - counts["excluded_no_profile"]).all()


def test_the_triage_list_is_judged_on_the_inquiries_of_the_window(small_world):
    panel, _ = build_panel(small_world.register, small_world.returns, small_world.case_log, DATES[:1], 12)
    days = panel_days_to_first_inquiry(panel, cases(small_world.case_log), 12)
    rows = np.arange(len(panel))
    triage = evaluated_on(panel, rows, "triage", days)
    assert triage.sum() == (~np.isnan(days)).sum() > 5
    assert (days[triage] >= 0).all() and (days[triage] < 366).all()
    proactive = evaluated_on(panel, rows, "proactive", days)
    assert (panel["review_list"].to_numpy()[proactive] == "proactive").all()


@pytest.mark.slow  # trains every candidate
def test_a_world_with_no_cases_still_gives_both_lists(small_world):
    config = ExperimentConfig.model_validate(SMALL_EXPERIMENT)
    result = run_training(small_world.register, small_world.returns, small_world.case_log.iloc[:0], config)
    # nothing to learn about concerns: the triage list falls back to the indicator rule, which
    # fits (its rates are the overall rate) where a learned model would have nothing to learn
    assert result.champions["triage"].startswith("rule_baseline")
    assert set(result.final_model.pipelines) == set(REVIEW_LISTS)


def test_the_triage_list_sees_an_inquirys_charity_as_it_stood_the_day_the_inquiry_opened(small_world):
    log = small_world.case_log
    panel, _ = build_panel(small_world.register, small_world.returns, log, DATES[:1], 12)
    days = panel_days_to_first_inquiry(panel, cases(log), 12)
    triaged = as_triaged(panel, log, days)
    opened = np.flatnonzero(~np.isnan(days))
    assert set(opened) <= set(triaged.index) and set(np.flatnonzero(panel["review_list"] == "triage")) <= set(
        triaged.index)
    history = list(HISTORY_FEATURES)
    moved = 0
    for row in opened:
        number = panel.at[row, "charity_number"]
        day = DATES[0] + pd.Timedelta(days=days[row])
        # exactly what a list scored that day would read of its case log, and nothing from that day on
        scored_that_day = build_features(small_world.register.loc[small_world.register["charity_number"] == number],
                                         small_world.returns, log.loc[log["date"] < day], day)
        assert triaged.loc[row, history].to_numpy(dtype=float) == pytest.approx(
            scored_that_day[history].iloc[0].to_numpy(dtype=float), nan_ok=True)
        # its returns and profile stay as of the as-of date
        others = [c for c in panel.columns if c not in history]
        assert triaged.loc[row, others].equals(panel.loc[row, others])
        moved += triaged.at[row, "concerns_last_12m"] > panel.at[row, "concerns_last_12m"]
    # the concern an inquiry took up mostly arrived after the window opened: the rows did change
    assert moved > len(opened) / 2
    assert (triaged.loc[opened, "open_inquiry"] == 0).all()
    # rows with no inquiry in their window are the panel's own
    quiet = [r for r in triaged.index if np.isnan(days[r])]
    assert triaged.loc[quiet].equals(panel.loc[quiet])


def test_a_folds_triage_training_rows_read_nothing_from_its_test_window(small_world):
    """Truncating the case log at a fold's test date leaves that fold's training inputs unchanged."""
    log = small_world.case_log
    panel, _ = build_panel(small_world.register, small_world.returns, log, DATES, 12)
    test_as_of = DATES[-1]
    train = np.flatnonzero((panel["as_of"] < test_as_of - pd.DateOffset(months=12)).to_numpy())
    full = list_inputs(panel, log, 12)["triage"]
    cut = list_inputs(panel, log.loc[log["date"] < test_as_of], 12)["triage"]
    rows = train[full.position[train] >= 0]
    assert len(rows) > 20
    pd.testing.assert_frame_equal(full.frame.iloc[full.at(rows)], cut.frame.iloc[cut.at(rows)])
    with pytest.raises(ValueError, match="outside the list's rows"):
        full.at(np.flatnonzero(full.position < 0)[:1])
