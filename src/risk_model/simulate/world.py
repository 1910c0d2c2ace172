"""Simulated regulator: OSCR-shaped files for a world whose misconduct is known.

The generative story, run one year at a time over every charity at once:

1. Register. A stock of charities is already registered when the period starts (dates back to
   1950, denser in recent decades); about 3.5% more register each year, and about 3% a year leave
   (wound up, removed at their own request, merged, united congregations), tiny and young ones
   more often. Leaving is never misconduct.
2. Traits. Each charity has fixed attributes drawn from OSCR's own frequencies (form, area,
   purposes, year end), a size (about 57% have income up to £25k, a long upper tail) and a latent
   propensity z ~ N(0, 1) that drifts slowly and is raised while a charity is young. Ordinary life
   changes some traits now and then: a new grant, a shop opened, a board renewed, volunteers
   coming and going, a new financial year end, a one-off legacy or asset sale.
3. Misconduct. A charity not already engaged in it starts an episode of misconduct in a year with
   probability p = sigmoid(base + scale * z + year effect); an episode goes on until the charity
   stops (a yearly hazard), leaves, or an inquiry opened during it ends with guidance or action
   (`simulate.misconduct`).
4. Returns. z leaks, noisily, into the annual return: late or missing accounts, spending above
   income for successive years, abrupt income swings, few trustees, trading-heavy income. Half the
   episodes raise those signals further; the other half show only as change: money passing
   through "other" income and spending, trustees leaving, volunteers falling away, sometimes a new
   year end. Innocent charities show every one of these by chance or by ordinary life.
5. Case log. The regulator sees only what is reported: concerns (mostly about visible, innocent
   charities; misconduct makes one far likelier), some opened as inquiries weeks later (likelier
   when the concern is grounded and the returns look wrong), closed 2-12 months on with no action,
   guidance or regulatory action, the latter two far likelier when the misconduct is real.
6. Extract. Everything is cut at 31 December of the last year: returns not yet due are absent, and
   returns received or events dated after it are blank or absent. The truth is written apart:
   latent_risk.csv (each charity-year's chance of starting misconduct, and whether it was engaged
   in it) and misconduct.csv (every episode: started, ended, and when the regulator reached it).

Every step is vectorised over charities (the only Python loop is over years), and columns are
built as Arrow strings, so millions of charities fit in a few minutes and a few GiB.
`simulate.charities` draws the charities and holds their calendar; `simulate.register` lays out
the register files; `simulate.misconduct` holds the episodes and the case log; `simulate.words`
holds the word lists, `simulate.text` the names and other text made from them, `simulate.draws`
the weighted draws and `simulate.formats` OSCR's formats; `simulate.settings` holds every
coefficient.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from risk_model.domain.columns import (
    INCOME_BREAKDOWN,
    RETURN_DUE_MONTHS,
    RETURNS_COLUMNS,
    SPENDING_BREAKDOWN,
)
from risk_model.simulate import formats
from risk_model.simulate.charities import Charities, add_months, day_number, draw_charities, year_end_days
from risk_model.simulate.misconduct import Episodes, case_events, case_log_table, step_episodes
from risk_model.simulate.register import register_tables
from risk_model.simulate.settings import SimulationConfig

FILE_NAMES: tuple[str, ...] = ("register", "former", "returns", "case_log", "latent_risk", "misconduct")




# Constants of the yearly process (not risk coefficients).
_INCOME_GROWTH_LOG = 0.02            # nominal income growth a year
_ISO_DATE_SHARE = 0.06               # returns rows written as yyyy-mm-dd
_OVERSPEND_STAY = 0.55               # chance an overspending spell lasts another year
_FIRST_RETURN_DAYS = 180             # first return: the first year end this long after registering


def _sigmoid(log_odds: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-log_odds))


# --- public API --------------------------------------------------------------------------------

def simulate(config: SimulationConfig) -> dict[str, pd.DataFrame]:
    """Simulate a world: OSCR-shaped string frames keyed by file name, with raw headers."""
    rng = np.random.default_rng(config.seed)
    charities = draw_charities(config, rng)
    returns, latent, events, episodes = _run_years(config, charities, rng)
    register, former = register_tables(config, charities, rng)
    extract = int(day_number(config.last_year, 12, 31))
    tables = {
        "register": register,
        "former": former,
        "returns": pa.concat_tables(returns),
        "case_log": case_log_table(charities, events, extract),
        "latent_risk": pa.concat_tables(latent),
        "misconduct": episodes.table(charities, extract),
    }
    return {name: tables[name].to_pandas() for name in FILE_NAMES}


def write_world(frames: dict[str, pd.DataFrame], out_dir: Path) -> dict[str, Path]:
    """Write each frame to out_dir/<name>.csv (UTF-8, every field quoted, like OSCR's files)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    options = pa_csv.WriteOptions(quoting_style="all_valid", batch_size=65_536)
    paths = {}
    for name, frame in frames.items():
        table = pa.Table.from_pandas(frame, preserve_index=False)
        paths[name] = out_dir / f"{name}.csv"
        pa_csv.write_csv(
            pa.table({column: _as_text(table[column]) for column in table.column_names}),
            paths[name],
            write_options=options,
        )
    return paths


def _as_text(values: pa.ChunkedArray) -> pa.ChunkedArray:
    """Values as strings with blanks for nulls, so that every field is written quoted."""
    if not pa.types.is_large_string(values.type) and not pa.types.is_string(values.type):
        values = pc.cast(values, formats.TEXT)
    return pc.fill_null(values, "") if values.null_count else values


# --- the years ---------------------------------------------------------------------------------

@dataclass
class _Carry:
    """What one year hands to the next, per charity."""

    income_noise: np.ndarray         # slow (autoregressive) income noise, log scale
    overspending: np.ndarray         # in a spell of spending well above income
    spent_over_income: np.ndarray    # the latest return showed expenditure above income
    warning_signs: np.ndarray        # signs the regulator can see in the latest return
    inquiry_open_until: np.ndarray   # day an open inquiry closes (-1: none)


def _run_years(cfg: SimulationConfig, ch: Charities, rng: np.random.Generator):
    """Walk the period a year at a time; return returns and latent-risk chunks, case events and episodes."""
    n = len(ch.registered)
    extract = int(day_number(cfg.last_year, 12, 31))
    rho = cfg.propensity_persistence
    carry = _Carry(
        income_noise=rng.normal(0.0, 0.25, n),
        overspending=np.zeros(n, bool),
        spent_over_income=np.zeros(n, bool),
        warning_signs=np.zeros(n, np.int64),
        inquiry_open_until=np.full(n, -1, np.int64),
    )
    episodes = Episodes.none(n)
    returns, latent, events = [], [], []
    for year in range(cfg.first_year, cfg.last_year + 1):
        jan1, dec31 = int(day_number(year)), int(day_number(year, 12, 31))
        if year > cfg.first_year:
            ch.propensity = rho * ch.propensity + np.sqrt(1 - rho**2) * rng.standard_normal(n)
            carry.income_noise = 0.6 * carry.income_noise + rng.normal(0.0, 0.2, n)
        on_register = (ch.registered <= dec31) & (ch.ceased >= jan1)
        age_years = np.maximum(jan1 + 182 - ch.true_registered, 0) / 365.25
        youth = np.exp(-age_years / cfg.young_charity_years)
        z = ch.propensity + cfg.young_charity_propensity_sd * youth
        year_effect = rng.normal(0.0, cfg.misconduct_year_sd_log_odds)
        log_odds = cfg.misconduct_base_log_odds + cfg.misconduct_log_odds_per_sd * z + year_effect
        p = _sigmoid(log_odds)

        _leave(cfg, ch, rng, on_register, age_years, jan1, dec31)
        _ordinary_life(cfg, ch, rng, on_register)
        step_episodes(cfg, ch, episodes, rng, on_register, p, jan1, dec31)
        events.append(case_events(cfg, ch, episodes, rng, carry.warning_signs, carry.inquiry_open_until,
                                  on_register, z, jan1, dec31))
        engaged, _, _ = episodes.active_between(jan1, dec31, ch.ceased)
        returns.append(_annual_returns(cfg, ch, rng, carry, year, z, engaged, episodes, extract))
        who = np.flatnonzero(on_register)
        latent.append(pa.table({
            "Charity Number": ch.number.take(who),
            "Year": formats.repeat(str(year), len(who)),
            "Misconduct probability": formats.format_probabilities(p[who]),
            "Misconduct": formats.format_ints(engaged[who]),
        }))
        episodes.close_finished(dec31)
    return returns, latent, events, episodes


def _leave(cfg, ch, rng, on_register, age_years, jan1: int, dec31: int) -> None:
    """Charities that leave the register this year (tiny and young ones more often)."""
    n = len(on_register)
    hazard = (
        cfg.exit_hazard
        * np.where(ch.log_size < np.log(5_000), 1.8, 1.0)
        * np.where(ch.log_size > np.log(1_000_000), 0.6, 1.0)
        * np.where(age_years < 3, 1.5, 1.0)
    )
    earliest = np.maximum(jan1, ch.registered + 30)
    leaves = on_register & (earliest <= dec31) & (rng.random(n) < hazard)
    ceased = earliest + (rng.random(n) * (dec31 - earliest + 1)).astype(np.int64)
    ch.ceased = np.where(leaves, ceased, ch.ceased)


def _ordinary_life(cfg, ch, rng, on_register) -> None:
    """Innocent changes of this year that last: grants, shops, boards, volunteers, year ends."""
    n = len(on_register)

    def happens(rate: float) -> np.ndarray:
        return on_register & (rng.random(n) < rate)

    grant = happens(cfg.new_grant_rate)
    ch.log_size = ch.log_size + np.where(grant, np.log(rng.uniform(1.4, 2.6, n)), 0.0)
    ch.income_weights[grant, 1] *= 3.0
    shop = happens(cfg.shop_opened_rate)
    ch.log_size = ch.log_size + np.where(shop, np.log(1.25), 0.0)
    ch.income_weights[shop, 2] *= 4.0
    ch.spending_weights[shop, 0] *= 3.0
    board = happens(cfg.board_renewed_rate)
    step = rng.choice([-4, -3, -2, 2, 3, 4], n)
    ch.trustees_base = np.where(board, np.clip(ch.trustees_base + step, 1, 30), ch.trustees_base)
    volunteers = happens(cfg.volunteers_change_rate)
    ch.volunteers_mean = np.where(volunteers, ch.volunteers_mean * rng.lognormal(0.0, 0.8, n), ch.volunteers_mean)
    moves = happens(cfg.year_end_change_rate)
    ch.year_end_code = np.where(moves, (ch.year_end_code + rng.integers(1, 13, n)) % 13, ch.year_end_code)


def _annual_returns(cfg, ch, rng, carry, year: int, z, engaged, episodes: Episodes, extract: int) -> pa.Table:
    """Returns for financial years ending in this year that fell due by the extract date."""
    year_end = year_end_days(year, ch.year_end_code)
    due = add_months(year_end, RETURN_DUE_MONTHS)
    expected = (year_end >= ch.registered + _FIRST_RETURN_DAYS) & (year_end < ch.ceased)
    i = np.flatnonzero(expected & (due <= extract))
    m, zi, year_end, due = len(i), z[i], year_end[i], due[i]
    change_only = engaged[i] & episodes.change_only[i]
    boost = cfg.misconduct_signal_log_odds * (engaged[i] & ~change_only)

    def happens(base: float, per_sd: float, extra=0.0) -> np.ndarray:
        return rng.random(m) < _sigmoid(base + per_sd * zi + boost + extra)

    # income: persistent size, slow noise, and now and then an abrupt one-year swing
    swing = happens(cfg.income_swing_base_log_odds, cfg.income_swing_log_odds_per_sd)
    swing_log = swing * rng.choice([-1.0, 1.0], m) * rng.uniform(0.7, 1.6, m)
    usual_log = ch.log_size[i] + _INCOME_GROWTH_LOG * (year - 2008) + carry.income_noise[i]
    dormant = (ch.log_size[i] < np.log(3_000)) & (rng.random(m) < 0.08)
    income = np.where(dormant, 0.0, np.rint(np.exp(usual_log + swing_log)))
    # spending tracks usual income; spells of spending well above it tend to last
    starts = happens(cfg.overspend_base_log_odds, cfg.overspend_log_odds_per_sd)
    spell = np.where(carry.overspending[i], rng.random(m) < _OVERSPEND_STAY, starts)
    carry.overspending[i] = spell
    ratio = np.exp(rng.normal(-0.03, 0.12, m)) * np.where(spell, rng.uniform(1.15, 1.8, m), 1.0)
    expenditure = np.rint(np.exp(usual_log) * np.where(dormant, 0.1 * (rng.random(m) < 0.5), ratio))
    income_weights = ch.income_weights[i] * rng.lognormal(0.0, 0.25, (m, len(INCOME_BREAKDOWN)))
    income_weights[:, 2] *= np.exp(cfg.trading_share_log_per_sd * zi)
    spending_jitter = rng.lognormal(0.0, 0.25, (m, len(SPENDING_BREAKDOWN)))
    spending_weights = ch.spending_weights[i] * spending_jitter
    income_parts = _split(income, income_weights)
    spending_parts = _split(expenditure, spending_weights)
    # a one-off legacy or asset sale lands in "other" income; money passed through in a
    # change-only episode comes in as "other" income and goes out as "other" spending
    one_off = (rng.random(m) < cfg.one_off_income_rate) * np.rint(np.exp(usual_log) * rng.uniform(0.3, 1.2, m))
    low, high = cfg.passthrough_share_of_income
    passed_in = change_only * np.rint(np.exp(usual_log) * rng.uniform(low, high, m))
    passed_out = np.rint(passed_in * rng.uniform(1.0, 1.4, m))
    income_parts[:, 4] += one_off + passed_in
    spending_parts[:, 2] += passed_out
    income, expenditure = income + one_off + passed_in, expenditure + passed_out
    money = np.column_stack([income, expenditure, income_parts, spending_parts])

    trustees = ch.trustees_base[i] - cfg.fewer_trustees_per_sd * zi + rng.normal(0, 0.6, m)
    trustees = np.clip(np.rint(trustees) - change_only * episodes.trustees_leaving[i], 1, 30)
    employees = np.rint(np.maximum(income - passed_in - one_off - 30_000, 0) / 35_000 * ch.staff_ratio[i])
    employees = np.where((employees == 0) & (income > 15_000) & (rng.random(m) < 0.1), 1, employees)
    volunteers = rng.poisson(ch.volunteers_mean[i] * np.where(change_only, 0.35, 1.0))
    # counts go unreported more often in older returns
    unknown = rng.random((m, 3)) < min(0.6, 0.03 + 0.35 * np.exp(-(year - 2008) / 4))

    # filing: most on time, some late (days to months), a few never; small charities lag a little
    missing = happens(cfg.missing_return_base_log_odds, cfg.missing_return_log_odds_per_sd)
    smallness = np.maximum(-ch.visibility[i], 0)
    late = ~missing & happens(
        cfg.late_filing_base_log_odds, cfg.late_filing_log_odds_per_sd, 0.3 * smallness)
    on_time = year_end + 30 + (rng.random(m) ** 0.6 * (due - year_end - 30)).astype(np.int64)
    received = np.where(late, due + 1 + rng.exponential(70.0, m).astype(np.int64), on_time)
    seen = ~missing & (received <= extract)

    ch.last_year_end[i[seen]] = year_end[seen]
    ch.last_money[i[seen]] = money[seen]
    overspent = expenditure > income
    signs = (late | missing) + (overspent & carry.spent_over_income[i]) + (trustees < 3) + swing
    carry.warning_signs[:] = 0
    carry.warning_signs[i] = signs
    carry.spent_over_income[:] = False
    carry.spent_over_income[i] = overspent

    iso = rng.random(m) < _ISO_DATE_SHARE
    counts = (trustees, employees, volunteers)
    columns = [
        ch.number.take(i),
        formats.format_days(year_end, iso=iso),
        formats.format_days(received, valid=seen, iso=iso),
        *(formats.format_ints(money[:, j]) for j in range(money.shape[1])),
        *(formats.format_ints(count, ~unknown[:, k]) for k, count in enumerate(counts)),
    ]
    return pa.table(dict(zip(RETURNS_COLUMNS, columns)))


def _split(total: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Whole-pound parts of each total in proportion to weights, summing exactly to the total."""
    parts = np.floor(total[:, None] * weights / weights.sum(axis=1, keepdims=True))
    parts[np.arange(len(total)), weights.argmax(axis=1)] += total - parts.sum(axis=1)
    return parts
