"""The simulated charities: their calendar, their registrations and numbers, and the fixed traits
each is born with.

draw_charities gives every charity its registration, number and fixed traits (arrays in
charity-number order, drawn from OSCR's own frequencies); the yearly process in ``simulate.world``
moves their ceased dates and latest returns on. Dates are day numbers (days since 1970-01-01).
Nothing here lays out a file: ``simulate.register`` turns the charities into the register files.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from risk_model.domain.columns import INCOME_BREAKDOWN, SPENDING_BREAKDOWN
from risk_model.domain.vocab import (
    ACTIVITIES,
    BENEFICIARIES,
    CONSTITUTIONAL_FORMS,
    GEOGRAPHICAL_SPREADS,
    MAIN_OPERATING_LOCATIONS,
    PURPOSE_COUNTS,
    PURPOSES,
    REGULATORY_TYPES,
)
from risk_model.simulate import draws, formats, text
from risk_model.simulate.settings import SimulationConfig

# OSCR's name for the form most new charities take from April 2011.
SCIO = "SCIO (Scottish Charitable Incorporated Organisation)"

# Structural constants of the world (not risk coefficients).
_OLDEST_REGISTRATION_YEAR = 1950
_STOCK_GROWTH_LOG = 0.055            # registrations before the period grow this much a year
_LEGACY_REGISTRATION_YEAR = 1992     # older charities often carry the register's start date
_MEDIAN_INCOME_GBP = 6_500.0         # before form, spread and landlord effects
_INCOME_LOG_SD = 2.1
_SMALL_INCOME_GBP = 25_000.0
_CITIES = ("City of Edinburgh", "Glasgow City", "Aberdeen", "Dundee City")
_INCOME_ALPHA = (1.2, 0.8, 0.25, 0.3, 0.3)   # Dirichlet weights, INCOME_BREAKDOWN order
_SPENDING_ALPHA = (0.3, 2.5, 0.2)           # Dirichlet weights, SPENDING_BREAKDOWN order
_COMPANY = "Company (the charity is registered with Companies House)"
_SCIO_START = (2011, 4, 1)
_FORM_SIZE_LOG: dict[str, float] = {
    _COMPANY: 1.3,
    SCIO: 0.3,
    "Trust (founding document is a deed of trust) (other than educational endowment)": 0.3,
    "Statutory corporation (Royal Charter etc)": 2.5,
    "Registered Society": 1.5,
    "CIO (Charitable Incorporated Organisation, E&W)": 1.0,
    "Community Benefit Society": 1.0,
    "Educational endowment": -0.3,
}
_SPREAD_SIZE_LOG: dict[str, float] = {
    "A specific local point, community or neighbourhood": -0.4,
    "Operations cover all or most of Scotland": 1.2,
    "More than one local authority area in Scotland": 0.6,
    "Scotland and other parts of the UK": 0.8,
    "UK and overseas": 0.6,
}
_LANDLORD_SIZE_LOG = 3.0
_INVESTMENT_FORMS = (
    "Trust (founding document is a deed of trust) (other than educational endowment)",
    "Educational endowment",
)
# Financial year ends: month, day (0 for the month's last day), relative weight.
_YEAR_ENDS: tuple[tuple[int, int, float], ...] = (
    (3, 0, 46), (12, 0, 17), (6, 0, 7), (4, 0, 5), (7, 0, 4), (9, 0, 4), (10, 0, 3.5),
    (4, 5, 3), (8, 0, 3), (5, 0, 3), (1, 0, 2), (2, 0, 1), (11, 0, 1.5),
)
_NEVER = np.iinfo(np.int64).max


# --- calendar ----------------------------------------------------------------------------------

def day_number(year, month=1, day=1) -> np.ndarray:
    """Day numbers of calendar dates; months past 12 roll into the next year."""
    months = (np.asarray(year, np.int64) - 1970) * 12 + np.asarray(month, np.int64) - 1
    first = months.astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)
    return first + np.asarray(day, np.int64) - 1


def add_months(days: np.ndarray, months: int) -> np.ndarray:
    """Days moved on by whole months, the day clipped to the month's end (as pandas' DateOffset)."""
    date = days.astype("datetime64[D]")
    month = date.astype("datetime64[M]")
    day_of_month = (date - month.astype("datetime64[D]")).astype(np.int64)
    target = month.astype(np.int64) + months
    target_start = day_number(1970, target + 1)
    length = day_number(1970, target + 2) - target_start
    return target_start + np.minimum(day_of_month, length - 1)


def year_end_days(year: int, code: np.ndarray) -> np.ndarray:
    """The financial year end falling in a calendar year, for each charity's year-end code."""
    month = np.array([m for m, _, _ in _YEAR_ENDS])[code]
    day = np.array([d for _, d, _ in _YEAR_ENDS])[code]
    month_end = day_number(year, month + 1) - 1
    return np.where(day == 0, month_end, day_number(year, month, np.maximum(day, 1)))


