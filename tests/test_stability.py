"""Stability between two lists: overlap, rank correlation, and the factors that moved the movers."""

import numpy as np
import pandas as pd
import pytest

from risk_model.audit.stability import compare_lists, mover_factors
from risk_model.config import ModelSpec
from risk_model.domain.factors import FACTORS
from risk_model.features import build_features
from risk_model.labels import build_labels, cases
from risk_model.lists.explain import explain
from risk_model.lists.rank import rank_charities
from risk_model.models import build_pipeline, model_inputs, score


def listed(order: list[str], names: dict | None = None) -> pd.DataFrame:
    """A ranked list in the given order (first = rank 1)."""
    n = len(order)
    return pd.DataFrame({"charity_number": order, "rank": np.arange(1, n + 1), "score": np.linspace(1, 0, n),
                         "charity_name": [f"Charity {c}" for c in order]})


def test_overlap_correlation_and_movers_of_hand_made_lists():
    before = listed(["a", "b", "c", "d", "e", "f"])
    after = listed(["a", "d", "b", "c", "e", "f"])
    figures, movers = compare_lists(before, after, capacity_k=3)
    assert figures["top_k_shared"] == 2
    assert figures["top_k_jaccard"] == pytest.approx(2 / 4)  # {a, b} of {a, b, c, d}
    assert movers[["charity_number", "movement", "rank_before", "rank_after"]].values.tolist() == [
        ["d", "entering", 4, 2], ["c", "leaving", 3, 4]]
    assert 0 < figures["spearman"] < 1 and 0 < figures["kendall"] < 1
    same, none = compare_lists(before, before, 3)
    assert same["top_k_jaccard"] == 1.0 and same["spearman"] == pytest.approx(1.0) and none.empty
    reversed_figures, _ = compare_lists(before, listed(list("fedcba")), 3)
    assert reversed_figures["top_k_jaccard"] == 0.0
    assert reversed_figures["spearman"] == pytest.approx(-1.0) and reversed_figures["kendall"] == pytest.approx(-1.0)


def test_charities_on_one_list_only_do_not_shift_the_other_lists_ranks():
    before = listed(["new", "a", "b", "c", "d"])  # "new" is on the first list only
    after = listed(["a", "b", "c", "d"])
    figures, movers = compare_lists(before, after, capacity_k=2)
    assert figures["charities_compared"] == 4
    assert figures["top_k_jaccard"] == 1.0 and movers.empty


@pytest.fixture(scope="module")
def two_models(small_world):
    """Two models of different kinds fitted on one as-of date of the small world, and the next year's features."""
    tables = small_world
    train_as_of = pd.Timestamp("2017-04-01")
    features = build_features(tables.register, tables.returns, tables.case_log, train_as_of)
    labels = build_labels(features["charity_number"], cases(tables.case_log), tables.returns, train_as_of,
                          "late_return", 12, pd.Timestamp("2021-12-31"))
    train = features.assign(label=labels.to_numpy()).dropna(subset=["label"])
    specs = [ModelSpec(name="logistic", kind="logistic", params={"C": 0.1, "max_iter": 500}),
             ModelSpec(name="lightgbm", kind="lightgbm", params={"n_estimators": 30, "num_leaves": 7})]
    pipelines = [build_pipeline(spec, seed=3).fit(model_inputs(train), train["label"].to_numpy()) for spec in specs]
    now = build_features(tables.register, tables.returns, tables.case_log, "2018-04-01")
    return pipelines, now


def test_factor_changes_of_movers_add_up_to_the_change_in_their_scores(two_models):
    (before_model, after_model), features = two_models
    lists = [rank_charities(features, score(p, features), 50, "m", "1") for p in (before_model, after_model)]
    figures, movers = compare_lists(*lists, capacity_k=50)
    assert figures["entering"] == figures["leaving"] > 0
    factors = mover_factors(before_model, after_model, features, movers, n=len(FACTORS))
    assert set(factors["charity_number"]) == set(movers["charity_number"])
    assert factors["change_log_odds"].abs().groupby(factors["charity_number"]).is_monotonic_decreasing.all()
    rows = features.set_index("charity_number").loc[movers["charity_number"]].reset_index()
    explained = [explain(p, rows) for p in (before_model, after_model)]
    change_without_base = ((explained[1].raw_score_log_odds - explained[1].base_value_log_odds)
                           - (explained[0].raw_score_log_odds - explained[0].base_value_log_odds))
    summed = factors.groupby("charity_number")["change_log_odds"].sum().reindex(rows["charity_number"])
    assert np.allclose(summed.to_numpy(), change_without_base, atol=1e-6)
    top = mover_factors(before_model, after_model, features, movers, n=2)
    assert (top.groupby("charity_number").size() == 2).all()
    assert set(top["movement"]) == {"entering", "leaving"}


def test_mover_factors_are_empty_for_a_model_without_contributions(two_models):
    from risk_model.models import build_pipeline as build

    (model, _), features = two_models
    rule = build(ModelSpec(name="rule", kind="rule"), seed=3)
    train = features.head(400).assign(label=np.r_[np.ones(40), np.zeros(360)])
    rule.fit(model_inputs(train), train["label"].to_numpy())
    lists = [rank_charities(features, score(p, features), 30, "m", "1") for p in (model, rule)]
    _, movers = compare_lists(*lists, capacity_k=30)
    assert len(movers) > 0
    assert mover_factors(model, rule, features, movers).empty
