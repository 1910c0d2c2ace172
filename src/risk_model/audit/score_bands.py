"""Does a higher score mean a higher outcome rate? Outcome rates by score band, with intervals.

Bands are cut on each fold's own list (a decile is a tenth of the charities ranked at that as-of
date), then pooled over folds. A band whose outcome rate is not above the band below it is
flagged: on a sound list the rate rises with the score. With a rare outcome the lower bands
often hold no positives at all, so a flag there is weak evidence; `clearly_lower` marks a band
whose whole interval lies below the rate of the band beneath it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from risk_model.domain.bands import RISK_BANDS, rank_percentile, risk_band
from risk_model.evaluate import wilson_interval

BAND_COLUMNS: tuple[str, ...] = (
    "band", "n", "positives", "outcome_rate", "rate_low", "rate_high", "mean_score", "min_score", "max_score",
    "rises", "clearly_lower", "flag",
)


def decile_of_rank(ranked: pd.DataFrame, n_bands: int = 10) -> pd.Series:
    """Band 1 (lowest scores) to n_bands (highest) within each fold, from `rank` (1 = top)."""
    size = ranked.groupby("fold")["rank"].transform("size")
    position_from_bottom = size - ranked["rank"]  # 0 for the lowest score
    return (position_from_bottom * n_bands // size + 1).astype(int)


def risk_band_of_rank(ranked: pd.DataFrame) -> pd.Series:
    """The list's own risk band (`domain.bands`, by rank percentile) within each fold."""
    size = ranked.groupby("fold")["rank"].transform("size")
    return risk_band(rank_percentile(ranked["rank"], size))


def outcome_by_band(
    ranked: pd.DataFrame,
    bands: pd.Series,
    order: list,
    outcome: str = "label",
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Outcome rate per band (BAND_COLUMNS), bands in `order` from lowest score to highest."""
    grouped = ranked.groupby(bands.to_numpy())
    table = pd.DataFrame({
        "n": grouped.size(), "positives": grouped[outcome].sum().astype(int),
        "mean_score": grouped["score"].mean(), "min_score": grouped["score"].min(),
        "max_score": grouped["score"].max(),
    }).reindex(order)
    table["n"] = table["n"].fillna(0).astype(int)
    table["positives"] = table["positives"].fillna(0).astype(int)
    table["outcome_rate"] = table["positives"] / table["n"].where(table["n"] > 0)
    limits = [wilson_interval(p, n, confidence) for p, n in zip(table["positives"], table["n"])]
    table["rate_low"] = [low for low, _ in limits]
    table["rate_high"] = [high for _, high in limits]
    below_rate = table["outcome_rate"].shift(1)
    table["rises"] = (table["outcome_rate"] > below_rate) | below_rate.isna()
    table["clearly_lower"] = table["rate_high"] < below_rate
    table["flag"] = np.where(table["clearly_lower"], "falls (interval below the band beneath)",
                             np.where(table["rises"], "", "does not rise"))
    table.index.name = "band"
    return table.reset_index()[list(BAND_COLUMNS)]


def score_deciles(ranked: pd.DataFrame, outcome: str = "label", n_bands: int = 10) -> pd.DataFrame:
    """Outcome rate by score decile (1 = lowest scores), pooled over folds."""
    return outcome_by_band(ranked, decile_of_rank(ranked, n_bands), list(range(1, n_bands + 1)), outcome)


def risk_bands(ranked: pd.DataFrame, outcome: str = "label") -> pd.DataFrame:
    """Outcome rate by the list's risk bands (low, elevated, high, very high), pooled over folds."""
    order = [name for name, _ in reversed(RISK_BANDS)]
    return outcome_by_band(ranked, risk_band_of_rank(ranked), order, outcome)
