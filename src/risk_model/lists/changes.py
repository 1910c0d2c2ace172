"""What changed in a charity's returns, in words: the sentence for each change factor (income,
spending and their parts, trustees, staff), built column-wise for every charity at once, and the
return it cites. `reasons` calls it for the change factors; it never scores or explains.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from risk_model.features import CHANGE_FIELDS

# The return fields a change sentence can name, in the words of the return.
FIELD_WORDS: dict[str, str] = {
    "income_gbp": "income", "expenditure_gbp": "spending",
    "donations_legacies_income_gbp": "income from donations and legacies",
    "charitable_activities_income_gbp": "income from charitable activities",
    "trading_income_gbp": "income from trading", "investments_income_gbp": "income from investments",
    "other_income_gbp": "other income", "raising_funds_spending_gbp": "spending on raising funds",
    "charitable_activities_spending_gbp": "spending on charitable activities",
    "other_spending_gbp": "other spending", "trustees": "trustees", "employees": "employees",
    "volunteers": "volunteers",
}
STEM_OF = {field: stem for field, (stem, _, _) in CHANGE_FIELDS.items()}
PARTS_OF = {
    "income_sources_change": ("donations_legacies_income_gbp", "charitable_activities_income_gbp",
                              "trading_income_gbp", "investments_income_gbp", "other_income_gbp"),
    "spending_parts_change": ("raising_funds_spending_gbp", "charitable_activities_spending_gbp",
                              "other_spending_gbp"),
    "staff_change": ("employees", "volunteers"),
}

def format_dates(values: pd.Series) -> np.ndarray:
    """'5 Jan 2023' for each date ('unknown date' for NaT), formatting each distinct date once."""
    codes, uniques = pd.factorize(values)
    text = np.asarray(pd.DatetimeIndex(uniques).strftime("%d %b %Y").str.lstrip("0"), dtype=object)
    return np.where(codes < 0, "unknown date", text[np.maximum(codes, 0)] if len(text) else "unknown date")


CHANGE_FACTORS: dict[str, tuple[str, ...]] = {
    "income_change": ("income_gbp",), "spending_change": ("expenditure_gbp",), "trustees_change": ("trustees",),
    **PARTS_OF,
}


def _figures(values: np.ndarray, money: np.ndarray) -> np.ndarray:
    """'£12,500' for money, '12' for counts, 'not given' where missing; one pass over the values."""
    text = np.array(["not given" if v != v else f"{v:,.0f}" for v in values.tolist()], dtype=object)
    return np.where(money & (text != "not given"), "£" + text, text)


def change_sentences(factor: str, frame: pd.DataFrame) -> np.ndarray:
    """What changed in a return field, for every row of `frame` at once (the field that moved most,
    for factors of several): built column-wise, as a register has tens of thousands of rows."""
    fields = CHANGE_FACTORS[factor]
    n = len(frame)

    def stacked(template: str) -> np.ndarray:
        return np.column_stack([frame[template.format(field=f, stem=STEM_OF[f])].to_numpy(dtype=float)
                                for f in fields]) if n else np.empty((0, len(fields)))

    steps = stacked("{stem}_change_1y")
    pick = np.argmax(np.where(np.isnan(steps), -1.0, np.abs(steps)), axis=1) if n else np.empty(0, dtype=int)
    rows = np.arange(n)

    def chosen(template: str) -> np.ndarray:
        return stacked(template)[rows, pick]

    step, now, before = chosen("{stem}_change_1y"), chosen("latest__{field}"), chosen("previous__{field}")
    earlier, since = chosen("earlier_mean__{field}"), chosen("{stem}_years_since_change")
    words = np.array([FIELD_WORDS[f] for f in fields], dtype=object)[pick]
    capitalised = np.array([FIELD_WORDS[f].capitalize() for f in fields], dtype=object)[pick]
    money = np.array([f.endswith("_gbp") for f in fields])[pick]
    now_text, before_text = _figures(now, money), _figures(before, money)
    previous = frame["previous_year_end"]
    latest_year, previous_year = _years(frame["latest_year_end"]), _years(previous)
    span = "between the returns for " + previous_year + " and " + latest_year
    held = np.where(np.isnan(since), "; no marked change in the returns on record",
                    np.array([f"; the last marked change was {y:.1f} years ago" for y in since.tolist()], dtype=object))
    verb = np.where(now > before, " rose from ", " fell from ")
    averaged = np.array([f" ({v} a year on average in up to three returns before)" for v in
                         _figures(earlier, np.ones(n, dtype=bool)).tolist()], dtype=object)
    moved = capitalised + verb + before_text + " to " + now_text + " " + span
    moved = np.where(money & ~np.isnan(earlier), moved + averaged, moved)
    return np.select(
        [previous.isna().to_numpy(), np.isnan(step), now_text == before_text],
        ["Only one return received, so no change in " + words + " yet",
         "The returns do not give " + words + " for both of the last two years",
         capitalised + " unchanged at " + now_text + " " + span + held],
        moved,
    )


def _years(dates: pd.Series) -> np.ndarray:
    """'2024' for each date, '?' where unknown."""
    return np.array(["?" if y != y else str(int(y)) for y in dates.dt.year.to_numpy(dtype=float).tolist()],
                    dtype=object)


def latest_return_sources(frame: pd.DataFrame) -> np.ndarray:
    """'return for year ending 31 Mar 2024, received 2 Nov 2024' (or 'no return received'), column-wise."""
    year_end = format_dates(frame["latest_year_end"])
    received = format_dates(frame["latest_received"])
    return np.where(frame["latest_year_end"].isna().to_numpy(), "no return received",
                    "return for year ending " + year_end.astype(object) + ", received " + received.astype(object))
