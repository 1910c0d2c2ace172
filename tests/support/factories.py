"""Tiny canonical tables built inline, for unit tests of the stages after ingest."""

from __future__ import annotations

import pandas as pd

from risk_model.domain.columns import RETURNS_CANONICAL

EDUCATION = "The advancement of education"
HEALTH = "The advancement of health"


def register(*charities: dict) -> pd.DataFrame:
    """Register rows with sensible defaults; pass overrides per charity."""
    rows = []
    for i, overrides in enumerate(charities):
        row = {
            "charity_number": f"SC{i + 1:06d}",
            "charity_name": f"Test Charity {i + 1}",
            "registered_date": pd.Timestamp("2000-01-01"),
            "ceased_date": pd.NaT,
            "constitutional_form": "Unincorporated association",
            "geographical_spread": "A specific local point, community or neighbourhood",
            "main_operating_location": "Fife",
            "regulatory_type": "Standard",
            "purposes": [EDUCATION],
            "beneficiaries": ["Older people"],
            "activities": ["It carries out activities or services itself"],
        }
        row.update(overrides)
        rows.append(row)
    frame = pd.DataFrame(rows)
    for column in ("registered_date", "ceased_date"):
        frame[column] = pd.to_datetime(frame[column])
    return frame


def returns(*rows: dict) -> pd.DataFrame:
    """Annual-return rows; money columns not given are NaN."""
    columns = list(RETURNS_CANONICAL.values())
    frame = pd.DataFrame([{c: r.get(c) for c in columns} for r in rows], columns=columns)
    for column in ("year_end", "date_received"):
        frame[column] = pd.to_datetime(frame[column])
    for column in columns[3:]:
        frame[column] = frame[column].astype("float64")
    return frame


def case_log(*rows: tuple) -> pd.DataFrame:
    """Case-log rows as (charity_number, date, event, outcome)."""
    frame = pd.DataFrame(list(rows), columns=["charity_number", "date", "event", "outcome"])
    frame["date"] = pd.to_datetime(frame["date"])
    return frame


def annual_returns(number: str, years: range, income: float, expenditure: float, received_days: int = 200,
                   **extra) -> list[dict]:
    """One return a year with a 31 March year end, received `received_days` after it."""
    out = []
    for year in years:
        year_end = pd.Timestamp(f"{year}-03-31")
        out.append({"charity_number": number, "year_end": year_end,
                    "date_received": year_end + pd.Timedelta(days=received_days),
                    "income_gbp": income, "expenditure_gbp": expenditure, **extra})
    return out
