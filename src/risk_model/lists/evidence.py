"""The facts a reason cites: a charity's filings and case-log events as known at the list's date
(`evidence`), and which of them, beside the features, each factor's sentence reads (`needs`).

The wording itself is `reasons`'; this module only gathers, so that a sentence is built from
exactly the columns its factor names and nothing a later date would know.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from risk_model.features import CHANGE_FIELDS, due_dates
from risk_model.lists.changes import PARTS_OF, STEM_OF


def evidence(returns: pd.DataFrame, case_log: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """Per charity, the filings and events reasons cite: last three received returns, the oldest
    overdue return, the latest concern and the latest closed inquiry, all as known at `as_of`."""
    as_of = pd.Timestamp(as_of)
    known = returns.loc[returns["date_received"] <= as_of].sort_values(["charity_number", "year_end"])
    recency = known.groupby("charity_number").cumcount(ascending=False)
    last3 = known.loc[recency < 3]
    over = last3["expenditure_gbp"] > last3["income_gbp"]
    grouped = last3.groupby("charity_number")
    out = pd.DataFrame({
        "last3_first_year_end": grouped["year_end"].min(),
        "last3_last_year_end": grouped["year_end"].max(),
        "last3_count": grouped.size(),
    })
    over_rows = last3.loc[over]
    # "2019, 2021": the years (up to three) in which spending exceeded income, without a
    # Python call per charity.
    years = over_rows["year_end"].dt.year.astype(str).to_numpy(dtype=object)
    slot = over_rows.groupby("charity_number").cumcount().to_numpy()
    table = pd.DataFrame({"charity_number": over_rows["charity_number"].to_numpy(), "slot": slot, "year": years})
    wide = (table.pivot(index="charity_number", columns="slot", values="year")
            .reindex(columns=[0, 1, 2]).astype(object))
    joined = wide[0].fillna("")
    for extra in (1, 2):
        joined = joined + np.where(wide[extra].isna(), "", ", " + wide[extra].fillna(""))
    out["last3_over_years"] = joined
    latest = known.loc[recency == 0].set_index("charity_number")
    out["latest_received"] = latest["date_received"]
    previous = known.loc[recency == 1].set_index("charity_number")
    out["previous_year_end"] = previous["year_end"]
    fields = list(CHANGE_FIELDS)
    earlier = known.loc[(recency >= 1) & (recency <= 3)].groupby("charity_number")[fields].mean()
    out = (out.join(latest[fields].add_prefix("latest__"), how="outer").join(previous[fields].add_prefix("previous__"))
           .join(earlier.add_prefix("earlier_mean__")))
    due = due_dates(returns["year_end"])
    overdue = returns.loc[(due <= as_of) & ~(returns["date_received"] <= as_of)]
    oldest = overdue.sort_values("year_end").drop_duplicates("charity_number").set_index("charity_number")
    out = out.join(oldest["year_end"].rename("oldest_overdue_year_end"), how="outer")
    out["oldest_overdue_due"] = due_dates(out["oldest_overdue_year_end"])
    before = case_log.loc[case_log["date"] < as_of]
    concerns = before.loc[before["event"] == "concern_received"].groupby("charity_number")["date"].max()
    closed = before.loc[before["event"] == "inquiry_closed"].sort_values("date").drop_duplicates(
        "charity_number", keep="last").set_index("charity_number")
    out = out.join(concerns.rename("last_concern"), how="outer")
    out = out.join(closed[["date", "outcome"]].rename(columns={"date": "last_inquiry_closed",
                                                               "outcome": "last_inquiry_outcome"}), how="outer")
    out.index.name = "charity_number"
    return out


# Every reason may cite the latest return.
_ALWAYS = ("latest_year_end", "latest_received")


def _change_needs(*fields: str) -> tuple[str, ...]:
    stems = [STEM_OF[f] for f in fields]
    return (("previous_year_end",) + tuple(f"{prefix}{f}" for f in fields
                                           for prefix in ("latest__", "previous__", "earlier_mean__"))
            + tuple(f"{stem}_{kind}" for stem in stems for kind in ("change_1y", "change_3y", "years_since_change")))


_MULTI_PREFIX = {"purposes": "purpose__", "beneficiaries": "beneficiary__", "activities": "activity__"}
_NEEDS: dict[str, tuple[str, ...]] = {
    "income": ("income_latest_gbp",),
    "spending": ("expenditure_latest_gbp", "income_latest_gbp", "spend_over_income_ratio_latest",
                 "spend_over_income_last3", "last3_count", "last3_first_year_end", "last3_last_year_end",
                 "last3_over_years"),
    "income_change": _change_needs("income_gbp"),
    "spending_change": _change_needs("expenditure_gbp"),
    "income_sources_change": _change_needs(*PARTS_OF["income_sources_change"]),
    "spending_parts_change": _change_needs(*PARTS_OF["spending_parts_change"]),
    "trustees_change": _change_needs("trustees"),
    "staff_change": _change_needs(*PARTS_OF["staff_change"]),
    "year_end_change": ("year_end_changed_latest", "years_since_year_end_change", "previous_year_end"),
    "income_sources": ("trading_income_share_latest", "donations_income_share_latest",
                       "investments_income_share_latest"),
    "charitable_spending": ("charitable_spending_share_latest",),
    "trustees": ("trustees_latest",), "employees": ("employees_latest",), "volunteers": ("volunteers_latest",),
    "overdue_returns": ("returns_outstanding", "oldest_overdue_year_end", "oldest_overdue_due",
                        "days_overdue_oldest_outstanding"),
    "late_returns": ("returns_late", "returns_due", "mean_days_late"),
    "filing_record": ("returns_due",),
    "age": ("age_years",),
    "constitutional_form": ("constitutional_form",), "geographical_spread": ("geographical_spread",),
    "regulatory_type": ("regulatory_type",), "area": ("main_operating_location",),
    "concerns": ("concerns_prior", "concerns_last_12m", "last_concern", "open_concern"),
    "inquiries": ("inquiries_prior", "regulatory_actions_prior", "last_inquiry_closed", "last_inquiry_outcome",
                  "open_inquiry"),
}


def needs(factor: str, column: str) -> bool:
    """Whether a reason for `factor` cites `column` of the features joined with `evidence`."""
    if column in _ALWAYS or column in _NEEDS.get(factor, ()):
        return True
    return factor in _MULTI_PREFIX and column.startswith(_MULTI_PREFIX[factor])
