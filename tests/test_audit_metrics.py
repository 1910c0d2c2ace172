"""Bias audit on hand-made frames whose answers are known."""

import numpy as np
import pandas as pd
import pytest

from risk_model.audit.fairness import (
    AuditSettings,
    bias_audit,
    bootstrap_cell_counts,
    group_labels,
    group_metrics,
    select_top_k,
)
from risk_model.audit.score_bands import decile_of_rank, risk_bands, score_deciles
from risk_model.evaluate import wilson_interval

FAST = AuditSettings(min_group_size=1, n_boot=50, seed=3)


def predictions(rows: list[tuple], fold: str = "fold_2020") -> pd.DataFrame:
    """Rows of (charity_number, group, score, label) in one fold."""
    frame = pd.DataFrame(rows, columns=["charity_number", "main_operating_location", "score", "label"])
    return frame.assign(fold=fold, as_of=pd.Timestamp(f"{fold[-4:]}-04-01"), label=frame["label"].astype(float))


def test_select_top_k_picks_k_per_fold_and_breaks_ties_by_charity_number():
    frame = pd.concat([
        predictions([("SC03", "a", 0.5, 0), ("SC01", "a", 0.5, 0), ("SC02", "a", 0.9, 1), ("SC04", "a", 0.1, 0)]),
        predictions([("SC05", "a", 0.2, 0), ("SC06", "a", 0.3, 1), ("SC07", "a", 0.1, 0)], fold="fold_2021"),
    ])
    ranked = select_top_k(frame, 2)
    first = ranked.loc[ranked["fold"] == "fold_2020"]
    assert first["charity_number"].tolist() == ["SC02", "SC01", "SC03", "SC04"]
    assert first["selected"].tolist() == [True, True, False, False]
    assert ranked.groupby("fold")["selected"].sum().tolist() == [2, 2]
    assert frame["charity_number"].tolist()[0] == "SC03"  # the input is left as it was


def test_group_metrics_match_counts_worked_by_hand():
    # City: 4 charities, 2 selected (1 positive among them), 1 positive not selected.
    # Rest: 4 charities, 1 selected (a negative), 1 positive not selected.
    rows = [("c1", "city", 0.9, 1), ("c2", "city", 0.8, 0), ("c3", "city", 0.1, 1), ("c4", "city", 0.1, 0),
            ("r1", "rest", 0.7, 0), ("r2", "rest", 0.2, 1), ("r3", "rest", 0.1, 0), ("r4", "rest", 0.1, 0)]
    ranked = select_top_k(predictions(rows), 3)
    table = group_metrics(ranked, "main_operating_location").set_index("group")
    city, rest = table.loc["city"], table.loc["rest"]
    assert (city["n"], city["selected"], city["positives"]) == (4, 2, 2)
    assert city["selection_rate"] == pytest.approx(2 / 4)
    assert city["precision"] == pytest.approx(1 / 2)
    assert city["false_positive_rate"] == pytest.approx(1 / 2)  # c2 of the negatives c2, c4
    assert city["false_discovery_rate"] == pytest.approx(1 / 2)
    assert city["false_negative_rate"] == pytest.approx(1 / 2)  # c3 of the positives c1, c3
    assert rest["selection_rate"] == pytest.approx(1 / 4)
    assert rest["precision"] == pytest.approx(0.0)
    assert rest["false_positive_rate"] == pytest.approx(1 / 3)
    assert rest["false_discovery_rate"] == pytest.approx(1.0)
    assert rest["false_negative_rate"] == pytest.approx(1.0)


def test_undefined_rates_are_nan_not_zero():
    rows = [("a1", "a", 0.9, 0), ("a2", "a", 0.8, 0), ("b1", "b", 0.1, 0), ("b2", "b", 0.1, 0)]
    table = group_metrics(select_top_k(predictions(rows), 2), "main_operating_location").set_index("group")
    assert np.isnan(table.loc["a", "false_negative_rate"])  # no positives at all
    assert np.isnan(table.loc["b", "precision"])  # nothing selected in b
    assert table.loc["b", "false_positive_rate"] == 0.0


