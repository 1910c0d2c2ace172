"""Explanations: additivity, factor grouping, sentences and sources."""

import numpy as np
import pandas as pd
import pytest

from risk_model.config import ModelSpec
from risk_model.domain.factors import FACTORS, factor_of
from risk_model.features import build_features
from risk_model.labels import cases
from risk_model.lists.explain import explain, global_importance, sum_to_factors, top_factors, what_changed
from risk_model.lists.membership import review_list
from risk_model.lists.reasons import reason_codes
from risk_model.models import ReviewLists, build_pipeline, model_inputs
from risk_model.panel import build_panel, panel_labels
from tests.support import factories as f

SPECS = {
    "lightgbm": ModelSpec(name="lightgbm", kind="lightgbm", params={"n_estimators": 60, "num_leaves": 7,
                                                                   "min_child_samples": 20}),
    "logistic": ModelSpec(name="logistic", kind="logistic", params={"C": 0.1, "solver": "newton-cholesky"}),
}


@pytest.fixture(scope="module")
def panel(small_world):
    """Three years of the small world with the late-return label (plenty of positives)."""
    dates = [pd.Timestamp(f"{y}-12-31") for y in (2016, 2017, 2018)]
    frame, _ = build_panel(small_world.register, small_world.returns, small_world.case_log, dates, 12)
    label = panel_labels(frame, cases(small_world.case_log), small_world.returns, "late_return", 12,
                         pd.Timestamp("2021-12-31"))
    return frame.assign(label=label.fillna(0.0).to_numpy())


@pytest.fixture(scope="module", params=sorted(SPECS))
def fitted(request, panel):
    pipeline = build_pipeline(SPECS[request.param], seed=3)
    return pipeline.fit(model_inputs(panel), panel["label"].to_numpy())


def test_contributions_plus_base_equal_raw_score(fitted, panel):
    rows = panel.iloc[:2_000]
    contributions = explain(fitted, rows)
    total = contributions.base_value_log_odds + contributions.columns.sum(axis=1).to_numpy()
    probability = fitted.predict_proba(model_inputs(rows))[:, 1]
    raw = np.log(probability / (1 - probability))
    assert np.max(np.abs(total - contributions.raw_score_log_odds)) < 1e-6
    assert np.max(np.abs(total - raw)) < 1e-6


def test_review_lists_explain_each_charity_by_its_lists_model_on_the_calibrated_scale(panel):
    y = panel["label"].to_numpy()
    pipelines = {name: build_pipeline(SPECS[kind], seed=3).fit(model_inputs(panel), y)
                 for name, kind in (("proactive", "lightgbm"), ("triage", "logistic"))}
    model = ReviewLists(pipelines, {"proactive": (0.7, -0.4), "triage": (1.3, 0.2)})
    rows = panel.loc[review_list(panel).isin(["proactive", "triage"])].groupby("review_list").head(300)
    assert set(review_list(rows)) == {"proactive", "triage"}
    contributions = explain(model, rows)
    total = contributions.base_value_log_odds + contributions.columns.sum(axis=1).to_numpy()
    p = model.predict_proba(model_inputs(rows))[:, 1]
    assert np.max(np.abs(total - np.log(p / (1 - p)))) < 1e-6
    on_triage = review_list(rows).to_numpy() == "triage"
    own = explain(pipelines["triage"], rows.loc[on_triage])
    np.testing.assert_allclose(contributions.by_factor().to_numpy()[on_triage], 1.3 * own.by_factor().to_numpy(),
                               atol=1e-9)


def test_lightgbm_contributions_match_shap_tree_explainer(panel):
    shap = pytest.importorskip("shap")
    pipeline = build_pipeline(SPECS["lightgbm"], seed=3).fit(model_inputs(panel), panel["label"].to_numpy())
    rows = panel.iloc[:300]
    ours = explain(pipeline, rows).columns.to_numpy()
    encoded = pipeline[:-1].transform(model_inputs(rows))
    theirs = shap.TreeExplainer(pipeline[-1]).shap_values(encoded)
    theirs = theirs[1] if isinstance(theirs, list) else theirs
    assert np.max(np.abs(ours - theirs)) < 1e-6


