"""Explanations in percentage points on tiny frames: the steps add up to the score, the base rate is the
base value's chance, negligible reasons are left out, a rule baseline's reasons name its points, and a
reassurance is never given as why a score is higher."""

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

from risk_model.config import ModelSpec
from risk_model.domain.factors import FACTORS
from risk_model.features import build_features
from risk_model.lists.explain import base_values, has_reasons, reason_contributions
from risk_model.lists.points import (
    NEGLIGIBLE_POINTS,
    material,
    negligible,
    other_factors_points,
    points,
    probability,
    steps_from,
)
from risk_model.lists.reasons import reason_codes
from risk_model.models import ReviewLists, build_pipeline, model_inputs
from tests.support import factories as f


def _reasons(*rows: tuple) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["charity_number", "direction", "position", "contribution_log_odds"])


def test_points_steps_add_up_to_the_score_less_the_base_rate_exactly():
    reasons = _reasons(("A", "down", 1, -0.5), ("A", "up", 1, 1.0), ("A", "up", 2, 0.25), ("B", "up", 1, 2.0))
    base = pd.Series({"A": -3.0, "B": -1.0})
    steps = points(reasons, base)
    # A's waterfall: raising ones first (1.0, then 0.25), then the lowering one.
    chances = expit([-3.0, -2.0, -1.75, -2.25])
    np.testing.assert_allclose(steps[[1, 2, 0]], 100 * np.diff(chances), rtol=0, atol=1e-12)
    score_a = expit(-3.0 + 1.0 + 0.25 - 0.5 + 0.4)  # 0.4: the factors not shown
    other = other_factors_points(score_a, probability(-3.0), steps[:3])
    assert abs(100 * probability(-3.0) + steps[:3].sum() + other - 100 * score_a) < 1e-12
    assert other > 0
    assert steps[3] == pytest.approx(100 * (expit(1.0) - expit(-1.0)))


def test_the_order_of_the_steps_matters_and_is_fixed():
    """The same two factors read differently taken the other way round, so one order is used."""
    base = pd.Series({"A": -3.0})
    raise_first = points(_reasons(("A", "up", 1, 1.0), ("A", "down", 1, -0.5)), base)
    assert raise_first == pytest.approx([7.18, -4.33], abs=0.01)
    # Given in another row order, the waterfall's order is the same.
    assert points(_reasons(("A", "down", 1, -0.5), ("A", "up", 1, 1.0)), base) == pytest.approx(raise_first[::-1])


def test_negligible_reasons_are_left_out_and_the_rest_renumbered():
    reasons = _reasons(("A", "up", 1, 0.9), ("A", "up", 2, 0.05), ("A", "up", 3, 0.04), ("A", "down", 1, -0.3))
    kept = material(reasons, pd.Series({"A": -4.0}))
    assert list(zip(kept["direction"], kept["position"])) == [("up", 1), ("down", 1)]
    assert kept["contribution_points"].tolist() == pytest.approx(points(kept, pd.Series({"A": -4.0})))
    assert not negligible(*steps_from(kept, pd.Series({"A": -4.0}))).any()


def test_a_step_under_half_a_point_that_nearly_doubles_a_small_chance_is_not_negligible():
    reasons = _reasons(("A", "up", 1, 0.6), ("A", "up", 2, 0.05))
    kept = material(reasons, pd.Series({"A": -6.0}))  # a 0.25% chance
    assert kept["contribution_points"].tolist() == pytest.approx([100 * (expit(-5.4) - expit(-6.0))])
    assert kept["contribution_points"].item() < NEGLIGIBLE_POINTS
    assert negligible([0.3, 0.3], [0.05, 0.002]).tolist() == [True, False]


@pytest.fixture(scope="module")
def rule_world():
    """Three charities: a recent concern and an overdue return (3 points), one overdue return (1), neither."""
    register = f.register({}, {}, {})
    rows = (f.annual_returns("SC000001", range(2018, 2021), income=10_000, expenditure=9_000)
            + [{"charity_number": "SC000001", "year_end": "2021-03-31", "date_received": None}]
            + f.annual_returns("SC000002", range(2018, 2021), income=10_000, expenditure=9_000)
            + [{"charity_number": "SC000002", "year_end": "2021-03-31", "date_received": None}]
            + f.annual_returns("SC000003", range(2018, 2022), income=10_000, expenditure=9_000))
    returns = f.returns(*rows)
    log = f.case_log(("SC000001", "2022-06-01", "concern_received", None))
    features = build_features(register, returns, log, "2022-12-31")
    rule = build_pipeline(ModelSpec(name="rule", kind="rule"), seed=1)
    rule.fit(model_inputs(features), np.array([1.0, 1.0, 0.0]))
    # Three charities say little: the rate of each points total (0 to 4) set as a larger world's might be.
    rule[-1].rate_by_points_ = np.array([0.02, 0.06, 0.15, 0.30, 0.45])
    return features, returns, log, rule


