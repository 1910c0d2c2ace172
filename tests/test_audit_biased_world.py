"""A deliberately biased simulated world: complaints, hence labels, concentrate in the four cities.

Misconduct in the simulator does not depend on where a charity is, so a list that favours the
cities is learning who gets complained about. The audit must flag it; on the same world with
the default complaint rates the list must follow the cities' true risk.
"""

import pandas as pd
import pytest

from risk_model.audit.fairness import AuditSettings
from risk_model.audit.report import build_audit
from risk_model.config import ExperimentConfig
from risk_model.ingest.folder import ingest_folder
from risk_model.labels import cases
from risk_model.panel import build_panel, list_inputs
from risk_model.simulate.world import SimulationConfig, simulate, write_world
from risk_model.splits import labelled_as_of_dates, temporal_folds
from risk_model.train import cross_validate
from risk_model.truth import read_truth

pytestmark = pytest.mark.slow
CITIES = ("City of Edinburgh", "Glasgow City", "Aberdeen", "Dundee City")
EXPERIMENT = ExperimentConfig.model_validate({
    "config_version": 2,
    "seed": 11,
    "lists": {"proactive": {"capacity": 60, "labels": ["substantiated"]},
              "triage": {"capacity": 20, "labels": ["substantiated_given_inquiry"]}},
    "splits": {"first_as_of_year": 2013, "n_folds": 3},
    "models": [{"name": "logistic", "kind": "logistic", "params": {"C": 0.1, "max_iter": 300}}],
    "evaluation": {"baseline_model": "logistic"},
})
MODEL, CAPACITY = "logistic on substantiated", 60
SETTINGS = AuditSettings(min_group_size=100, n_boot=200, seed=4)


def audited_world(tmp_path_factory, concern_city_log_rate: float):
    """Simulate, train out of fold, and audit the proactive list; plus a city / elsewhere column."""
    world = SimulationConfig(charities=6_000, first_year=2010, last_year=2021, seed=5,
                             concern_city_log_rate=concern_city_log_rate)
    folder = tmp_path_factory.mktemp(f"city_{concern_city_log_rate}")
    write_world(simulate(world), folder)
    tables = ingest_folder(folder)
    extract = pd.Timestamp("2021-12-31")
    dates = labelled_as_of_dates(EXPERIMENT.splits, EXPERIMENT.label, extract, tables.register["registered_date"].min())
    panel, _ = build_panel(tables.register, tables.returns, tables.case_log, dates, 12)
    folds = temporal_folds(dates, EXPERIMENT.splits.n_folds, EXPERIMENT.label, extract)
    _, predictions = cross_validate(panel, cases(tables.case_log), list_inputs(panel, tables.case_log, 12),
                                    tables.returns, folds, EXPERIMENT, extract, read_truth(folder))
    predictions = predictions.loc[(predictions["review_list"] == "proactive") & (predictions["model"] == MODEL)]
    in_city = predictions["main_operating_location"].isin(CITIES)
    predictions = predictions.assign(area_type=in_city.map({True: "city", False: "elsewhere"}).to_numpy(),
                                     label=predictions["label_substantiated"].fillna(0.0))
    report = build_audit(predictions, "proactive", MODEL, CAPACITY, "label_substantiated", SETTINGS)
    return report, predictions


@pytest.fixture(scope="module")
def biased(tmp_path_factory):
    return audited_world(tmp_path_factory, concern_city_log_rate=3.0)


@pytest.fixture(scope="module")
def fair(tmp_path_factory):
    return audited_world(tmp_path_factory, concern_city_log_rate=0.4)


def by_area(predictions: pd.DataFrame):
    """Bias audit and label-bias check grouped by city / elsewhere (the truth is in the predictions)."""
    from risk_model.audit.fairness import bias_audit, select_top_k
    from risk_model.audit.label_bias import label_bias

    ranked = select_top_k(predictions, CAPACITY)
    audit = bias_audit(ranked, SETTINGS, attributes=("area_type",))
    rate = audit.loc[audit["metric"] == "selection_rate"].set_index("group")
    check = label_bias(ranked, CAPACITY, SETTINGS, attributes=("area_type",)).set_index("group")
    return rate, check


def test_the_cities_are_flagged_in_the_biased_world(biased):
    _, predictions = biased
    rate, _ = by_area(predictions)
    assert rate.loc["elsewhere", "status"] == "reference"
    city = rate.loc["city"]
    assert city["status"] == "flagged" and city["ratio"] > 1.25
    assert city["ratio_low"] > 1  # the interval excludes 1


def test_the_audit_by_local_authority_flags_the_areas_the_list_neglects(biased):
    report, _ = biased
    rate = report.bias.loc[(report.bias["attribute"] == "main_operating_location")
                           & (report.bias["metric"] == "selection_rate")].set_index("group")
    assert rate.loc["City of Edinburgh", "status"] == "reference"  # the largest area
    for area in ("Highland", "Fife"):  # the largest areas outside the cities
        assert rate.loc[area, "status"] == "flagged" and rate.loc[area, "ratio_high"] < 1, area


def test_label_bias_shows_the_cities_over_selected_against_their_true_risk(biased):
    report, predictions = biased
    _, check = by_area(predictions)
    assert check.loc["city", "over_selection_low"] > 1.25
    assert check.loc["city", "labels_per_misconduct_low"] > 1  # city misconduct turns into labels more often
    areas = report.label_bias.loc[report.label_bias["attribute"] == "main_operating_location"].set_index("group")
    for city in ("City of Edinburgh", "Glasgow City"):
        assert areas.loc[city, "status"] == "flagged" and areas.loc[city, "over_selection_low"] > 1, city


def test_with_default_complaint_rates_the_list_follows_the_true_risk_in_the_cities(fair, biased):
    _, predictions = fair
    rate, check = by_area(predictions)
    # The cities may still be listed more often than elsewhere, but no more than their true risk warrants.
    assert check.loc["city", "over_selection_low"] <= 1 <= check.loc["city", "over_selection_high"]
    biased_rate, biased_check = by_area(biased[1])
    assert check.loc["city", "over_selection"] < biased_check.loc["city", "over_selection_low"]
    assert rate.loc["city", "ratio_high"] < biased_rate.loc["city", "ratio_low"]


def test_the_quota_estimate_is_compared_with_the_true_precision_and_sized(biased):
    report, _ = biased
    quota = report.quota
    assert set(quota["fold"]) == {"fold_2017", "fold_2018", "fold_2019", "all"}
    assert (quota["quota_interval_low"] <= quota["quota_estimate"]).all()
    # a standard error of 0 is never shown: where the sample cannot tell, it says so
    assert not (quota["quota_standard_error"] == 0).any()
    at_k = quota.loc[quota["k"] == 60]
    assert (at_k["random_reviews"] == 6).all()
    assert (at_k["reviews_needed"] > at_k["random_reviews"]).all()
    assert at_k["verdict"].str.startswith("too small to tell anything").all()
    assert report.summary["precision_at_k_true"] == pytest.approx(
        quota.loc[(quota["fold"] == "all") & (quota["k"] == 60), "true_precision"].iloc[0])
    assert report.coverage.set_index("k").loc[60, "coverage"] > report.coverage["coverage"].iloc[-1]
