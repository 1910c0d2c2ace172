"""Behaviour on simulated data: charities whose spending rises above their income move up the
list, and their reasons say so."""

import pandas as pd
import pytest

from risk_model.config import load_config
from risk_model.features import build_features
from risk_model.ingest.folder import ingest_folder
from risk_model.labels import cases
from risk_model.lists.explain import explain
from risk_model.lists.rank import rank_charities
from risk_model.lists.reasons import reason_codes
from risk_model.models import build_pipeline, model_inputs, score
from risk_model.panel import build_panel, panel_labels
from risk_model.simulate.world import SimulationConfig, simulate, write_world

pytestmark = pytest.mark.slow
AS_OF = pd.Timestamp("2019-12-31")
SPENDING = ["expenditure_gbp", "raising_funds_spending_gbp", "charitable_activities_spending_gbp",
            "other_spending_gbp"]


@pytest.fixture(scope="module")
def register_world(tmp_path_factory):
    """A register-sized world (the default label needs one to have enough inquiries)."""
    out = tmp_path_factory.mktemp("behaviour_world")
    write_world(simulate(SimulationConfig(charities=25_000, first_year=2009, last_year=2021, seed=3)), out)
    return ingest_folder(out)


@pytest.fixture(scope="module")
def model(register_world):
    """The default grid's LightGBM on the proactive list's target, as training fits it."""
    dates = [pd.Timestamp(f"{y}-12-31") for y in range(2012, 2020)]
    panel, _ = build_panel(register_world.register, register_world.returns, register_world.case_log, dates, 12)
    label = panel_labels(panel, cases(register_world.case_log), register_world.returns, "substantiated", 12,
                         pd.Timestamp("2021-12-31"))
    rows = (panel["review_list"] == "proactive").to_numpy() & label.notna().to_numpy()
    lightgbm = next(spec for spec in load_config().models if spec.kind == "lightgbm")
    return build_pipeline(lightgbm, seed=1).fit(model_inputs(panel.loc[rows]), label[rows].to_numpy())


def _overspend(returns: pd.DataFrame, numbers) -> pd.DataFrame:
    """Returns with spending (and each spending line alike) at 160% of income in each charity's
    last three received returns."""
    known = returns.loc[returns["charity_number"].isin(numbers) & (returns["date_received"] <= AS_OF)]
    last3 = known.sort_values("year_end").groupby("charity_number").tail(3).index
    changed = returns.copy()
    scale = (changed.loc[last3, "income_gbp"] * 1.6 + 500) / changed.loc[last3, "expenditure_gbp"].clip(lower=1)
    for column in SPENDING:
        changed.loc[last3, column] = changed.loc[last3, column] * scale
    return changed


def test_spending_above_income_moves_charities_up_and_the_reasons_say_so(model, register_world):
    before = build_features(register_world.register, register_world.returns, register_world.case_log, AS_OF)
    prudent = before.loc[(before["spend_over_income_last3"] == 0) & (before["returns_due"] >= 4)
                         & (before["returns_outstanding"] == 0), "charity_number"].head(40).tolist()
    assert len(prudent) == 40
    changed_returns = _overspend(register_world.returns, prudent)
    after = build_features(register_world.register, changed_returns, register_world.case_log, AS_OF)
    # Charities whose returns leave income blank cannot overspend it; keep the ones that now do.
    overspent = after.set_index("charity_number").loc[prudent, "spend_over_income_last3"] == 3
    prudent = list(overspent.index[overspent])
    assert len(prudent) >= 30

    rank_before = rank_charities(before, score(model, before), 175, "m", "1").set_index("charity_number")["rank"]
    rank_after = rank_charities(after, score(model, after), 175, "m", "1").set_index("charity_number")["rank"]
    moved = rank_before.loc[prudent] - rank_after.loc[prudent]
    assert (moved > 0).mean() >= 0.65, f"only {(moved > 0).mean():.0%} moved up"
    assert moved.median() > 0

    charity = moved.idxmax()
    row = after.loc[after["charity_number"] == charity].reset_index(drop=True)
    explained = explain(model, row)
    reasons = reason_codes(row, explained.by_factor(), changed_returns, register_world.case_log, n=3,
                           base_log_odds=explained.base_value_log_odds)
    up = reasons.loc[reasons["direction"] == "up"].set_index("factor")
    spending_reasons = up.index.intersection(["spending", "spending_change", "spending_parts_change"])
    assert len(spending_reasons) >= 1, up["sentence"].tolist()
    sentences = " ".join(up.loc[spending_reasons, "sentence"])
    ratio = row.loc[0, "spend_over_income_ratio_latest"]
    assert (f"{ratio:.0%} of its income" in sentences
            or "spending exceeded income in each of the last 3 returns" in sentences
            or "Spending rose from" in sentences or "spending rose from" in sentences), sentences
    assert set(up.loc[spending_reasons, "group"]) <= {"finance", "change"}
    assert (up.loc[spending_reasons, "contribution_log_odds"] > 0).all()
