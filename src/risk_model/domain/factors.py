"""Regulator-facing factors: the features and encoded columns each one gathers, and its group.

A model sees columns such as `cat__constitutional_form_Other` or `purpose__education`; a case
officer sees "constitutional form" or "charitable purposes". Contributions of every column are
summed back to the factor it came from.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from risk_model.features import CATEGORICAL_FEATURES, CHANGE_FIELDS, CHANGE_KINDS, FEATURE_COLUMNS

GROUPS: tuple[str, ...] = ("finance", "change", "filing", "governance", "profile", "history")


def _changes_of(*stems: str) -> tuple[str, ...]:
    """The change features (CHANGE_KINDS) of the return fields with these stems."""
    known = {stem for stem, _, _ in CHANGE_FIELDS.values()}
    assert set(stems) <= known, set(stems) - known
    return tuple(f"{stem}_{kind}" for stem in stems for kind in CHANGE_KINDS)


@dataclass(frozen=True)
class Factor:
    """A named factor, its group, and the features that make it up."""

    id: str
    label: str
    group: str
    features: tuple[str, ...]


FACTORS: tuple[Factor, ...] = (
    Factor("income", "income, latest return", "finance", ("income_latest_gbp",)),
    # Spending, spending as a share of income and the years it exceeded income are one quantity to a
    # reader: one factor, so that it never reads as both raising and lowering a score.
    Factor("spending", "spending against income", "finance",
           ("expenditure_latest_gbp", "spend_over_income_ratio_latest", "spend_over_income_last3")),
    Factor("income_sources", "sources of income", "finance",
           ("trading_income_share_latest", "donations_income_share_latest", "investments_income_share_latest")),
    Factor("charitable_spending", "share of spending on charitable activities", "finance",
           ("charitable_spending_share_latest",)),
    Factor("income_change", "change in income between returns", "change", _changes_of("income")),
    Factor("spending_change", "change in spending between returns", "change", _changes_of("spending")),
    Factor("income_sources_change", "change in the sources of income", "change",
           _changes_of("donations_income", "charitable_income", "trading_income", "investments_income",
                       "other_income")),
    Factor("spending_parts_change", "change in what the money was spent on", "change",
           _changes_of("fundraising_spending", "charitable_spending", "other_spending")),
    Factor("trustees_change", "change in the number of trustees", "change", _changes_of("trustees")),
    Factor("staff_change", "change in employees and volunteers", "change", _changes_of("employees", "volunteers")),
    Factor("year_end_change", "change of financial year end", "change",
           ("year_end_changed_latest", "years_since_year_end_change")),
    Factor("trustees", "number of trustees", "governance", ("trustees_latest", "missing__trustees")),
    Factor("employees", "employees", "governance", ("employees_latest", "missing__employees")),
    Factor("volunteers", "volunteers", "governance", ("volunteers_latest", "missing__volunteers")),
    Factor("overdue_returns", "overdue returns", "filing", ("returns_outstanding", "days_overdue_oldest_outstanding")),
    Factor("late_returns", "returns filed late", "filing", ("returns_late", "late_share_last3_due", "mean_days_late")),
    Factor("filing_record", "returns on record", "filing",
           ("returns_due", "missing__return", "days_since_latest_year_end")),
    Factor("age", "time on the register", "profile", ("age_years", "age_under_5")),
    Factor("constitutional_form", "constitutional form", "profile", ("constitutional_form",)),
    Factor("geographical_spread", "geographical spread", "profile", ("geographical_spread",)),
    Factor("area", "main operating area", "profile", ("main_operating_location",)),
    Factor("regulatory_type", "regulatory type", "profile", ("regulatory_type",)),
    Factor("purposes", "charitable purposes", "profile",
           tuple(f for f in FEATURE_COLUMNS if f.startswith("purpose__")) + ("n_purposes",)),
    Factor("beneficiaries", "beneficiaries", "profile", tuple(f for f in FEATURE_COLUMNS if f.startswith("beneficiary__"))),
    Factor("activities", "activities", "profile", tuple(f for f in FEATURE_COLUMNS if f.startswith("activity__"))),
    Factor("concerns", "concerns received", "history",
           ("concerns_prior", "concerns_last_12m", "days_since_last_concern", "open_concern")),
    Factor("inquiries", "previous inquiries", "history",
           ("inquiries_prior", "regulatory_actions_prior", "guidance_prior", "open_inquiry")),
)
FACTOR_BY_ID: dict[str, Factor] = {f.id: f for f in FACTORS}
FEATURE_TO_FACTOR: dict[str, str] = {feature: f.id for f in FACTORS for feature in f.features}

_PREFIX = re.compile(r"^[a-z]+__")
_TRANSFORMERS = {"num", "log", "money", "cat"}
_MISSING = "missingindicator_"


def source_feature(encoded_column: str) -> str:
    """The feature an encoded column came from: 'cat__constitutional_form_Other' -> 'constitutional_form',
    'log__missingindicator_trustees_latest' -> 'trustees_latest'."""
    name = _PREFIX.sub("", encoded_column, count=1) if encoded_column.split("__", 1)[0] in _TRANSFORMERS \
        else encoded_column
    name = name.removeprefix(_MISSING)
    if name in FEATURE_TO_FACTOR:
        return name
    for categorical in CATEGORICAL_FEATURES:
        if name.startswith(categorical + "_"):
            return categorical
    raise KeyError(f"column {encoded_column!r} belongs to no known feature")


def factor_of(encoded_column: str) -> str:
    """The factor id an encoded model column is summed into."""
    return FEATURE_TO_FACTOR[source_feature(encoded_column)]