def test_group_metrics_agree_with_fairlearn_metricframe():
    fairlearn = pytest.importorskip("fairlearn.metrics")
    from sklearn.metrics import precision_score, recall_score

    rng = np.random.default_rng(0)
    n = 600
    frame = pd.DataFrame({
        "charity_number": [f"SC{i:05d}" for i in range(n)], "main_operating_location": rng.choice(list("abc"), n),
        "score": rng.random(n), "label": (rng.random(n) < 0.3).astype(float), "fold": "fold_2020",
    })
    ranked = select_top_k(frame, 90)
    ours = group_metrics(ranked, "main_operating_location").set_index("group")
    reference = fairlearn.MetricFrame(
        metrics={
            "selection_rate": fairlearn.selection_rate,
            "precision": lambda t, p: precision_score(t, p, zero_division=np.nan),
            "false_positive_rate": lambda t, p: 1 - recall_score(t, p, pos_label=0, zero_division=np.nan),
            "false_negative_rate": lambda t, p: 1 - recall_score(t, p, zero_division=np.nan),
        },
        y_true=ranked["label"].astype(int), y_pred=ranked["selected"].astype(int),
        sensitive_features=ranked["main_operating_location"],
    ).by_group
    for metric in reference.columns:
        assert np.allclose(ours.loc[reference.index, metric], reference[metric]), metric


def test_ratios_are_to_the_largest_group_and_flagged_outside_the_band():
    # big: 10 charities, 5 selected; mid: 6 charities, 1 selected; tiny: 2 charities, 1 selected.
    rows = ([(f"b{i}", "big", 0.9 if i < 5 else 0.1, i % 2) for i in range(10)]
            + [(f"m{i}", "mid", 0.9 if i < 1 else 0.1, i % 2) for i in range(6)]
            + [(f"t{i}", "tiny", 0.9 if i < 1 else 0.1, 0) for i in range(2)])
    ranked = select_top_k(predictions(rows), 7)
    audit = bias_audit(ranked, FAST.model_copy(update={"min_group_size": 5}),
                       attributes=("main_operating_location",))
    rate = audit.loc[audit["metric"] == "selection_rate"].set_index("group")
    assert set(audit["reference_group"]) == {"big"}
    assert rate.loc["big", "status"] == "reference"
    assert rate.loc["mid", "ratio"] == pytest.approx((1 / 6) / (5 / 10))
    assert rate.loc["mid", "status"] == "flagged"
    assert rate.loc["mid", "ratio_low"] <= rate.loc["mid", "ratio"] <= rate.loc["mid", "ratio_high"]


def test_small_groups_are_reported_as_too_small_not_as_ratios():
    rows = ([(f"b{i}", "big", 0.9 if i < 5 else 0.1, i % 2) for i in range(10)]
            + [(f"t{i}", "tiny", 0.9, 1) for i in range(2)])
    audit = bias_audit(select_top_k(predictions(rows), 7), FAST.model_copy(update={"min_group_size": 5}),
                       attributes=("main_operating_location",))
    tiny = audit.loc[audit["group"] == "tiny"]
    assert len(tiny) == 5 and (tiny["status"] == "too small").all()
    assert tiny["ratio"].isna().all() and tiny["ratio_low"].isna().all()
    assert (tiny["n"] == 2).all()  # its size is still reported
    assert not tiny["interval_excludes_one"].any()


def test_ratio_within_the_band_is_not_flagged_and_the_reference_can_be_chosen():
    rows = ([(f"a{i}", "a", 0.9 if i < 4 else 0.1, 0) for i in range(20)]
            + [(f"b{i}", "b", 0.9 if i < 2 else 0.1, 0) for i in range(9)])
    settings = FAST.model_copy(update={"reference_groups": {"main_operating_location": "b"}})
    audit = bias_audit(select_top_k(predictions(rows), 6), settings, attributes=("main_operating_location",))
    rate = audit.loc[audit["metric"] == "selection_rate"].set_index("group")
    assert rate.loc["b", "status"] == "reference"
    assert rate.loc["a", "ratio"] == pytest.approx((4 / 20) / (2 / 9))
    assert rate.loc["a", "status"] == "within bounds"
    with pytest.raises(ValueError, match="not a group"):
        bias_audit(select_top_k(predictions(rows), 6),
                   FAST.model_copy(update={"reference_groups": {"main_operating_location": "zzz"}}),
                   attributes=("main_operating_location",))


def test_bootstrap_resamples_within_folds_and_is_seeded():
    rng = np.random.default_rng(1)
    n = 300
    strata = pd.Series(np.where(np.arange(n) < 100, "fold_a", "fold_b"))
    groups = pd.Series(rng.choice(["x", "y"], n))
    indicators = pd.DataFrame({"in_fold_a": strata.eq("fold_a"), "flag": rng.random(n) < 0.5})
    names, observed, boot = bootstrap_cell_counts(groups, indicators, strata, 40, np.random.default_rng(9))
    assert boot.shape == (40, 2, 4)
    assert observed.sum() == n and (boot.sum(axis=(1, 2)) == n).all()
    # Cells with bit 0 set are fold_a rows: every resample keeps fold_a's size exactly.
    assert (boot[:, :, [1, 3]].sum(axis=(1, 2)) == 100).all()
    again = bootstrap_cell_counts(groups, indicators, strata, 40, np.random.default_rng(9))[2]
    assert (again == boot).all()
    assert not (boot == boot[0]).all()  # resamples differ from one another


