"""Base rates of leaving OSCR's register, by constitutional form, main operating location and income band.

Leaving the register is almost always voluntary: a charity is wound up, merges, re-registers as a
SCIO or asks to be removed (s.18). These rates describe exits, not misconduct, and must never be
used as a misconduct label; every report carries ``HEADER`` to say so.

Input: the canonical register table from ``ingest.read_register_file`` (the former-charities
file alone, or former and current charities together). Per group the report gives the charities,
the exits, the exit rate (only when current charities are in the table too: a file of former
charities alone has no denominator), the exits whose reason was recorded, and the share of exits
in each removal category (most removals before 2013 carry no reason: "not_recorded").

Example: three former charities in Fife (two wound up, one merged) and one current one give
Fife: charities 4, exits 3, exit rate 0.75, wound_up_dissolved 0.667, merger_amalgamation_union 0.333.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from risk_model.domain.vocab import INCOME_BANDS_GBP, REMOVAL_CATEGORIES
from risk_model.features import income_band

HEADER = (
    "Exits from the register are almost all voluntary (wound up or dissolved, merged, re-registered as a SCIO, "
    "or removed at the charity's own request under s.18). These are base rates of leaving the register, "
    "NOT of misconduct, and must not be used as a misconduct label."
)
DIMENSIONS: dict[str, str] = {
    "constitutional form": "constitutional_form",
    "main operating location": "main_operating_location",
    "income band": "income_band",
}
NOT_RECORDED = "not recorded"
# Where a canonical register table may carry "Most recent year income", in order of preference.
INCOME_COLUMNS: tuple[str, ...] = ("most_recent_income_gbp", "income_gbp")
SHARE_COLUMNS: tuple[str, ...] = tuple(f"share_{c}" for c in REMOVAL_CATEGORIES)
REPORT_COLUMNS: tuple[str, ...] = (
    ("dimension", "group", "charities", "exits", "exit_rate", "exits_reason_recorded") + SHARE_COLUMNS
)


@dataclass(frozen=True)
class ExitReport:
    """The base-rate table, with the header and notes that must travel with it."""

    table: pd.DataFrame  # REPORT_COLUMNS, one row per (dimension, group), plus an "all" row
    header: str
    notes: tuple[str, ...]


def _income(register: pd.DataFrame, income_gbp: pd.Series | None) -> tuple[pd.Series | None, str | None]:
    if income_gbp is not None:
        return income_gbp.reindex(register.index), None
    for column in INCOME_COLUMNS:
        if column in register.columns:
            return register[column], None
    return None, ("income band: not available, as the canonical register table carries no "
                  "'Most recent year income' (pass it in to report by income band)")


def _summarise(groups: pd.Series, ceased: pd.Series, categories: pd.Series, has_current: bool) -> pd.DataFrame:
    frame = pd.DataFrame({"group": groups.to_numpy(), "exit": ceased.to_numpy(), "category": categories.to_numpy()})
    counts = frame.groupby("group", sort=False).agg(charities=("exit", "size"), exits=("exit", "sum"))
    exited = frame.loc[frame["exit"]]
    recorded = exited["category"].ne("not_recorded").groupby(exited["group"], sort=False).sum()
    counts["exits_reason_recorded"] = recorded.reindex(counts.index, fill_value=0)
    shares = pd.crosstab(exited["group"], exited["category"], normalize="index")
    shares = shares.reindex(index=counts.index, columns=list(REMOVAL_CATEGORIES), fill_value=0.0)
    # A group with no exits has no shares, not shares of zero.
    shares = shares.where(np.broadcast_to(counts["exits"].gt(0).to_numpy()[:, None], shares.shape))
    table = counts.join(shares.add_prefix("share_"))
    table["exit_rate"] = table["exits"] / table["charities"] if has_current else np.nan
    return table.reset_index()


def _ordered(table: pd.DataFrame, dimension: str) -> pd.DataFrame:
    if dimension == "income band":
        order = [name for name, _, _ in INCOME_BANDS_GBP] + [NOT_RECORDED]
        key = table["group"].map({g: i for i, g in enumerate(order)})
        return table.assign(_key=key).sort_values("_key", kind="stable").drop(columns="_key")
    # Largest groups first; "not recorded" last whatever its size.
    return table.assign(_blank=table["group"].eq(NOT_RECORDED)).sort_values(
        ["_blank", "charities", "group"], ascending=[True, False, True], kind="stable").drop(columns="_blank")


def exit_base_rates(register: pd.DataFrame, income_gbp: pd.Series | None = None) -> ExitReport:
    """Charities, exits, exit rate and removal-category shares by form, area and income band."""
    ceased = register["ceased_date"].notna()
    has_current = bool((~ceased).any())
    categories = register["removal_category"].astype("string").fillna("not_recorded")
    notes = [] if has_current else [
        "the table holds former charities only: exit rates need the current register as well, "
        "so counts and category shares are given without rates"]
    income, missing_income = _income(register, income_gbp)
    grouping = {
        "constitutional_form": register["constitutional_form"],
        "main_operating_location": register["main_operating_location"],
    }
    if income is not None:
        grouping["income_band"] = income_band(income.astype("float64")).replace("no return", NOT_RECORDED)
        notes.append("income band from 'Most recent year income' (blank: not recorded)")
    else:
        notes.append(missing_income)
    parts = [_summarise(pd.Series("all", index=register.index), ceased, categories, has_current)
             .assign(dimension="all")]
    for dimension, column in DIMENSIONS.items():
        if column not in grouping:
            continue
        groups = grouping[column].astype("string").fillna(NOT_RECORDED)
        parts.append(_ordered(_summarise(groups, ceased, categories, has_current), dimension)
                     .assign(dimension=dimension))
    table = pd.concat(parts, ignore_index=True).reindex(columns=list(REPORT_COLUMNS))
    table = table.astype({"charities": "int64", "exits": "int64", "exits_reason_recorded": "int64",
                          "exit_rate": "float64"})
    return ExitReport(table=table, header=HEADER, notes=tuple(notes))
