"""Selective labels: coverage, the random review quota and its precision estimate."""

import numpy as np
import pandas as pd
import pytest

from risk_model.audit.fairness import select_top_k
from risk_model.audit.selective import (
    apply_random_quota,
    coverage_ks,
    estimate_precision_with_quota,
    inquired_in_window,
    labelled_coverage,
    quota_check,
    reviews_needed,
)


def ranked_list(n: int, seed: int = 0, positives_rate=None) -> pd.DataFrame:
    """A ranked list of n charities (rank 1 = highest score) with a 0/1 outcome more common at the top."""
    rng = np.random.default_rng(seed)
    rank = np.arange(1, n + 1)
    rate = positives_rate(rank) if positives_rate else 0.6 * np.exp(-rank / (n / 8)) + 0.02
    return pd.DataFrame({"rank": rank, "charity_number": [f"SC{i:06d}" for i in rank],
                         "score": 1 - rank / n, "outcome": (rng.random(n) < rate).astype(float)})


def test_quota_takes_the_models_top_and_a_seeded_random_draw_from_the_rest():
    ranked = ranked_list(1_000)
    reviewed = apply_random_quota(ranked, capacity_k=40, quota=0.25, seed=5)
    chosen = reviewed.loc[reviewed["selected_for_review"]]
    assert len(chosen) == 40
    by_model = chosen.loc[chosen["review_reason"] == "model"]
    by_quota = chosen.loc[chosen["review_reason"] == "random quota"]
    assert by_model["rank"].tolist() == list(range(1, 31))
    assert len(by_quota) == 10 and (by_quota["rank"] > 30).all()
    assert (reviewed.loc[~reviewed["selected_for_review"], "review_reason"] == "").all()
    assert (by_model["review_probability"] == 1.0).all()
    assert reviewed.loc[reviewed["rank"] > 30, "review_probability"].eq(10 / 970).all()
    same = apply_random_quota(ranked, 40, 0.25, seed=5)
    other = apply_random_quota(ranked, 40, 0.25, seed=6)
    assert same["selected_for_review"].equals(reviewed["selected_for_review"])
    assert not other["selected_for_review"].equals(reviewed["selected_for_review"])
    assert "review_reason" not in ranked  # the input is left as it was


def test_quota_draws_spread_over_the_whole_rest_of_the_register():
    ranked = ranked_list(200)
    drawn = np.concatenate([
        apply_random_quota(ranked, 20, 0.5, seed).query("review_reason == 'random quota'")["rank"].to_numpy()
        for seed in range(200)
    ])
    assert drawn.min() > 10 and drawn.max() == 200
    # Uniform over ranks 11-200: each half of the rest gets about half of the draws.
    assert abs((drawn <= 105).mean() - 0.5) < 0.03


def test_quota_edges():
    ranked = ranked_list(50)
    none = apply_random_quota(ranked, 10, 0.0, seed=1)
    assert none.loc[none["selected_for_review"], "rank"].tolist() == list(range(1, 11))
    everyone = apply_random_quota(ranked, 10, 1.0, seed=1)
    assert (everyone.loc[everyone["selected_for_review"], "review_reason"] == "random quota").all()
    assert everyone["selected_for_review"].sum() == 10
    with pytest.raises(ValueError, match="between 0 and 1"):
        apply_random_quota(ranked, 10, 1.5, seed=1)


def test_estimate_is_exact_within_the_models_picks_and_never_reads_unreviewed_outcomes():
    ranked = ranked_list(500)
    reviewed = apply_random_quota(ranked, 50, 0.2, seed=2)
    hidden = reviewed.assign(outcome=reviewed["outcome"].where(reviewed["selected_for_review"]))
    estimate = estimate_precision_with_quota(hidden, [40, 50, 500]).set_index("k")
    assert estimate.loc[40, "estimate"] == pytest.approx(ranked["outcome"].iloc[:40].mean())
    # exact, and said to be: never a standard error of 0
    assert estimate.loc[40, "basis"] == "census" and np.isnan(estimate.loc[40, "standard_error"])
    assert estimate.loc[40, "interval_low"] == estimate.loc[40, "interval_high"] == estimate.loc[40, "estimate"]
    assert np.isfinite(estimate.loc[500, "estimate"])  # NaN outcomes off the list did not leak in


def test_estimate_is_unbiased_over_draws_where_the_models_picks_alone_are_not():
    ranked = ranked_list(400, seed=3)
    k = 40
    truth = {kk: ranked["outcome"].iloc[:kk].mean() for kk in (k, 100, 400)}
    draws = pd.concat([estimate_precision_with_quota(apply_random_quota(ranked, k, 0.5, seed), [k, 100, 400])
                       for seed in range(400)])
    mean = draws.groupby("k")["estimate"].mean()
    spread = draws.groupby("k")["estimate"].std() / np.sqrt(400)
    for kk, true_value in truth.items():
        assert abs(mean[kk] - true_value) < 4 * spread[kk] + 1e-9, kk
    # Counting only the model's 20 picks (and calling the rest of the top 100 negative) is biased low.
    naive = ranked["outcome"].iloc[:20].sum() / 100
    assert naive < truth[100] - 0.05
    covered = draws.assign(truth=draws["k"].map(truth))
    inside = covered["truth"].between(covered["interval_low"], covered["interval_high"])
    assert inside.groupby(covered["k"]).mean().min() >= 0.9


