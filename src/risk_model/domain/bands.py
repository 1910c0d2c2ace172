"""Where a charity stands in a list: its rank percentile and the risk band that percentile falls in.

The one definition used by the lists, the scoring of records, the audit, the model card and the
service. The percentile is the share of the other charities on the list ranked below: 100 for
the top of a list, 0 for its bottom (100 for a list of one).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

# Bands by rank percentile (share of the list at or below a charity's risk):
# the top 1% are "very high", the next 4% "high", the next 15% "elevated", the rest "low".
RISK_BANDS: tuple[tuple[str, float], ...] = (
    ("very high", 99.0), ("high", 95.0), ("elevated", 80.0), ("low", 0.0),
)


def rank_percentile(rank, size):
    """Percentile of 1-based ranks in lists of `size` (100 in a list of one); a Series of ranks
    gives a Series on its index."""
    n = np.asarray(size, dtype=float)
    value = np.where(n > 1, 100.0 * (n - np.asarray(rank, dtype=float)) / np.maximum(n - 1, 1), 100.0)
    return pd.Series(value, index=rank.index) if isinstance(rank, pd.Series) else value


def percentile_among(scores, reference_scores) -> np.ndarray:
    """Where scores fall among a scored list's: a score equal to a member's gets that member's
    percentile (the share of the other members scored below it)."""
    reference = np.sort(np.asarray(reference_scores, dtype=float))
    n = len(reference)
    if n <= 1:
        return np.full(len(np.atleast_1d(scores)), 100.0)
    below = np.searchsorted(reference, np.asarray(scores, dtype=float), side="left")
    return 100.0 * np.minimum(below, n - 1) / (n - 1)


def risk_band(percentile) -> pd.Series:
    """Band name of each rank percentile (a Series keeps its index)."""
    percentile = percentile if isinstance(percentile, pd.Series) else pd.Series(np.asarray(percentile, dtype=float))
    band = pd.Series(RISK_BANDS[-1][0], index=percentile.index, dtype=object)
    for name, floor in reversed(RISK_BANDS):
        band[percentile >= floor] = name
    return band
