"""Column contract: the raw headers of each input file and the canonical tables ingest produces.

Raw headers are the regulator's own (OSCR's register download, and the project's documented
annual-return and case-log files). Canonical tables use snake_case names in the regulator's
words, with units in names where they matter. Every stage after ingest speaks canonical names.
"""

from __future__ import annotations

# --- raw files -------------------------------------------------------------------------------

REGISTER_COLUMNS: tuple[str, ...] = (
    "Charity Number", "Charity Name", "Registered Date", "Known As", "Charity Status", "Postcode",
    "Constitutional Form", "Previous Constitutional Form 1", "Geographical Spread",
    "Main Operating Location", "Purposes", "Beneficiaries", "Activities", "Objectives",
    "Principal Office/Trustees Address", "Website", "Most recent year income",
    "Most recent year expenditure", "Mailing cycle", "Year End", "Donations and legacies income",
    "Charitable activities income", "Other trading activities income", "Investments income",
    "Other income", "Raising funds spending", "Charitable activities spending", "Other spending",
    "Parent charity name", "Parent charity number", "Parent charity country of registration",
    "Designated religious body", "Regulatory Type",
)
# OSCR's former-charities download: the register layout plus two columns after Registered Date.
FORMER_COLUMNS: tuple[str, ...] = (
    REGISTER_COLUMNS[:3] + ("Ceased Date", "Reason For Removal") + REGISTER_COLUMNS[3:]
)
# Columns without which a register file cannot be used; the rest are read when present.
REGISTER_REQUIRED: tuple[str, ...] = ("Charity Number", "Charity Name", "Registered Date")
FORMER_REQUIRED: tuple[str, ...] = REGISTER_REQUIRED + ("Ceased Date", "Reason For Removal")

INCOME_BREAKDOWN: tuple[str, ...] = (
    "Donations and legacies income", "Charitable activities income",
    "Other trading activities income", "Investments income", "Other income",
)
SPENDING_BREAKDOWN: tuple[str, ...] = (
    "Raising funds spending", "Charitable activities spending", "Other spending",
)
RETURNS_COLUMNS: tuple[str, ...] = (
    ("Charity Number", "Year End", "Date Received", "Total income", "Total expenditure")
    + INCOME_BREAKDOWN + SPENDING_BREAKDOWN
    + ("Number of trustees", "Employees", "Volunteers")
)
RETURNS_REQUIRED: tuple[str, ...] = (
    "Charity Number", "Year End", "Date Received", "Total income", "Total expenditure",
)

CASE_LOG_COLUMNS: tuple[str, ...] = ("Charity Number", "Date", "Event", "Outcome")
CASE_LOG_REQUIRED: tuple[str, ...] = CASE_LOG_COLUMNS

# The simulator's answer key; never read by features, labels or models.
LATENT_RISK_COLUMNS: tuple[str, ...] = (
    "Charity Number", "Year", "Misconduct probability", "Misconduct",
)

# --- canonical tables --------------------------------------------------------------------------

# register (current and former charities together, one row per charity number)
CHARITY_NUMBER = "charity_number"
REGISTER_CANONICAL: dict[str, str] = {
    "Charity Number": "charity_number",
    "Charity Name": "charity_name",
    "Registered Date": "registered_date",
    "Ceased Date": "ceased_date",
    "Reason For Removal": "removal_reason",
    "Charity Status": "charity_status",
    "Postcode": "postcode",
    "Constitutional Form": "constitutional_form",
    "Geographical Spread": "geographical_spread",
    "Main Operating Location": "main_operating_location",
    "Purposes": "purposes",
    "Beneficiaries": "beneficiaries",
    "Activities": "activities",
    "Regulatory Type": "regulatory_type",
    "Parent charity number": "parent_charity_number",
    "Designated religious body": "designated_religious_body",
}
# Extra canonical register columns derived at ingest.
REGISTER_DERIVED: tuple[str, ...] = ("removal_category", "source_file", "source_row")

RETURNS_CANONICAL: dict[str, str] = {
    "Charity Number": "charity_number",
    "Year End": "year_end",
    "Date Received": "date_received",
    "Total income": "income_gbp",
    "Total expenditure": "expenditure_gbp",
    "Donations and legacies income": "donations_legacies_income_gbp",
    "Charitable activities income": "charitable_activities_income_gbp",
    "Other trading activities income": "trading_income_gbp",
    "Investments income": "investments_income_gbp",
    "Other income": "other_income_gbp",
    "Raising funds spending": "raising_funds_spending_gbp",
    "Charitable activities spending": "charitable_activities_spending_gbp",
    "Other spending": "other_spending_gbp",
    "Number of trustees": "trustees",
    "Employees": "employees",
    "Volunteers": "volunteers",
}
RETURNS_MONEY: tuple[str, ...] = tuple(v for v in RETURNS_CANONICAL.values() if v.endswith("_gbp"))
RETURNS_COUNTS: tuple[str, ...] = ("trustees", "employees", "volunteers")

CASE_LOG_CANONICAL: dict[str, str] = {
    "Charity Number": "charity_number",
    "Date": "date",
    "Event": "event",
    "Outcome": "outcome",
}

# Accounts are due this many months after the financial year end (OSCR's rule).
RETURN_DUE_MONTHS = 9