def test_age_groups_are_named():
    labels = group_labels(pd.Series([1.0, 0.0, np.nan]), "age_under_5")
    assert labels.tolist() == ["under 5 years", "5 years or more", "Unknown"]


def test_outcome_rate_by_decile_flags_a_band_that_does_not_rise():
    n = 1000
    score = np.linspace(0, 1, n)
    decile = np.minimum((score * 10).astype(int), 9) + 1
    rate = decile / 20.0
    rate[decile == 6] = 0.05  # the sixth decile falls well below the fifth (0.25)
    label = np.zeros(n)
    for d in range(1, 11):
        rows = np.flatnonzero(decile == d)
        label[rows[: int(round(rate[rows[0]] * len(rows)))]] = 1.0
    frame = pd.DataFrame({"charity_number": [f"SC{i:05d}" for i in range(n)], "score": score, "label": label,
                          "fold": "fold_2020"})
    ranked = select_top_k(frame, 50)
    assert sorted(decile_of_rank(ranked).value_counts().tolist()) == [100] * 10
    table = score_deciles(ranked).set_index("band")
    assert table.loc[6, "flag"] != "" and table.loc[6, "clearly_lower"]
    assert (table.drop(index=6)["flag"] == "").all()
    assert (table["rate_low"] <= table["outcome_rate"]).all() and (table["outcome_rate"] <= table["rate_high"]).all()
    bands = risk_bands(ranked).set_index("band")
    assert bands["n"].to_dict() == {"low": 800, "elevated": 150, "high": 40, "very high": 10}


def test_wilson_interval_of_an_empty_band_is_nan():
    low, high = wilson_interval(0, 0)
    assert np.isnan(low) and np.isnan(high)
    low, high = wilson_interval(5, 10)
    assert low < 0.5 < high


def test_label_bias_compares_the_models_selections_with_the_true_risk_rankings():
    from risk_model.audit.label_bias import label_bias

    # k = 3. The model picks c1, c2, r1; the true risk picks c1, r1, r2.
    # City: 2 labels from 1 misconduct; rest: no label from 2 misconducts (3 in all, 2 labels).
    rows = [("c1", "city", 0.9, 0.9, 1, 1), ("c2", "city", 0.8, 0.1, 1, 0), ("c3", "city", 0.1, 0.1, 0, 0),
            ("c4", "city", 0.1, 0.1, 0, 0), ("r1", "rest", 0.7, 0.8, 0, 1), ("r2", "rest", 0.2, 0.7, 0, 1),
            ("r3", "rest", 0.1, 0.1, 0, 0), ("r4", "rest", 0.1, 0.1, 0, 0)]
    frame = pd.DataFrame(rows, columns=["charity_number", "main_operating_location", "score", "true_risk", "label",
                                        "misconduct"]).assign(fold="fold_2020")
    table = label_bias(select_top_k(frame, 3), 3, FAST, attributes=("main_operating_location",)).set_index("group")
    assert table.loc["city", ["model_selected", "true_risk_selected"]].tolist() == [2, 1]
    assert table.loc["city", "over_selection"] == pytest.approx(2.0) and table.loc["city", "status"] == "flagged"
    assert table.loc["rest", "over_selection"] == pytest.approx(0.5) and table.loc["rest", "status"] == "flagged"
    assert table.loc["city", "labels_per_misconduct_relative"] == pytest.approx((2 / 1) / (2 / 3))
    assert table.loc["rest", "labels_per_misconduct_relative"] == 0.0
    assert table.loc["city", "misconduct_rate"] == pytest.approx(1 / 4)


def test_income_bands_are_listed_from_smallest_to_largest():
    bands = ["over 5m", "up to 25k", "no return", "25k-100k"]
    rows = [(f"SC{i:03d}", bands[i % 4], i / 40, i % 2) for i in range(40)]
    frame = predictions(rows).rename(columns={"main_operating_location": "income_band"})
    audit = bias_audit(select_top_k(frame, 8), FAST, attributes=("income_band",))
    assert audit["group"].unique().tolist() == ["up to 25k", "25k-100k", "over 5m", "no return"]
