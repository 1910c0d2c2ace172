"""The charities' text in the simulated register: names, acronyms and web addresses, objectives,
postcodes, office addresses and reasons for removal, drawn from ``simulate.words``.

Each function draws codes per charity, builds each distinct string once and gathers them with
``simulate.formats``, so it never loops per charity. Nothing here decides a charity's traits
(``simulate.charities``) or lays out a file (``simulate.register``).
"""

from __future__ import annotations

import re
from typing import NamedTuple

import numpy as np
import pyarrow as pa

from risk_model.domain.vocab import GEOGRAPHICAL_SPREADS, MAIN_OPERATING_LOCATIONS
from risk_model.simulate.draws import weighted_choice
from risk_model.simulate.formats import TEXT, blank_unless, choose, format_ints, gather, join, repeat
from risk_model.simulate.words import (
    CAUSES,
    COUNTRIES,
    FIRST_NAMES,
    KIND_BY_SPREAD,
    MERGER_REASON,
    NAME_KINDS,
    NAME_PATTERNS,
    NAME_SUFFIXES,
    OBJECTIVES,
    PLACES,
    PLACES_BY_LOCATION,
    POSTCODE_AREAS,
    REMOVAL_KINDS,
    SAINTS,
    SECTION_18_SPELLINGS,
    STREETS,
    SURNAMES,
    TOWNS,
    UNION_INTO,
    UNION_OF_CONGREGATIONS,
    WOUND_UP_SPELLINGS,
)

_SMALL_WORDS = frozenset({"of", "and", "the", "for", "in", "St", "1st"})
_UNIT_LETTERS = np.array(list("ABDEFGHJLNPQRSTUWXYZ"))


class CharityWords(NamedTuple):
    """Generated names and the codes other text depends on."""

    name: pa.Array
    known_as: pa.Array
    website: pa.Array
    place: np.ndarray                   # index into PLACES
    place_named: np.ndarray             # the place appears in the name
    church: np.ndarray                  # any congregation (religion among its purposes)
    church_of_scotland: np.ndarray      # may leave by a union of congregations


_TOWN_COUNTS = np.array([len(PLACES_BY_LOCATION[loc]) for loc in MAIN_OPERATING_LOCATIONS])
_TOWN_OFFSETS = np.concatenate([[0], np.cumsum(_TOWN_COUNTS)[:-1]])
_PATTERNS: tuple[str, ...] = tuple(p for kind in NAME_KINDS for p, _ in NAME_PATTERNS[kind])
_FIELDS = (
    ("place", PLACES), ("saint", SAINTS), ("surname", SURNAMES), ("first", FIRST_NAMES),
    ("cause", CAUSES), ("country", COUNTRIES),
)


def draw_places(rng: np.random.Generator, location: np.ndarray) -> np.ndarray:
    """A place (index into PLACES): a town of the charity's location, or a Scottish village."""
    n = len(location)
    town = _TOWN_OFFSETS[location] + (rng.random(n) * _TOWN_COUNTS[location]).astype(np.int64)
    village = rng.integers(len(TOWNS), len(PLACES), n)
    outwith = location == list(MAIN_OPERATING_LOCATIONS).index("Outwith Scotland")
    return np.where(~outwith & (rng.random(n) < 0.5), village, town)


