"""A charity's explanation in the units a case officer reads: the chance of a finding, in percent.

Contributions are exact in log-odds (`explain`), and a chance is the sigmoid of log-odds, so a
factor's effect in percentage points depends on what was added before it. One order is used
everywhere (the charity page's waterfall, the command line, the choice of reasons):

    base rate        the chance for a typical charity: the sigmoid of the model's base value
    + raising reasons, largest first
    + lowering reasons, largest first
    + all other factors together
    = the score

Each step is the chance after it minus the chance before it, so the steps add up to
score - base rate exactly. For example, base value -3.0 (a 4.7% chance), a +1.0 factor, then a
-0.5 one: 4.7% -> 11.9% (+7.2 points) -> 7.6% (-4.3 points). Taken the other way round the same
two factors would read -1.8 and +4.7 points: the order matters, which is why it is fixed.
A step is negligible, and not given as a reason, when it moves the chance by under NEGLIGIBLE_POINTS
percentage points and by under NEGLIGIBLE_SHARE of itself: on a list where findings are rare, taking
a 0.5% chance to 0.9% is under half a point but nearly doubles it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import expit

# Below half a percentage point, and a tenth of the chance it starts from, a step changes nothing a case
# officer would act on.
NEGLIGIBLE_POINTS = 0.5
NEGLIGIBLE_SHARE = 0.1


def probability(log_odds):
    """The chance (0 to 1) that log-odds stand for."""
    return expit(np.asarray(log_odds, dtype=float))


def waterfall_order(reasons: pd.DataFrame, key: str) -> np.ndarray:
    """Positions of `reasons` in the waterfall's order: by `key` (the charity), raising then lowering, by position."""
    frame = pd.DataFrame({"key": reasons[key].to_numpy(), "lowers": reasons["direction"].to_numpy() != "up",
                          "position": reasons["position"].to_numpy()})
    return np.lexsort((frame["position"], frame["lowers"], pd.factorize(frame["key"])[0]))


def points(reasons: pd.DataFrame, base_log_odds: pd.Series, key: str = "charity_number") -> np.ndarray:
    """Each reason's step in percentage points (aligned with `reasons`), taken in the waterfall's order
    from its charity's base value (`base_log_odds`, indexed by `key`'s values)."""
    return steps_from(reasons, base_log_odds, key)[0]


def negligible(steps_points, chance_before) -> np.ndarray:
    """Whether each step moves the chance (from `chance_before`, 0 to 1) by under NEGLIGIBLE_POINTS points and
    under NEGLIGIBLE_SHARE of itself."""
    steps = np.abs(np.asarray(steps_points, dtype=float))
    before = 100.0 * np.asarray(chance_before, dtype=float)
    return (steps < NEGLIGIBLE_POINTS) & (steps < NEGLIGIBLE_SHARE * before)


def steps_from(reasons: pd.DataFrame, base_log_odds: pd.Series, key: str = "charity_number"
               ) -> tuple[np.ndarray, np.ndarray]:
    """Each reason's step in percentage points and the chance before it, aligned with `reasons`."""
    order = waterfall_order(reasons, key)
    keys = reasons[key].to_numpy()[order]
    steps = reasons["contribution_log_odds"].to_numpy(dtype=float)[order]
    base = base_log_odds.reindex(keys).to_numpy(dtype=float)
    after = probability(base + pd.Series(steps).groupby(keys).cumsum().to_numpy())
    first = np.r_[True, keys[1:] != keys[:-1]] if len(keys) else np.zeros(0, dtype=bool)
    # The chance before a step is the one after the step before it (the same float), so the steps telescope.
    before = np.where(first, probability(base), np.r_[0.0, after[:-1]])
    out, start = np.empty(len(order)), np.empty(len(order))
    out[order] = 100.0 * (after - before)
    start[order] = before
    return out, start


def material(reasons: pd.DataFrame, base_log_odds: pd.Series, key: str = "charity_number") -> pd.DataFrame:
    """The reasons whose steps are not negligible, renumbered in each direction, with their steps
    (`contribution_points`). Dropping one moves the start of those after it, so the steps are worked out
    again until none left is negligible."""
    kept = reasons
    while True:
        steps, before = steps_from(kept, base_log_odds, key)
        small = negligible(steps, before)
        if not small.any():
            break
        kept = kept.loc[~small]
    position = kept.groupby([key, "direction"], sort=False).cumcount().to_numpy() + 1
    return kept.assign(position=position, contribution_points=steps)


def times_typical(score: float, base_rate: float) -> float:
    """How many times the chance of a typical charity a score is."""
    return float(score) / float(base_rate) if base_rate > 0 else float("inf")


def other_factors_points(score: float, base_rate: float, steps_points) -> float:
    """The last step of the waterfall: what the factors not shown add, so that it ends at the score."""
    return 100.0 * (float(score) - float(base_rate)) - float(np.sum(steps_points))


def change_points(score_now: float, change_log_odds) -> np.ndarray:
    """How many percentage points higher (or lower) a score is now than had a factor not moved since."""
    now = np.log(float(score_now) / (1.0 - float(score_now))) if 0 < score_now < 1 else np.nan
    return 100.0 * (float(score_now) - probability(now - np.asarray(change_log_odds, dtype=float)))
