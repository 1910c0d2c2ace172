"""The answer key of a simulated world: what counts as misconduct found in a label window, the
references drawn from it, and that none of it reaches the models that are registered."""

import copy

import numpy as np
import pandas as pd
import pytest

from risk_model.config import ExperimentConfig, SplitConfig
from risk_model.features import build_features
from risk_model.labels import cases
from risk_model.lists.membership import review_list
from risk_model.models import model_inputs
from risk_model.panel import build_panel
from risk_model.splits import labelled_as_of_dates
from risk_model.train import REFERENCES, run_training
from risk_model.truth import Truth, read_truth
from tests.support import factories as f
from tests.support.worlds import SMALL_EXPERIMENT

AS_OF = pd.Timestamp("2020-12-31")


def _truth() -> Truth:
    yearly = pd.DataFrame({"charity_number": [f"SC{i:06d}" for i in range(1, 7)], "year": 2021,
                           "p": [0.01, 0.02, 0.03, 0.04, 0.05, 0.06], "engaged": [1, 1, 0, 1, 1, 0]})
    day = pd.Timestamp
    episodes = pd.DataFrame({
        "charity_number": ["SC000001", "SC000002", "SC000003", "SC000004", "SC000005"],
        "started": [day("2019-05-01"), day("2021-03-01"), day("2018-01-01"), day("2020-02-01"), day("2020-06-01")],
        "ended": [pd.NaT, day("2021-09-01"), day("2020-11-30"), day("2021-04-01"), pd.NaT],
        "reached": [day("2021-05-10"), pd.NaT, pd.NaT, day("2020-10-01"), pd.NaT],
    })
    return Truth(yearly, episodes, "hand-made")


def test_misconduct_in_the_window_or_ongoing_and_not_yet_reached_counts():
    log = f.case_log(("SC000001", "2021-05-10", "inquiry_opened", None),
                     ("SC000004", "2020-10-01", "inquiry_opened", None),
                     ("SC000006", "2021-02-01", "inquiry_opened", None))
    frame = pd.DataFrame({"charity_number": [f"SC{i:06d}" for i in range(1, 7)], "as_of": AS_OF})
    judged = _truth().judge(frame, cases(log), 12).set_index(frame["charity_number"])
    # 1: ongoing and reached in the window; 2: starts in the window; 3: ended before it;
    # 4: reached before the as-of date (the regulator already knows); 5: ongoing, never reached; 6: none
    assert judged["misconduct"].tolist() == [1, 1, 0, 0, 1, 0]
    assert judged["reached_in_window"].tolist() == [1, 0, 0, 0, 0, 0]
    assert judged.loc["SC000001", "days_to_reach"] == (pd.Timestamp("2021-05-10") - AS_OF).days
    assert np.isnan(judged.loc["SC000006", "days_to_reach"])  # an inquiry, but no misconduct to reach
    # true risk: certain for misconduct already going on unreached, else the chance of starting in the year
    assert judged["true_risk"].tolist() == [1.0, 0.02, 0.03, 0.04, 1.0, 0.06]


def test_a_world_with_yearly_flags_only_is_judged_on_the_windows_year(tmp_path):
    pd.DataFrame({"Charity Number": ["SC000001", "SC000002", "SC000001"], "Year": ["2021", "2021", "2020"],
                  "Misconduct probability": ["0.5", "0.1", "0.2"], "Misconduct": ["1", "0", "1"]}
                 ).to_csv(tmp_path / "latent_risk.csv", index=False)
    truth = read_truth(tmp_path)
    assert truth is not None and truth.episodes is None and "calendar year" in truth.source
    frame = pd.DataFrame({"charity_number": ["SC000001", "SC000002"], "as_of": AS_OF})
    judged = truth.judge(frame, cases(f.case_log()), 12)
    assert judged["misconduct"].tolist() == [1, 0]
    assert judged["true_risk"].tolist() == [1.0, 0.1]  # engaged the year before and after: going on