def charity_names(
    rng: np.random.Generator, spread: np.ndarray, location: np.ndarray, suffix: np.ndarray
) -> CharityWords:
    """Plausible Scottish charity names from word lists, with acronyms and web addresses.

    suffix indexes NAME_SUFFIXES (some SCIOs and companies say what they are in their name;
    congregations never do).
    """
    n = len(spread)
    kind_p = np.array([KIND_BY_SPREAD[s] for s in GEOGRAPHICAL_SPREADS])
    cumulative = np.cumsum(kind_p / kind_p.sum(axis=1, keepdims=True), axis=1)[spread]
    kind = (rng.random(n)[:, None] > cumulative).sum(axis=1).clip(0, len(NAME_KINDS) - 1)
    pattern = np.empty(n, dtype=np.int64)
    offset = 0
    for k, name_kind in enumerate(NAME_KINDS):
        weights = [w for _, w in NAME_PATTERNS[name_kind]]
        rows = np.flatnonzero(kind == k)
        pattern[rows] = offset + weighted_choice(rng, weights, len(rows))
        offset += len(weights)
    place = draw_places(rng, location)
    church = kind == NAME_KINDS.index("church")
    # one mixed-radix code per distinct name; fields a pattern does not use are zeroed
    code = pattern.copy()
    for field, words in _FIELDS:
        uses = np.array([("{" + field + "}") in p for p in _PATTERNS])[pattern]
        value = place if field == "place" else rng.integers(0, len(words), n)
        code = code * len(words) + np.where(uses, value, 0)
    code = code * len(NAME_SUFFIXES) + np.where(church, 0, suffix)
    distinct, index = np.unique(code, return_inverse=True)
    names, acronyms, sites = [], [], []
    for c in distinct.tolist():  # each distinct name once, however many charities share it
        ending, c = NAME_SUFFIXES[c % len(NAME_SUFFIXES)], c // len(NAME_SUFFIXES)
        values = {}
        for field, words in reversed(_FIELDS):
            values[field] = words[c % len(words)]
            c //= len(words)
        name = _PATTERNS[c].rstrip("!").format(**values) + ending
        names.append(name)
        initials = (w[0] for w in name.split() if w not in _SMALL_WORDS and w[0].isalpha())
        acronyms.append("".join(initials).upper())
        sites.append("www." + re.sub(r"[^a-z0-9]", "", name.lower()) + ".org.uk")
    uses_place = np.array(["{place}" in p for p in _PATTERNS])
    church_of_scotland = np.array([p.endswith("!") for p in _PATTERNS])
    return CharityWords(
        name=gather(names, index),
        known_as=blank_unless(rng.random(n) < 0.06, gather(acronyms, index)),
        website=blank_unless(rng.random(n) < 0.35, gather(sites, index)),
        place=place,
        place_named=uses_place[pattern],
        church=church,
        church_of_scotland=church_of_scotland[pattern],
    )


def objectives(first_purpose: np.ndarray, place: np.ndarray, place_named: np.ndarray) -> pa.Array:
    """A one-sentence objective from the first purpose, about the charity's place or Scotland."""
    areas = PLACES + ("Scotland",)
    area = np.where(place_named, place, len(PLACES))
    distinct, index = np.unique(first_purpose * len(areas) + area, return_inverse=True)
    sentences = [
        OBJECTIVES[c // len(areas)].format(area=areas[c % len(areas)]) for c in distinct.tolist()
    ]
    return gather(sentences, index)


def postcodes(rng: np.random.Generator, location: np.ndarray) -> pa.Array:
    """Postcodes shaped like "EH1 1AA" in the area of each charity's location."""
    n = len(location)
    areas = [POSTCODE_AREAS[loc] for loc in MAIN_OPERATING_LOCATIONS]
    letters = _UNIT_LETTERS[rng.integers(0, len(_UNIT_LETTERS), (n, 2))]
    district, sector = format_ints(rng.integers(1, 40, n)), format_ints(rng.integers(1, 10, n))
    unit = [pa.array(letters[:, j], TEXT) for j in range(2)]
    return join(gather(areas, location), district, " ", sector, *unit)


def addresses(rng: np.random.Generator, place: np.ndarray) -> pa.Array:
    """Principal office addresses like "12 High Street, Kirkcaldy"."""
    n = len(place)
    street = gather(STREETS, rng.integers(0, len(STREETS), n))
    return join(format_ints(rng.integers(1, 120, n)), " ", street, ", ", gather(PLACES, place))


def removal_reasons(
    rng: np.random.Generator,
    church_of_scotland: np.ndarray,
    merger_name: pa.Array,
    merger_number: pa.Array,
    union_name: pa.Array,
    union_number: pa.Array,
) -> pa.Array:
    """OSCR-style "Reason For Removal" text for each charity, in OSCR's mixed spellings."""
    n = len(church_of_scotland)
    kinds = list(REMOVAL_KINDS)
    kind = weighted_choice(rng, list(REMOVAL_KINDS.values()), n)

    def spelling(spellings: tuple[tuple[str, float], ...]) -> pa.Array:
        return gather([s for s, _ in spellings], weighted_choice(rng, [w for _, w in spellings], n))

    reason = repeat("", n)
    reason = choose(kind == kinds.index("wound_up"), spelling(WOUND_UP_SPELLINGS), reason)
    reason = choose(kind == kinds.index("section_18"), spelling(SECTION_18_SPELLINGS), reason)
    merger = join(MERGER_REASON, merger_name, " (", merger_number, ")")
    reason = choose(kind == kinds.index("merger"), merger, reason)
    union = join(UNION_INTO, union_name, " (", union_number, ").")
    union = choose(rng.random(n) < 0.5, union, UNION_OF_CONGREGATIONS)
    return choose(church_of_scotland & (rng.random(n) < 0.6), union, reason)
