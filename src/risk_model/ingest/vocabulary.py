"""Register values in OSCR's own spelling, and what the accounts say about them.

A single-valued vocabulary field (constitutional form, geographical spread, main operating location,
regulatory type) is matched to OSCR's spelling loosely (``domain.names.loose_key``), so that one
area is one area however a file writes it:

    "Perth and Kinross", "perth  &  kinross", "Perth & Kinross Council"  -> "Perth & Kinross"
    "Na h-Eileanan Siar", "Eilean Siar", "Comhairle nan Eilean Siar"     -> "Western Isles"

(OSCR's register download spells them so; other names of an area are ``vocab.AREA_ALIASES``.) A
value that matches nothing is kept as written, and reported with the nearest known spelling when
one is close. Every change and every unknown value is counted in the file's account notes.
"""

from __future__ import annotations

from functools import cache

import pandas as pd

from risk_model.domain import columns as C
from risk_model.domain import vocab
from risk_model.domain.names import loose_key, nearest

SINGLE_VALUED: dict[str, dict[str, int]] = {
    "Constitutional Form": vocab.CONSTITUTIONAL_FORMS, "Geographical Spread": vocab.GEOGRAPHICAL_SPREADS,
    "Main Operating Location": vocab.MAIN_OPERATING_LOCATIONS, "Regulatory Type": vocab.REGULATORY_TYPES,
}
MULTI_VALUED: dict[str, dict[str, int]] = {
    "Purposes": vocab.PURPOSES, "Beneficiaries": vocab.BENEFICIARIES, "Activities": vocab.ACTIVITIES,
}
_ALIASES: dict[str, dict[str, tuple[str, ...]]] = {"Main Operating Location": vocab.AREA_ALIASES}
# Values named in a note, most frequent first; the rest are counted.
_SHOWN = 5


def _key(field: str, text: str) -> str:
    key = loose_key(text)
    if field == "Main Operating Location":  # a council is named for its area: "The Highland Council"
        key = key.removeprefix("the ").removesuffix(" council")
    return key


@cache
def _spellings(field: str) -> dict[str, str]:
    """Loose key -> OSCR's spelling, for every known value of `field` and every other name of one."""
    spellings = {_key(field, known): known for known in SINGLE_VALUED[field]}
    for known, others in _ALIASES.get(field, {}).items():
        spellings |= {_key(field, other): known for other in others}
    return spellings


def oscr_spelling(field: str, text: str) -> str:
    """One value of a single-valued field in OSCR's spelling (as written when it matches none)."""
    return _spellings(field).get(_key(field, text), text)


def normalise_vocabulary(field: str, values: pd.Series) -> tuple[pd.Series, pd.DataFrame]:
    """`values` of a single-valued field in OSCR's spelling, and what changed: (written, oscr, rows)."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    spelt = [oscr_spelling(field, u) for u in uniques]
    changed = [i for i, (u, s) in enumerate(zip(uniques, spelt)) if u != s]
    rows = pd.Series(codes).value_counts()
    changes = pd.DataFrame({"written": [uniques[i] for i in changed], "oscr": [spelt[i] for i in changed],
                            "rows": [int(rows.get(i, 0)) for i in changed]})
    if not changed:
        return values, changes
    normalised = pd.Series(pd.array(spelt + [pd.NA], dtype="string")[codes], index=values.index)
    return normalised, changes


def _listed(counts: pd.Series, describe) -> str:
    shown = [describe(value, int(n)) for value, n in counts.head(_SHOWN).items()]
    more = len(counts) - _SHOWN
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")


def normalised_note(field: str, parts: list[pd.DataFrame]) -> list[str]:
    """The account note on one field's values respelt (the changes `normalise_vocabulary` found in
    each chunk of the file)."""
    changes = pd.concat(parts) if parts else pd.DataFrame()
    if changes.empty:
        return []
    counts = changes.groupby(["written", "oscr"], sort=False)["rows"].sum().sort_values(ascending=False,
                                                                                        kind="stable")
    listed = _listed(counts, lambda pair, n: f"{pair[0]!r} -> {pair[1]!r} ({n})")
    return [f"{field}: {int(counts.sum())} values normalised to OSCR's spelling: {listed}"]


def _near(field: str, value: str) -> str | None:
    """OSCR's spelling of the known value or other name nearest to `value`, if one is close."""
    names = {known: known for known in SINGLE_VALUED.get(field) or MULTI_VALUED[field]}
    names |= {other: known for known, others in _ALIASES.get(field, {}).items() for other in others}
    near = nearest(value, names, cutoff=0.8)
    return names[near] if near else None


def unknown_notes(columns: list[str], table: pd.DataFrame) -> list[str]:
    """Account notes on values outside OSCR's vocabularies, kept as written, with a near match if close."""
    notes = []
    for field, known in (SINGLE_VALUED | MULTI_VALUED).items():
        if field not in columns:
            continue
        values = table[C.REGISTER_CANONICAL[field]].explode().dropna()
        unseen = values[~values.isin(list(known))].value_counts()
        if len(unseen):
            listed = _listed(unseen, lambda value, n: f"{value!r} ({n}" + (
                f"; did you mean {near!r}?)" if (near := _near(field, value)) else ")"))
            notes.append(f"{field}: {int(unseen.sum())} values outside the OSCR vocabulary kept: {listed}")
    return notes