def test_factor_sums_preserve_totals_and_gather_their_columns(fitted, panel):
    contributions = explain(fitted, panel.iloc[:500])
    factors = contributions.by_factor()
    np.testing.assert_allclose(factors.sum(axis=1), contributions.columns.sum(axis=1), atol=1e-9)
    purpose_columns = [c for c in contributions.columns.columns if factor_of(c) == "purposes"]
    assert len(purpose_columns) == 17  # 16 purposes and their count
    np.testing.assert_allclose(factors["purposes"], contributions.columns[purpose_columns].sum(axis=1), atol=1e-12)
    form_columns = [c for c in contributions.columns.columns if factor_of(c) == "constitutional_form"]
    # one-hot dummies for the trees, one shrunk outcome-rate column for the linear model
    assert len(form_columns) >= (3 if "names" in fitted.named_steps else 1)
    if "names" not in fitted.named_steps:
        assert any(c.startswith("log__missingindicator_") for c in contributions.columns.columns)
        assert {factor_of(c) for c in contributions.columns.columns if c.endswith("missingindicator_trustees_latest")} == {"trustees"}
    np.testing.assert_allclose(factors["constitutional_form"],
                               contributions.columns[form_columns].sum(axis=1), atol=1e-12)


def test_sum_to_factors_by_hand():
    columns = pd.DataFrame({"num__purpose__education": [0.5], "num__n_purposes": [0.25],
                            "cat__constitutional_form_Other": [-1.0], "num__returns_outstanding": [2.0],
                            "num__days_overdue_oldest_outstanding": [0.5]})
    factors = sum_to_factors(columns)
    assert factors.loc[0, "purposes"] == 0.75
    assert factors.loc[0, "constitutional_form"] == -1.0
    assert factors.loc[0, "overdue_returns"] == 2.5
    assert factors.loc[0, "income"] == 0.0
    assert list(factors.columns) == [f.id for f in FACTORS]


def test_top_factors_and_what_changed_by_hand():
    values = pd.DataFrame({"income": [0.5, -0.1], "spending": [-0.7, 0.2], "age": [0.1, 0.0]}, index=["x", "y"])
    top = top_factors(values, n=1)
    assert top.query("index == 'x' and direction == 'up'")["factor"].item() == "income"
    assert top.query("index == 'x' and direction == 'down'")["factor"].item() == "spending"
    assert top.query("index == 'y' and direction == 'up'")["factor"].item() == "spending"
    before = pd.DataFrame({"income": [0.0, -0.1], "spending": [-0.7, 0.9], "age": [0.1, 0.0]}, index=["x", "y"])
    changed = what_changed(values, before, n=1)
    assert changed.set_index("index")["factor"].to_dict() == {"x": "income", "y": "spending"}
    assert changed.set_index("index").loc["y", "change_log_odds"] == pytest.approx(-0.7)
    importance = global_importance(values)
    assert importance["factor"].tolist()[0] == "spending"


def test_sentences_cite_the_charitys_own_values():
    reg = f.register({})
    rows = f.annual_returns("SC000001", range(2019, 2022), income=10_000, expenditure=12_500, trustees=2.0)
    rows.append({"charity_number": "SC000001", "year_end": "2022-03-31", "date_received": None})
    log = f.case_log(("SC000001", "2023-01-05", "concern_received", None),
                     ("SC000001", "2023-02-01", "inquiry_opened", None),
                     ("SC000001", "2023-06-30", "inquiry_closed", "guidance_issued"))
    features = build_features(reg, f.returns(*rows), log, "2023-09-01")
    factor_ids = ["spending", "overdue_returns", "trustees", "concerns", "inquiries", "income"]
    factor_values = pd.DataFrame([[1.0, 0.9, 0.8, 0.7, 0.6, -0.5] + [0.0] * (len(FACTORS) - 6)],
                                 columns=factor_ids + [f.id for f in FACTORS if f.id not in factor_ids])
    reasons = reason_codes(features, factor_values, f.returns(*rows), log, n=5).set_index("factor")
    assert reasons.loc["spending", "sentence"] == (
        "Spending of £12,500 in the latest return, 125% of its income of £10,000; spending exceeded income in "
        "each of the last 3 returns (2019-2021): this raises the score")
    assert reasons.loc["spending", "source"] == "returns for years ending 2019-2021"
    assert "1 annual return overdue" in reasons.loc["overdue_returns", "sentence"]
    assert "31 Mar 2022" in reasons.loc["overdue_returns", "sentence"]
    assert "was due 31 Dec 2022" in reasons.loc["overdue_returns", "sentence"]
    assert reasons.loc["trustees", "sentence"] == \
        "2 trustees recorded in the latest return: charities with this many trustees score higher"
    assert reasons.loc["trustees", "group"] == "governance"
    assert "1 concern received" in reasons.loc["concerns", "sentence"]
    assert reasons.loc["concerns", "source"] == "case log: concern received 5 Jan 2023"
    assert reasons.loc["inquiries", "source"] == "case log: inquiry closed 30 Jun 2023 (guidance_issued)"
    assert reasons.loc["income", "direction"] == "down"
    assert reasons.loc["income", "sentence"] == "Income of £10,000 in the latest return: charities of this income score lower"
    assert reasons.loc["income", "source"].startswith("return for year ending 31 Mar 2021, received")


