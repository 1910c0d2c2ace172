"""The simulated world's truth: misconduct episodes, and the case log the regulator keeps about them.

Misconduct comes in episodes. A charity not already engaged in one starts one in a year with the
probability the propensity z gives; it lasts until the charity stops of its own accord (a yearly
hazard), leaves the register, or an inquiry the regulator opened during it closes with guidance or
regulatory action. The regulator *reaches* an episode on the day it opens an inquiry into the
charity while the episode is going on (a "grounded" concern); an episode may never be reached.

Some episodes show in the annual returns only as change (money passing through "other" income
and spending, trustees leaving, volunteers falling away, a new financial year end); the others
raise the chance of the level signals (late or missing accounts, overspending, income swings).

The case log records what the regulator sees: concerns (background ones about any charity,
likelier for visible ones; extra ones while misconduct goes on), inquiries opened weeks after
some concerns (likelier when the concern is grounded and the latest return looks wrong), and
their outcomes, which depend on whether the misconduct is real.

Dates are day numbers (days since 1970-01-01), as in `simulate.charities`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from risk_model.domain.vocab import CASE_EVENTS, CASE_OUTCOMES
from risk_model.simulate import formats
from risk_model.simulate.charities import Charities
from risk_model.simulate.settings import SimulationConfig

NEVER = np.iinfo(np.int64).max
NONE = -1
MISCONDUCT_COLUMNS: tuple[str, ...] = ("Charity Number", "Started", "Ended", "Reached", "Shows as")
SIGNATURES: tuple[str, ...] = ("level signals", "change only")


def _sigmoid(log_odds: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-log_odds))


def _uniform_day(rng: np.random.Generator, first: np.ndarray, last: np.ndarray) -> np.ndarray:
    """A day drawn uniformly from [first, last] (inclusive), per charity."""
    return first + (rng.random(len(first)) * (last - first + 1)).astype(np.int64)


@dataclass
class Episodes:
    """Each charity's current misconduct episode, if any, and the episodes already over."""

    start: np.ndarray                # day the current episode began (NONE: not in one)
    end: np.ndarray                  # day it ends, once that is decided (NEVER until then)
    reached: np.ndarray              # day the regulator first opened an inquiry during it (NONE: not yet)
    change_only: np.ndarray          # it shows in the returns only as change
    trustees_leaving: np.ndarray     # trustees who leave while it lasts (change-only episodes)
    finished: list[np.ndarray] = field(default_factory=list)  # rows: charity, start, end, reached, change_only

    @classmethod
    def none(cls, n: int) -> Episodes:
        return cls(start=np.full(n, NONE, np.int64), end=np.full(n, NEVER, np.int64),
                   reached=np.full(n, NONE, np.int64), change_only=np.zeros(n, bool),
                   trustees_leaving=np.zeros(n, np.int64))

    def active_between(self, first: int, last: int, ceased: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Who is engaged in misconduct at some point of [first, last], and from which day to which."""
        a0 = np.maximum(first, self.start)
        a1 = np.minimum(np.minimum(last, self.end), ceased)
        return (self.start >= 0) & (a0 <= a1), a0, a1

    def close_finished(self, by_day: int) -> None:
        """Move the episodes that ended by `by_day` to `finished`."""
        done = np.flatnonzero((self.start >= 0) & (self.end <= by_day))
        self.finished.append(np.column_stack([done, self.start[done], self.end[done], self.reached[done],
                                              self.change_only[done]]).astype(np.int64))
        self.start[done], self.end[done], self.reached[done] = NONE, NEVER, NONE
        self.change_only[done], self.trustees_leaving[done] = False, 0

    def table(self, ch: Charities, extract: int) -> pa.Table:
        """Every episode begun by the extract date: when it started, ended and was reached (blank: not yet)."""
        ongoing = np.flatnonzero(self.start >= 0)
        rows = np.concatenate(self.finished + [np.column_stack([
            ongoing, self.start[ongoing], self.end[ongoing], self.reached[ongoing], self.change_only[ongoing],
        ]).astype(np.int64)])
        rows = rows[np.lexsort((rows[:, 1], rows[:, 0]))]
        ended, reached = rows[:, 2] <= extract, (rows[:, 3] >= 0) & (rows[:, 3] <= extract)
        return pa.table({
            MISCONDUCT_COLUMNS[0]: ch.number.take(pa.array(rows[:, 0])),
            MISCONDUCT_COLUMNS[1]: formats.format_days(rows[:, 1]),
            MISCONDUCT_COLUMNS[2]: formats.format_days(np.where(ended, rows[:, 2], 0), ended),
            MISCONDUCT_COLUMNS[3]: formats.format_days(np.where(reached, rows[:, 3], 0), reached),
            MISCONDUCT_COLUMNS[4]: formats.gather(SIGNATURES, rows[:, 4]),
        })


def step_episodes(
    cfg: SimulationConfig, ch: Charities, ep: Episodes, rng: np.random.Generator,
    on_register: np.ndarray, p_start: np.ndarray, jan1: int, dec31: int,
) -> None:
    """This year's ends (of the charity's own accord, or by leaving the register) and new starts."""
    n = len(on_register)
    engaged = ep.start >= 0
    stops = engaged & (ep.end == NEVER) & (rng.random(n) < cfg.misconduct_stop_rate)
    earliest = np.maximum(jan1, ep.start + 1)
    ep.end = np.where(stops, _uniform_day(rng, earliest, np.full(n, dec31)), ep.end)
    ep.end = np.where(engaged, np.minimum(ep.end, ch.ceased), ep.end)

    first = np.maximum(jan1, ch.registered)
    last = np.minimum(dec31, ch.ceased - 1)
    starts = on_register & ~engaged & (first <= last) & (rng.random(n) < p_start)
    ep.start = np.where(starts, _uniform_day(rng, first, last), ep.start)
    change = starts & (rng.random(n) < cfg.change_only_share)
    ep.change_only = np.where(starts, change, ep.change_only)
    leaving = np.where(rng.random(n) < 0.35, 0, rng.integers(2, 5, n))
    ep.trustees_leaving = np.where(change, leaving, np.where(starts, 0, ep.trustees_leaving))
    # a change-only episode sometimes comes with a new financial year end, from the next return
    moves = change & (rng.random(n) < cfg.change_year_end_share)
    ch.year_end_code = np.where(moves, (ch.year_end_code + rng.integers(1, 13, n)) % 13, ch.year_end_code)


def case_events(
    cfg: SimulationConfig, ch: Charities, ep: Episodes, rng: np.random.Generator, warning_signs: np.ndarray,
    inquiry_open_until: np.ndarray, on_register: np.ndarray, z: np.ndarray, jan1: int, dec31: int,
) -> np.ndarray:
    """This year's concerns and the inquiries they open and close.

    Rows are (charity, day, event code, outcome code or -1), codes indexing CASE_EVENTS and
    CASE_OUTCOMES. An inquiry opened on a grounded concern reaches the episode; one that closes
    with guidance or regulatory action ends it.
    """
    i = np.flatnonzero(on_register)
    start = np.maximum(jan1, ch.registered[i])
    length = np.minimum(dec31, ch.ceased[i]) - start + 1
    background = np.exp(
        cfg.concern_base_log_rate
        + cfg.concern_visibility_log_rate * ch.visibility[i]
        + cfg.concern_city_log_rate * ch.city[i]
        + cfg.concern_propensity_log_rate * z[i]
    )
    count = rng.poisson(background * length / (dec31 - jan1 + 1))
    active, a0, a1 = ep.active_between(jan1, dec31, ch.ceased)
    m = np.flatnonzero(active)
    active_days = a1[m] - a0[m] + 1
    extra = rng.poisson(cfg.concern_misconduct_rate * active_days / 365.25)
    who = np.concatenate([np.repeat(i, count), np.repeat(m, extra)])
    day = np.concatenate([
        np.repeat(start, count) + (rng.random(count.sum()) * np.repeat(length, count)).astype(np.int64),
        np.repeat(a0[m], extra) + (rng.random(extra.sum()) * np.repeat(active_days, extra)).astype(np.int64),
    ])
    grounded = active[who] & (day >= a0[who]) & (day <= a1[who])

    # the regulator opens at most one inquiry a year per charity, and never two at once
    p_inquiry = _sigmoid(
        cfg.inquiry_base_log_odds
        + cfg.inquiry_misconduct_log_odds * grounded
        + cfg.inquiry_signal_log_odds * warning_signs[who]
    )
    taken = np.flatnonzero(rng.random(len(who)) < p_inquiry)
    taken = taken[np.lexsort((day[taken], who[taken]))]
    taken = taken[np.r_[True, who[taken][1:] != who[taken][:-1]]] if len(taken) else taken
    opened = day[taken] + 7 + rng.exponential(21.0, len(taken)).astype(np.int64)
    fresh = opened > inquiry_open_until[who[taken]]
    taken, opened = taken[fresh], opened[fresh]
    closed = opened + rng.integers(60, 366, len(taken))
    inquired = who[taken]
    inquiry_open_until[inquired] = closed
    real = grounded[taken]
    action = rng.random(len(taken)) < _sigmoid(cfg.regulatory_action_base_log_odds
                                               + cfg.regulatory_action_misconduct_log_odds * real)
    guidance = rng.random(len(taken)) < _sigmoid(cfg.guidance_base_log_odds + cfg.guidance_misconduct_log_odds * real)
    outcome = np.where(action, 2, np.where(guidance, 1, 0))

    found = inquired[real]
    ep.reached[found] = np.where(ep.reached[found] == NONE, opened[real], ep.reached[found])
    stopped = real & (outcome > 0)
    ep.end[inquired[stopped]] = np.minimum(ep.end[inquired[stopped]], closed[stopped])

    def rows(charity, days, event, outcomes):
        return np.column_stack([charity, days, np.full(len(days), event), outcomes])

    return np.concatenate([
        rows(who, day, 0, np.full(len(who), -1)),
        rows(inquired, opened, 1, np.full(len(taken), -1)),
        rows(inquired, closed, 2, outcome),
    ]).astype(np.int64)


def case_log_table(ch: Charities, events: list[np.ndarray], extract: int) -> pa.Table:
    """The case log as the regulator would export it on the extract date, in date order."""
    e = np.concatenate(events)
    e = e[e[:, 1] <= extract]
    e = e[np.lexsort((e[:, 0], e[:, 2], e[:, 1]))]
    outcome = np.where(e[:, 3] < 0, len(CASE_OUTCOMES), e[:, 3])
    return pa.table({
        "Charity Number": ch.number.take(pa.array(e[:, 0])),
        "Date": formats.format_days(e[:, 1]),
        "Event": formats.gather(CASE_EVENTS, e[:, 2]),
        "Outcome": formats.gather(CASE_OUTCOMES + ("",), outcome),
    })