def test_a_real_regulators_folder_has_no_truth_and_a_bad_episode_date_is_named(tmp_path):
    assert read_truth(tmp_path) is None
    pd.DataFrame({"Charity Number": ["SC000001"], "Year": ["2021"], "Misconduct probability": ["0.1"],
                  "Misconduct": ["1"]}).to_csv(tmp_path / "latent_risk.csv", index=False)
    pd.DataFrame({"Charity Number": ["SC000001", "SC000002"], "Started": ["01/02/2020", "31/02/2020"],
                  "Ended": ["", ""], "Reached": ["", ""], "Shows as": ["change only", "level signals"]}
                 ).to_csv(tmp_path / "misconduct.csv", index=False)
    with pytest.raises(ValueError, match=r"misconduct.csv: row 2, field 'Started': '31/02/2020'"):
        read_truth(tmp_path)


def test_training_sees_the_filing_cycle_where_the_list_is_scored(small_world):
    """Returns due on 31 December count as outstanding on a 31 December list; trained on 31 December
    as-of dates, the model has seen as many just-due returns as the list holds."""
    tables = small_world
    extract = pd.Timestamp("2021-12-31")

    def just_due_share(features: pd.DataFrame) -> float:
        on_list = features.loc[review_list(features).isin(["proactive", "triage"]).to_numpy()]
        recent = (on_list["returns_outstanding"] > 0) & (on_list["days_overdue_oldest_outstanding"] <= 30)
        return float(recent.mean())

    listed = just_due_share(build_features(tables.register, tables.returns, tables.case_log, extract))
    shares = {}
    for name, splits in (("aligned", SplitConfig(first_as_of_year=2013)),
                         ("april", SplitConfig(first_as_of_year=2013, as_of_month_day="04-01"))):
        dates = labelled_as_of_dates(splits, ExperimentConfig().label, extract, tables.register["registered_date"].min())
        panel, _ = build_panel(tables.register, tables.returns, tables.case_log, dates, 12)
        shares[name] = just_due_share(panel)
    assert listed > 0.02, "a 31 December list holds many just-due returns"
    assert abs(shares["aligned"] - listed) < 0.01
    # 1 April dates would show the model five times fewer of them than the list holds
    assert shares["april"] < listed / 3


@pytest.mark.slow
def test_the_truth_judges_the_lists_but_never_reaches_a_registered_model(small_world, small_world_dir):
    """Training with the answer key and without it gives the same candidates, the same champions and
    the same final artefact; only the references and the truth columns are added."""
    experiment = copy.deepcopy(SMALL_EXPERIMENT)
    experiment["models"] = [m for m in experiment["models"] if m["kind"] != "logistic"]
    config = ExperimentConfig.model_validate(experiment)
    tables = small_world
    truth = read_truth(small_world_dir)
    with_truth = run_training(tables.register, tables.returns, tables.case_log, config, truth)
    without = run_training(tables.register, tables.returns, tables.case_log, config, None)
    assert set(with_truth.predictions["model"]) - set(without.predictions["model"]) == \
        {"true_risk", "full_information", "regulator"}
    assert not set(without.predictions["model"]) & set(REFERENCES)
    assert "misconduct" in with_truth.predictions and "misconduct" not in without.predictions
    assert with_truth.champions == without.champions
    candidates = ~with_truth.fold_metrics["model"].isin(REFERENCES)
    pd.testing.assert_frame_equal(with_truth.fold_metrics.loc[candidates].reset_index(drop=True),
                                  without.fold_metrics.reset_index(drop=True))
    features = build_features(tables.register, tables.returns, tables.case_log, "2021-12-31")
    np.testing.assert_array_equal(with_truth.final_model.predict_proba(model_inputs(features)),
                                  without.final_model.predict_proba(model_inputs(features)))
    assert with_truth.final_model.calibration == without.final_model.calibration