def _codes(rng: np.random.Generator, frequencies: dict, n: int) -> np.ndarray:
    return draws.weighted_choice(rng, list(frequencies.values()), n)


# --- the population ----------------------------------------------------------------------------

@dataclass
class Charities:
    """Every charity's fixed traits (arrays in charity-number order) and evolving register state."""

    number: pa.Array
    true_registered: np.ndarray      # when it really began (drives age)
    registered: np.ndarray           # as the register records it
    registered_minute: np.ndarray
    form: np.ndarray                 # codes index the vocab dictionaries
    spread: np.ndarray
    location: np.ndarray
    regulatory_type: np.ndarray
    purposes: np.ndarray             # bitmasks over vocab order
    beneficiaries: np.ndarray
    activities: np.ndarray
    words: text.CharityWords
    log_size: np.ndarray             # log of typical income, GBP
    visibility: np.ndarray           # orders of magnitude of income above £25k
    city: np.ndarray
    year_end_code: np.ndarray
    trustees_base: np.ndarray
    income_weights: np.ndarray
    spending_weights: np.ndarray
    staff_ratio: np.ndarray
    volunteers_mean: np.ndarray
    propensity: np.ndarray           # the persistent part of z
    ceased: np.ndarray
    last_year_end: np.ndarray        # latest return received by the extract date (-1: none)
    last_money: np.ndarray           # its income, expenditure and breakdowns