def test_labelled_coverage_counts_inquiries_opened_in_the_window():
    frame = pd.DataFrame({"charity_number": [f"SC{i:06d}" for i in range(1, 6)], "fold": "fold_2020",
                          "as_of": pd.Timestamp("2020-04-01"), "score": [0.9, 0.8, 0.7, 0.6, 0.5],
                          "days_to_first_inquiry": [3.0, 364.0, np.nan, np.nan, np.nan],
                          "label": [1.0, 0.0, 0.0, 0.0, 0.0]})
    ranked = select_top_k(frame, 2)
    inquired = inquired_in_window(ranked)
    assert inquired.tolist() == [True, True, False, False, False]
    coverage = labelled_coverage(ranked, inquired, [2, 5]).set_index("k")
    assert coverage.loc[2, "coverage"] == 1.0 and coverage.loc[5, "coverage"] == pytest.approx(0.4)
    assert coverage.loc[2, "precision"] == 0.5
    assert coverage_ks(175, 16_000) == [43, 87, 175, 350, 875, 1750, 16_000]


def test_reviews_needed_follow_the_design_variance():
    # a region of 1,000 charities below the model's picks with 20 in the top k, k = 100 at precision 0.5
    rest = np.r_[np.ones(20), np.zeros(980)]
    needed = reviews_needed(rest, len(rest), 0.5, 100)
    s2 = rest.var()
    assert needed == pytest.approx((1.959964 / 0.25) ** 2 * 1000**2 * s2 / (100 * 0.5) ** 2)
    # chances of misconduct rather than one draw of it: the same for the same expected count
    assert reviews_needed(np.r_[np.full(40, 0.5), np.zeros(960)], 1000, 0.5, 100) == pytest.approx(needed)
    assert reviews_needed(rest, len(rest), 0.5, 100, relative=0.5) == pytest.approx(needed / 4)
    assert reviews_needed(np.array([]), 0, 0.5, 100) == 0.0
    assert reviews_needed(rest, len(rest), 0.0, 100) == np.inf


def test_quota_check_sets_labels_beside_the_truth():
    n = 600
    rng = np.random.default_rng(4)
    frames = []
    for fold in ("fold_2020", "fold_2021"):
        score = rng.random(n)
        misconduct = (rng.random(n) < 0.3 * score).astype(int)
        frames.append(pd.DataFrame({
            "charity_number": [f"SC{i:06d}" for i in range(n)], "fold": fold,
            "as_of": pd.Timestamp(f"{fold[-4:]}-04-01"),
            "score": score, "misconduct": misconduct, "label": (misconduct * (rng.random(n) < 0.3)).astype(float),
        }))
    ranked = select_top_k(pd.concat(frames, ignore_index=True), 60)
    table = quota_check(ranked, 60, 0.2, seed=1, ks=[60, 600])
    assert len(table) == 6 and (table["fold"] == "all").sum() == 2
    at_k = table.loc[table["k"] == 60]
    assert (at_k["label_precision"] < at_k["true_precision"]).all()  # labels catch only some misconduct
    assert table["truth_within_interval"].all()
    assert not (table["quota_standard_error"] == 0).any()
    assert (at_k["random_reviews"] == 12).all() and at_k["reviews_needed"].gt(0).all()
    assert table["verdict"].str.match(r"^(exact|enough|too small to tell anything|nothing to estimate)").all()
    # a quota of a handful of reviews is said to be too small where the estimate needs hundreds
    tiny = quota_check(ranked, 60, 0.05, seed=1, ks=[600])
    assert tiny.loc[tiny["fold"] != "all", "verdict"].str.startswith("too small to tell anything").all()


def test_quota_on_a_ranked_list_keeps_its_columns_and_marks_the_random_reviews():
    from risk_model.lists.rank import LIST_COLUMNS, rank_charities

    features = pd.DataFrame({
        "charity_number": [f"SC{i:06d}" for i in range(300)], "charity_name": "A charity", "as_of": "2021-04-01",
        "main_operating_location": "Fife", "income_band": "up to 25k", "constitutional_form": "Other",
        "geographical_spread": "Overseas only",
    })
    scores = np.random.default_rng(0).random(300)
    ranked = rank_charities(features, scores, capacity_k=20, model="m", model_version="1")
    reviewed = apply_random_quota(ranked, capacity_k=20, quota=0.1, seed=11)
    assert list(reviewed.columns[: len(LIST_COLUMNS)]) == list(LIST_COLUMNS)
    assert reviewed["rank"].tolist() == ranked["rank"].tolist()
    assert reviewed["selected_for_review"].sum() == 20
    assert (reviewed["review_reason"] == "random quota").sum() == 2
    assert (reviewed.loc[reviewed["review_reason"] == "random quota", "rank"] > 18).all()
    assert reviewed.loc[reviewed["rank"] <= 18, "review_reason"].eq("model").all()
