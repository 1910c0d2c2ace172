"""Reasons on the served world's top lists read as a case officer needs: no quantity both raising and
lowering a score, nothing negligible given as a reason, no reassurance given as why a score is higher,
every sentence saying which way it pushes, and the points adding up from the base rate."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from risk_model.config import TrackingConfig
from risk_model.ingest.folder import ingest_folder
from risk_model.lists.explain import base_values, reason_contributions
from risk_model.lists.membership import review_list
from risk_model.lists.points import negligible, probability, steps_from
from risk_model.lists.rank import ranked_lists
from risk_model.tracking.store import load_champion, use_tracking
from tests.support import serve as support

pytestmark = pytest.mark.service
AS_OF = pd.Timestamp("2021-12-31")
TOP = 175
# Phrases of a fact that is reassuring in itself, and of one that is a risk in itself.
REASSURING = ("Every return received was filed on time", "No annual return is overdue", "No concerns have been",
              "No previous inquiries", "spending stayed within income")
RISKY = re.compile(r"overdue; the oldest|were filed late|[1-9]\d* ending in regulatory action|exceeded income")
SAYS_WHICH_WAY = re.compile(r"(?:: this (?:raises|lowers) the score|even so, the model weighs this as "
                            r"(?:raising|lowering) the score|score (?:higher|lower)|on the rule's risk indicators)$")
SPENDING_AGAINST_INCOME = re.compile(r"of (?:its )?income|exceeded income|within income", re.IGNORECASE)


@pytest.fixture(scope="module")
def top(world):
    """The champion's top TOP charities of each list, with their reasons (three each way)."""
    config = TrackingConfig(tracking_uri=world.tracking_uri, experiment="serve-tests",
                            registered_model=support.REGISTERED_MODEL)
    use_tracking(config, world.store_dir)
    model, _ = load_champion(config)
    tables = ingest_folder(world.data_dir)
    lists = ranked_lists(model, tables.register, tables.returns, tables.case_log, AS_OF, model.capacities, "m", "1",
                         n_reasons=3)
    ranked = lists.ranked.loc[lists.ranked["rank"] <= TOP]
    reasons = lists.reasons.loc[lists.reasons["charity_number"].isin(ranked["charity_number"])]
    assert ranked["review_list"].nunique() == 2 and len(reasons) >= len(ranked)
    return model, lists, ranked, reasons


def test_no_quantity_is_both_raising_and_lowering(top):
    _, _, _, reasons = top
    assert not reasons.duplicated(["charity_number", "factor"]).any()
    spending = reasons.loc[reasons["sentence"].str.contains(SPENDING_AGAINST_INCOME)
                           & (reasons["group"] == "finance")]
    both = spending.groupby("charity_number")["direction"].nunique()
    assert (both == 1).all(), spending.loc[spending["charity_number"].isin(both.index[both > 1]), "sentence"].tolist()


def _bases(model, lists, ranked) -> pd.Series:
    rows = lists.features.loc[lists.features["charity_number"].isin(ranked["charity_number"])]
    bases = base_values(model)
    return pd.Series([bases[n] for n in review_list(rows)], index=rows["charity_number"].to_numpy())


def test_no_reason_is_negligible_and_the_top_reason_is_the_largest_raising_one(top):
    model, lists, ranked, reasons = top
    steps, before = steps_from(reasons, _bases(model, lists, ranked))
    assert not negligible(steps, before).any()
    np.testing.assert_allclose(steps, reasons["contribution_points"], atol=1e-12)
    first = reasons.loc[(reasons["direction"] == "up") & (reasons["position"] == 1)]
    assert first["charity_number"].is_unique


def test_a_reassurance_is_never_why_a_score_is_higher_nor_a_risk_why_it_is_lower(top):
    _, _, _, reasons = top
    up = reasons.loc[reasons["direction"] == "up", "sentence"]
    down = reasons.loc[reasons["direction"] == "down", "sentence"]
    for phrase in REASSURING:
        raising = up.loc[up.str.contains(phrase, regex=False)]
        assert raising.str.contains("even so, the model weighs this as raising the score").all(), raising.tolist()
    lowering = down.loc[down.str.contains(RISKY) & ~down.str.contains("within income")]
    assert lowering.str.contains("even so, the model weighs this as lowering the score").all(), lowering.tolist()


def test_every_reason_says_which_way_it_pushes(top):
    _, _, _, reasons = top
    silent = reasons.loc[~reasons["sentence"].str.contains(SAYS_WHICH_WAY), "sentence"]
    assert silent.empty, silent.head().tolist()


def test_the_points_start_at_the_base_rate_and_the_base_is_the_lists_models(top):
    model, lists, ranked, reasons = top
    rows = lists.features.loc[lists.features["charity_number"].isin(ranked["charity_number"])]
    explained = reason_contributions(model, rows)
    bases = base_values(model)
    np.testing.assert_allclose(explained.base_value_log_odds, [bases[n] for n in review_list(rows)], atol=1e-9)
    # The kept reasons' steps end where their log-odds, added in the waterfall's order, take the chance.
    base = pd.Series(explained.base_value_log_odds, index=rows["charity_number"].to_numpy())
    summed = reasons.groupby("charity_number").agg(points=("contribution_points", "sum"),
                                                   log_odds=("contribution_log_odds", "sum"))
    reached = 100 * (probability(base.loc[summed.index] + summed["log_odds"]) - probability(base.loc[summed.index]))
    np.testing.assert_allclose(summed["points"], reached, atol=1e-9)