def draw_charities(cfg: SimulationConfig, rng: np.random.Generator) -> Charities:
    """Registration dates, numbers and fixed traits of every charity, in number order."""
    n = cfg.charities
    registered, true_registered, minute, number = _registrations(cfg, rng)

    forms = list(CONSTITUTIONAL_FORMS)
    scio = forms.index(SCIO)
    weights = np.array(list(CONSTITUTIONAL_FORMS.values()), float)
    weights[scio] = 0
    form = draws.weighted_choice(rng, weights, n)
    # SCIOs exist from April 2011 and soon become the usual form for new charities
    years_of_scio = (registered - day_number(*_SCIO_START)) / 365.25
    p_scio = np.where(years_of_scio >= 0, np.clip(0.3 + 0.1 * years_of_scio, 0, 0.8), 0.0)
    form = np.where(rng.random(n) < p_scio, scio, form)
    spread = _codes(rng, GEOGRAPHICAL_SPREADS, n)
    location = _codes(rng, MAIN_OPERATING_LOCATIONS, n)
    regulatory_type = _codes(rng, REGULATORY_TYPES, n)
    says_scio = (form == scio) & (rng.random(n) < 0.15)
    says_limited = (form == forms.index(_COMPANY)) & (rng.random(n) < 0.4)
    suffix = np.select([says_scio, says_limited], [1, 2], 0)
    words = text.charity_names(rng, spread, location, suffix)

    purpose_count = np.array(list(PURPOSE_COUNTS))[_codes(rng, PURPOSE_COUNTS, n)]
    purposes = draws.draw_item_sets(rng, list(PURPOSES.values()), purpose_count)
    purposes |= np.where(words.church, 1 << list(PURPOSES).index("The advancement of religion"), 0)
    beneficiary_count = 1 + draws.weighted_choice(rng, (60, 20, 12, 8), n)
    beneficiaries = draws.draw_item_sets(rng, list(BENEFICIARIES.values()), beneficiary_count)
    activity_count = 1 + draws.weighted_choice(rng, (75, 25), n)
    activities = draws.draw_item_sets(rng, list(ACTIVITIES.values()), activity_count)
    none_of_these = 1 << list(ACTIVITIES).index("It does none of these")
    activities = np.where(activities & none_of_these, none_of_these, activities)

    landlord = regulatory_type == list(REGULATORY_TYPES).index("Registered Social Landlord")
    log_size = (
        np.log(_MEDIAN_INCOME_GBP)
        + np.array([_FORM_SIZE_LOG.get(f, 0.0) for f in forms])[form]
        + np.array([_SPREAD_SIZE_LOG.get(s, 0.0) for s in GEOGRAPHICAL_SPREADS])[spread]
        + np.where(landlord, _LANDLORD_SIZE_LOG, 0.0)
        + _INCOME_LOG_SD * rng.standard_normal(n)
    )
    visibility = (log_size - np.log(_SMALL_INCOME_GBP)) / np.log(10)
    income_alpha = np.tile(np.array(_INCOME_ALPHA), (n, 1))
    income_alpha[np.isin(form, [forms.index(f) for f in _INVESTMENT_FORMS]), 3] = 2.5
    return Charities(
        number=formats.format_charity_numbers(number),
        true_registered=true_registered,
        registered=registered,
        registered_minute=minute,
        form=form,
        spread=spread,
        location=location,
        regulatory_type=regulatory_type,
        purposes=purposes,
        beneficiaries=beneficiaries,
        activities=activities,
        words=words,
        log_size=log_size,
        visibility=visibility,
        city=np.isin(location, [list(MAIN_OPERATING_LOCATIONS).index(c) for c in _CITIES]),
        year_end_code=draws.weighted_choice(rng, [w for _, _, w in _YEAR_ENDS], n),
        trustees_base=3 + rng.poisson(np.clip(2.0 + 0.6 * visibility, 0.3, 9.0)),
        income_weights=rng.gamma(income_alpha),
        spending_weights=rng.gamma(np.tile(np.array(_SPENDING_ALPHA), (n, 1))),
        staff_ratio=rng.lognormal(0.0, 0.5, n),
        volunteers_mean=rng.lognormal(np.log(8.0), 0.9, n) * (1 + np.maximum(visibility, 0)),
        propensity=rng.standard_normal(n),
        ceased=np.full(n, _NEVER),
        last_year_end=np.full(n, -1, dtype=np.int64),
        last_money=np.zeros((n, 2 + len(INCOME_BREAKDOWN) + len(SPENDING_BREAKDOWN)), np.int64),
    )


def _registrations(cfg: SimulationConfig, rng: np.random.Generator):
    """Recorded and true registration days, registration minutes and charity numbers.

    A stock registered before the period (growing towards it) plus new registrations each
    year at registration_rate of a register that grows by registration_rate - exit_hazard.
    """
    n = cfg.charities
    years = np.arange(cfg.first_year, cfg.last_year + 1)
    growth = (1 + cfg.registration_rate - cfg.exit_hazard) ** np.arange(len(years))
    n_stock = min(n, round(n / (1 + cfg.registration_rate * growth.sum())))
    stock_years = np.arange(_OLDEST_REGISTRATION_YEAR, cfg.first_year)
    stock_weights = np.exp(_STOCK_GROWTH_LOG * (stock_years - cfg.first_year))
    stock = stock_years[draws.weighted_choice(rng, stock_weights, n_stock)]
    new = np.repeat(years, rng.multinomial(n - n_stock, growth / growth.sum()))
    year = np.concatenate([stock, new])
    start = day_number(year)
    true_registered = start + (rng.random(n) * (day_number(year + 1) - start)).astype(np.int64)
    # numbers follow registration loosely, since applications take varying time
    order = np.argsort(true_registered + rng.normal(0, 90, n), kind="stable")
    true_registered = true_registered[order]
    legacy_day = day_number(_LEGACY_REGISTRATION_YEAR)
    legacy = (true_registered < legacy_day) & (rng.random(n) < 0.6)
    legacy &= cfg.first_year > _LEGACY_REGISTRATION_YEAR
    registered = np.where(legacy, legacy_day, true_registered)
    minute = np.where(registered < day_number(2006, 4), 0, rng.integers(8 * 60, 18 * 60, n))
    # gaps between numbers (withdrawn applications) while six digits suffice
    number = np.cumsum(1 + rng.poisson(min(1.0, max(0.0, 999_999 / n - 1)), n))
    return registered, true_registered, minute, number

