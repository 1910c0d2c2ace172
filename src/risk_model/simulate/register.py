"""The simulated register files: the active register and the former-charities file, laid out as
OSCR publishes them at the extract date.

register_tables takes the charities as the yearly process left them (``simulate.charities``) and
writes every register column as Arrow text, including the figures of each charity's latest return,
its parent charity and, for removed charities, who took over their assets. Nothing here changes
a charity's traits or state.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pyarrow as pa

from risk_model.domain.columns import (
    FORMER_COLUMNS,
    INCOME_BREAKDOWN,
    REGISTER_COLUMNS,
    SPENDING_BREAKDOWN,
)
from risk_model.domain.vocab import (
    ACTIVITIES,
    BENEFICIARIES,
    CONSTITUTIONAL_FORMS,
    GEOGRAPHICAL_SPREADS,
    MAIN_OPERATING_LOCATIONS,
    PURPOSES,
    REGULATORY_TYPES,
)
from risk_model.simulate import draws, formats, text
from risk_model.simulate.charities import SCIO, Charities, day_number
from risk_model.simulate.settings import SimulationConfig


def register_tables(
    cfg: SimulationConfig, ch: Charities, rng: np.random.Generator
) -> tuple[pa.Table, pa.Table]:
    """The active register and the former-charities file, as OSCR publishes them at the extract."""
    former = ch.ceased <= day_number(cfg.last_year, 12, 31)
    # each file is built for its own rows only, so the whole world is never laid out twice
    register = dict(_register_columns(ch, np.flatnonzero(~former), False, rng))
    removed = dict(_register_columns(ch, np.flatnonzero(former), True, rng))
    return (
        pa.table({column: register[column] for column in REGISTER_COLUMNS}),
        pa.table({column: removed[column] for column in FORMER_COLUMNS}),
    )


def _register_columns(
    ch: Charities, rows: np.ndarray, removed: bool, rng: np.random.Generator
) -> Iterator[tuple[str, pa.Array]]:
    """The register columns for some charities, all of them active or all of them removed."""
    n = len(rows)
    take = pa.array(rows)
    name, number = ch.words.name.take(take), ch.number.take(take)
    described = np.ones(n, bool)
    if removed:
        # OSCR's older removals mostly lack descriptive fields
        described = ~((ch.ceased[rows] < day_number(2013)) & (rng.random(n) < 0.75))
    forms = list(CONSTITUTIONAL_FORMS)

    yield "Charity Number", number
    yield "Charity Name", name
    registered = formats.format_days(ch.registered[rows])
    registered_time = formats.format_times(ch.registered_minute[rows])
    yield "Registered Date", formats.join(registered, " ", registered_time)
    if removed:
        ceased_time = formats.format_times(rng.integers(8 * 60, 19 * 60, n))
        yield "Ceased Date", formats.join(formats.format_days(ch.ceased[rows]), " ", ceased_time)
        merger, union = _merger_targets(ch, rows, rng), _union_targets(ch, rows, rng)
        yield "Reason For Removal", text.removal_reasons(
            rng, ch.words.church_of_scotland[rows],
            ch.words.name.take(merger), ch.number.take(merger),
            ch.words.name.take(union), ch.number.take(union),
        )
    yield "Known As", ch.words.known_as.take(take)
    yield "Charity Status", formats.repeat("Removed" if removed else "Active", n)
    has_postcode = (rng.random(n) < 0.97) & (not removed)
    yield "Postcode", formats.blank_unless(has_postcode, text.postcodes(rng, ch.location[rows]))
    yield "Constitutional Form", formats.blank_unless(described, formats.gather(forms, ch.form[rows]))
    # a few SCIOs converted from an older form
    earlier = np.array(list(CONSTITUTIONAL_FORMS.values()), float)
    earlier[forms.index(SCIO)] = 0
    converted = (ch.form[rows] == forms.index(SCIO)) & (rng.random(n) < 0.08)
    yield "Previous Constitutional Form 1", formats.blank_unless(
        converted, formats.gather(forms, draws.weighted_choice(rng, earlier, n)))
    spread = formats.gather(GEOGRAPHICAL_SPREADS, ch.spread[rows])
    yield "Geographical Spread", formats.blank_unless(described, spread)
    location = formats.gather(MAIN_OPERATING_LOCATIONS, ch.location[rows])
    yield "Main Operating Location", formats.blank_unless(described, location)
    purposes = ch.purposes[rows]
    yield "Purposes", formats.format_item_sets(purposes, PURPOSES, described)
    yield "Beneficiaries", formats.format_item_sets(ch.beneficiaries[rows], BENEFICIARIES, described)
    yield "Activities", formats.format_item_sets(ch.activities[rows], ACTIVITIES, described)
    first_purpose = np.log2(purposes & -purposes).astype(np.int64)
    place = ch.words.place[rows]
    objectives = text.objectives(first_purpose, place, ch.words.place_named[rows])
    yield "Objectives", formats.choose(described, objectives, "-")
    has_address = (rng.random(n) < 0.5) & (not removed)
    address = text.addresses(rng, place)
    yield "Principal Office/Trustees Address", formats.blank_unless(has_address, address)
    yield "Website", formats.repeat("", n) if removed else ch.words.website.take(take)

    # figures from the latest return received by the extract date
    has_return = ch.last_year_end[rows] >= 0
    money = ch.last_money[rows]
    yield "Most recent year income", formats.format_ints(money[:, 0], has_return)
    yield "Most recent year expenditure", formats.format_ints(money[:, 1], has_return)
    year_end = np.where(has_return, ch.last_year_end[rows], 0)
    calendar_year = year_end.astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64) + 1970
    yield "Mailing cycle", formats.format_ints(calendar_year, has_return)
    yield "Year End", formats.format_days(year_end, has_return)
    for j, column in enumerate(INCOME_BREAKDOWN + SPENDING_BREAKDOWN):
        yield column, formats.format_ints(money[:, 2 + j], has_return)

    # some charities are branches of a large one; a parent outside Scotland has no SC number
    big = np.flatnonzero(ch.log_size >= np.quantile(ch.log_size, 0.98))
    parent = big[rng.integers(0, len(big), n)]
    has_parent = (rng.random(n) < 0.06) & (parent != rows)
    country = draws.weighted_choice(rng, (90, 8, 2), n)
    yield "Parent charity name", formats.blank_unless(has_parent, ch.words.name.take(parent))
    yield "Parent charity number", formats.blank_unless(
        has_parent & (country == 0), ch.number.take(parent))
    yield "Parent charity country of registration", formats.blank_unless(
        has_parent, formats.gather(("Scotland", "Other", "England & Wales"), country))
    yield "Designated religious body", formats.repeat("No", n)
    yield "Regulatory Type", formats.gather(REGULATORY_TYPES, ch.regulatory_type[rows])


def _merger_targets(ch: Charities, rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """For each charity in rows, a SCIO registered shortly before it ceased, to take its assets."""
    n, everyone = len(rows), len(ch.registered)
    scios = np.flatnonzero(ch.form == list(CONSTITUTIONAL_FORMS).index(SCIO))
    anyone = rng.integers(0, everyone, n)
    if len(scios) == 0:
        return anyone
    scios = scios[np.argsort(ch.registered[scios], kind="stable")]
    registered_before = np.searchsorted(ch.registered[scios], ch.ceased[rows]) - 1
    pick = np.minimum(registered_before, len(scios) - 1) - rng.integers(0, 25, n)
    target = np.where(pick >= 0, scios[np.maximum(pick, 0)], anyone)
    return np.where(target == rows, (target + 1) % everyone, target)


def _union_targets(ch: Charities, rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """For each charity in rows, a Church of Scotland congregation nearby it could unite with."""
    n = len(rows)
    churches = np.flatnonzero(ch.words.church_of_scotland)
    if len(churches) == 0:
        return rows
    churches = churches[np.argsort(ch.location[churches], kind="stable")]
    first = np.searchsorted(ch.location[churches], ch.location[rows], "left")
    count = np.searchsorted(ch.location[churches], ch.location[rows], "right") - first
    local = first + (rng.random(n) * np.maximum(count, 1)).astype(np.int64)
    anywhere = rng.integers(0, len(churches), n)
    position = np.minimum(np.where(count > 0, local, anywhere), len(churches) - 1)
    itself = churches[position] == rows
    return churches[np.where(itself, (position + 1) % len(churches), position)]