def test_partial_overspending_names_the_years_and_missing_returns_say_so():
    reg = f.register({}, {})
    rows = f.annual_returns("SC000001", range(2019, 2020), income=10_000, expenditure=12_000)
    rows += f.annual_returns("SC000001", range(2020, 2021), income=10_000, expenditure=8_000)
    rows += f.annual_returns("SC000001", range(2021, 2022), income=10_000, expenditure=11_000)
    features = build_features(reg, f.returns(*rows), f.case_log(), "2023-01-01")
    ids = ["spending", "income"]
    factor_values = pd.DataFrame([[1.0, 0.5] + [0.0] * (len(FACTORS) - 2)] * 2,
                                 columns=ids + [x.id for x in FACTORS if x.id not in ids])
    reasons = reason_codes(features, factor_values, f.returns(*rows), f.case_log(), n=2)
    first = reasons.loc[reasons["charity_number"] == "SC000001"].set_index("factor")
    assert first.loc["spending", "sentence"].startswith("Spending of £11,000 in the latest return, 110% of its income")
    assert "spending exceeded income in 2 of the last 3 returns (2019, 2021): this raises" in first.loc["spending", "sentence"]
    second = reasons.loc[reasons["charity_number"] == "SC000002"].set_index("factor")
    assert second.loc["income", "sentence"] == ("No annual return has been received, so its finances are unknown: "
                                                "charities with no return on record score higher")
    assert second.loc["income", "source"] == "no return received"


def test_reasons_for_charities_that_never_overspent():
    """Evidence must cope with a batch where no charity spent more than its income."""
    reg = f.register({})
    rows = f.annual_returns("SC000001", range(2019, 2022), income=10_000, expenditure=9_000)
    features = build_features(reg, f.returns(*rows), f.case_log(), "2023-01-01")
    factor_values = pd.DataFrame([[1.0] + [0.0] * (len(FACTORS) - 1)],
                                 columns=["spending"] + [x.id for x in FACTORS if x.id != "spending"])
    reasons = reason_codes(features, factor_values, f.returns(*rows), f.case_log(), n=1)
    assert reasons["sentence"].tolist() == [
        "Spending of £9,000 in the latest return, 90% of its income of £10,000; spending stayed within income in "
        "each of the last 3 returns (2019-2021); even so, the model weighs this as raising the score"]


def test_change_sentences_name_the_field_that_moved_and_its_figures():
    reg = f.register({})
    rows = []
    for year, other, trustees in ((2019, 0, 9.0), (2020, 100, 9.0), (2021, 200, 9.0), (2022, 40_000, 5.0)):
        rows += f.annual_returns("SC000001", range(year, year + 1), income=50_000 + other, expenditure=50_000,
                                 other_income_gbp=other, charitable_activities_income_gbp=50_000,
                                 trustees=trustees)
    features = build_features(reg, f.returns(*rows), f.case_log(), "2023-06-01")
    ids = ["income_sources_change", "trustees_change", "year_end_change"]
    factor_values = pd.DataFrame([[1.0, 0.8, -0.1] + [0.0] * (len(FACTORS) - 3)],
                                 columns=ids + [x.id for x in FACTORS if x.id not in ids])
    reasons = reason_codes(features, factor_values, f.returns(*rows), f.case_log(), n=2).set_index("factor")
    assert reasons.loc["income_sources_change", "sentence"] == (
        "Other income rose from £200 to £40,000 between the returns for 2021 and 2022 "
        "(£100 a year on average in up to three returns before): charities whose returns changed like this score "
        "higher")
    assert reasons.loc["income_sources_change", "group"] == "change"
    assert reasons.loc["trustees_change", "sentence"].startswith(
        "Trustees fell from 9 to 5 between the returns for 2021 and 2022: ")
    assert reasons.loc["year_end_change", "sentence"] == ("The financial year end has not changed in the returns on "
                                                          "record: charities whose year end moved like this score lower")


def test_what_changed_caps_n_at_the_number_of_factors():
    now = pd.DataFrame([[1.0, 2.0]], columns=["income", "age"])
    assert len(what_changed(now, now * 0, n=50)) == 2