def test_a_rule_baselines_reasons_name_the_points_its_indicators_scored(rule_world):
    features, returns, log, rule = rule_world
    assert has_reasons(rule)
    explained = reason_contributions(rule, features)
    reasons = reason_codes(features, explained.by_factor(), returns, log, 3,
                           base_log_odds=explained.base_value_log_odds, rule_points=explained.rule_points)
    first = reasons.loc[reasons["charity_number"] == "SC000001"].set_index("factor")
    assert set(first.index) == {"concerns", "overdue_returns"}
    assert (first["direction"] == "up").all()
    assert first.loc["concerns", "sentence"].endswith(": scores 2 points on the rule's risk indicators")
    assert first.loc["overdue_returns", "sentence"].startswith("1 annual return overdue")
    assert first.loc["overdue_returns", "sentence"].endswith(": scores 1 point on the rule's risk indicators")
    # The steps start at the score of no points and end at the score of the points met.
    at = rule[-1].score_at(np.array([0.0, 3.0]))
    assert first["contribution_points"].sum() == pytest.approx(100 * (at[1] - at[0]))
    assert reasons.loc[reasons["charity_number"] == "SC000003"].empty  # no indicator met: no reason


def test_base_values_are_the_base_of_every_charity_a_lists_model_scores(rule_world):
    features, _, _, rule = rule_world
    model = ReviewLists({"proactive": rule, "triage": rule}, {"proactive": (0.8, -0.3), "triage": (1.0, 0.0)})
    explained = reason_contributions(model, features)
    by_list = model.scoring_list(features)
    expected = np.array([base_values(model)[name] for name in by_list])
    np.testing.assert_allclose(explained.base_value_log_odds, expected)
    assert probability(base_values(rule)["proactive"]) == pytest.approx(rule[-1].score_at(np.zeros(1))[0])


def _one_charity(**returns_extra):
    register = f.register({})
    rows = f.annual_returns("SC000001", range(2016, 2022), income=10_000, expenditure=9_000, **returns_extra)
    features = build_features(register, f.returns(*rows), f.case_log(), "2023-01-01")
    return features, f.returns(*rows)


@pytest.mark.parametrize("factor, reassurance", [
    ("late_returns", "Every return received was filed on time"),
    ("overdue_returns", "No annual return is overdue"),
    ("concerns", "No concerns have been received"),
    ("inquiries", "No previous inquiries"),
])
def test_a_reassurance_is_never_given_as_why_a_score_is_higher(factor, reassurance):
    features, returns = _one_charity()
    factor_values = pd.DataFrame([[0.0] * len(FACTORS)], columns=[x.id for x in FACTORS]).assign(**{factor: 1.0})
    raising = reason_codes(features, factor_values, returns, f.case_log(), 1)["sentence"].item()
    assert raising.startswith(reassurance)
    assert "even so, the model weighs this as raising the score" in raising
    lowering = reason_codes(features, -factor_values, returns, f.case_log(), 1)["sentence"].item()
    assert lowering.startswith(reassurance) and lowering.endswith(": this lowers the score")


def test_a_neutral_statement_says_which_way_it_pushes():
    features, returns = _one_charity()
    factor_values = pd.DataFrame([[0.0] * len(FACTORS)], columns=[x.id for x in FACTORS]).assign(area=0.8)
    reasons = reason_codes(features, factor_values, returns, f.case_log(), 1, base_log_odds=[-3.0])
    assert reasons["sentence"].item() == "Operates mainly in Fife: charities operating mainly there score higher"
    assert reasons["contribution_points"].item() == pytest.approx(100 * (expit(-2.2) - expit(-3.0)))
    # A push of a twentieth of a log-odd moves a 4.7% chance by 0.24 points: negligible, no reason at all.
    small = factor_values.assign(area=0.05)
    assert reason_codes(features, small, returns, f.case_log(), 1, base_log_odds=[-3.0]).empty


def test_a_rule_champions_page_has_its_base_rate_and_steps_ending_at_the_score(rule_world):
    """What the charity page reads from a stored row when the champion is a rule baseline."""
    from types import SimpleNamespace

    from serve.internal.pages import explained
    from serve.internal.registry import Champion
    from serve.schemas import ModelInfo

    features, returns, log, rule = rule_world
    model = ReviewLists({"proactive": rule, "triage": rule}, {"proactive": (1.0, 0.0), "triage": (1.0, 0.0)})
    contributions = reason_contributions(model, features.iloc[:1])
    stored = reason_codes(features.iloc[:1], contributions.by_factor(), returns, log, 3,
                          base_log_odds=contributions.base_value_log_odds, rule_points=contributions.rule_points)
    score = float(model.predict_proba(model_inputs(features.iloc[:1], rule))[0, 1])
    row = SimpleNamespace(reasons=stored.drop(columns="charity_number").to_dict("records"), score=score,
                          review_list="recently inquired")
    champion = Champion(model, ModelInfo(registered_model="rule-test", version="1", model="rule",
                                         capacities={"proactive": 1, "triage": 1}), explainable=True)
    reasons, base_rate, other = explained(champion, row)
    assert base_rate == pytest.approx(rule[-1].score_at(np.zeros(1))[0])
    assert all("on the rule's risk indicators" in r.sentence for r in reasons) and len(reasons) == 2
    assert 100 * base_rate + sum(r.contribution_points for r in reasons) + other == pytest.approx(100 * score)
    assert abs(other) < 0.1  # only the tie-break within a points total is left
