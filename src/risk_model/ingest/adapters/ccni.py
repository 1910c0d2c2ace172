"""Northern Ireland: the Charity Commission for Northern Ireland's register export (CCNI format).

One row per charity (sub-charities carry a non-zero "Sub charity number"), 17 columns, published
as latin-1. The file is read as UTF-8 if it decodes, else Windows-1252 (whose printable
characters are latin-1's plus the curly quotes and dashes the export actually holds), else
latin-1. The export is a snapshot: each charity's latest financials and the year end they
relate to, but no history and no dates documents were received.

The regulator's own ``Status`` is the label:

    Status                        label_role  label
    Up-to-date                    negative    0
    In default                    positive    1
    Due documents received late   positive    1
    Recently registered           excluded    NA   (no documents due yet)
    Removed                       excluded    NA   (no longer on the register)

Every row read is accepted or rejected with its reasons (file, row, line, field, value, reason);
excluded rows are accepted, kept with their status, and left out of training and ranking.
Negative amounts are kept: the export carries the figures a charity reported, signed.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pandera.pandas as pa

from risk_model.ingest.adapters import RegulatorExtract
from risk_model.ingest.adapters.ccni_vocab import LISTS
from risk_model.ingest.checks import concat_problems, duplicates, flag
from risk_model.ingest.headers import match_headers
from risk_model.ingest.parsing import (
    DATE_FORMATS_TEXT,
    clean_text,
    normalise_charity_numbers,
    parse_dates,
    parse_numbers,
    physical_lines,
    read_raw_csv,
)
from risk_model.ingest.schemas import UniqueKey, schema_failures
from risk_model.ingest.tables import REGISTER_DTYPES, REJECTIONS_DTYPES, RETURNS_DTYPES

CCNI_KEY = UniqueKey(("reg_charity_number", "sub_charity_number"), "charity and sub number")

NAME = "ccni"
FILE_PATTERN = re.compile(r"charity-register-(\d{4}-\d{2}-\d{2})\.(csv|zip)", re.I)
CHARITY_NUMBER_PATTERN = r"\d{6}"

COLUMNS: tuple[str, ...] = (
    "Reg charity number", "Sub charity number", "Charity name", "Date registered", "Status",
    "Date for financial year ending", "Total income", "Total spending", "Charitable spending",
    "Income generation and governance", "Retained for future use", "Public address", "Website",
    "Company number", "What the charity does", "Who the charity helps", "How the charity works",
)
REQUIRED: tuple[str, ...] = (
    "Reg charity number", "Charity name", "Date registered", "Status", "Date for financial year ending",
    "Total income", "Total spending",
)
STATUS_ROLES: dict[str, str] = {
    "Up-to-date": "negative",
    "In default": "positive",
    "Due documents received late": "positive",
    "Recently registered": "excluded",
    "Removed": "excluded",
}
EXCLUSION_REASONS: dict[str, str] = {
    "Recently registered": "recently registered: no documents due yet",
    "Removed": "removed from the register",
}
LABEL_DEFINITION = "in default or documents received late (1) against up to date (0)"

MONEY: dict[str, str] = {
    "Total income": "income_gbp",
    "Total spending": "spending_gbp",
    "Charitable spending": "charitable_spending_gbp",
    "Income generation and governance": "income_generation_governance_gbp",
    "Retained for future use": "retained_for_future_use_gbp",
}
LIST_FIELDS: dict[str, str] = {
    "What the charity does": "purposes", "Who the charity helps": "beneficiaries",
    "How the charity works": "activities",
}
TEXT_FIELDS: dict[str, str] = {
    "Charity name": "charity_name", "Public address": "public_address", "Website": "website",
}
SNAPSHOT_DTYPES: dict[str, str] = {
    "charity_number": "string", "reg_charity_number": "string", "sub_charity_number": "string",
    "charity_name": "string", "registered_date": "datetime64[ns]", "status": "string",
    "label_role": "string", "label": "float64", "exclusion": "string", "year_end": "datetime64[ns]",
    **{name: "float64" for name in MONEY.values()},
    "public_address": "string", "postcode": "string", "website": "string", "website_listed": "bool",
    "company_number": "string", "purposes": "object", "beneficiaries": "object", "activities": "object",
    "source_file": "string", "source_row": "int64",
}
# Parsed column -> the raw field its failures are reported against.
_RAW_FIELD: dict[str, str] = {
    "reg_charity_number": "Reg charity number", "sub_charity_number": "Sub charity number",
    "registered_date": "Date registered", "status": "Status", "year_end": "Date for financial year ending",
    **{v: k for k, v in MONEY.items()}, **{v: k for k, v in TEXT_FIELDS.items()},
    **{v: k for k, v in LIST_FIELDS.items()}, "company_number": "Company number",
}
_DATE_REASON = f"not a valid date (expected {DATE_FORMATS_TEXT})"
# Items are joined by a bare comma; a comma inside an item is always followed by a space.
_LIST_SEPARATOR = re.compile(r",(?!\s)")
_POSTCODE = re.compile(r"(BT\d{1,2}\s*\d[A-Z]{2})\s*$", re.I)
_WEB_ADDRESS = re.compile(r"https?://|www\.|\b[a-z0-9-]+\.(?:[a-z0-9-]+\.)*[a-z]{2,}\b", re.I)


def _status_key(text: str) -> str:
    return re.sub(r"[^a-z]+", " ", text.lower()).strip()


_STATUS_BY_KEY = {_status_key(s): s for s in STATUS_ROLES}


def normalise_status(raw: pd.Series) -> pd.Series:
    """CCNI's status in its own spelling ('up to date' -> 'Up-to-date'); unknown text is kept as is."""
    text = clean_text(raw)
    return text.map(lambda v: _STATUS_BY_KEY.get(_status_key(v), v) if isinstance(v, str) else v).astype("string")


def split_categories(raw: pd.Series, vocabulary: dict[str, str] | tuple[str, ...] = ()) -> pd.Series:
    """Split CCNI's comma-joined category lists into lists of items, spelt as in ``vocabulary``."""
    canonical = {" ".join(item.split()).lower(): item for item in vocabulary}
    codes, uniques = pd.factorize(clean_text(raw), use_na_sentinel=True)
    lists = []
    for text in uniques:
        items = (" ".join(part.split()) for part in _LIST_SEPARATOR.split(str(text)))
        lists.append([canonical.get(item.lower(), item) for item in items if item])
    lists.append([])
    # A fresh list per row, so that editing one charity's list cannot change another's.
    return pd.Series([list(lists[c]) for c in codes], index=raw.index, dtype=object)


def website_listed(website: pd.Series) -> pd.Series:
    """True where the Website field holds something like a web address (not 'none', 'n/a', a street)."""
    return clean_text(website).str.contains(_WEB_ADDRESS, regex=True).fillna(False).astype(bool)


def label_of(status: pd.Series) -> tuple[pd.Series, pd.Series, pd.Series]:
    """(label_role, label, exclusion) for each status: 1 in default or late, 0 up to date, NA excluded."""
    role = status.map(STATUS_ROLES).astype("string")
    label = role.map({"positive": 1.0, "negative": 0.0}).astype("float64")
    return role, label, status.map(EXCLUSION_REASONS).astype("string")


# --- checks ---------------------------------------------------------------------------------


def _require_layout(name: str, raw: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """The file with its headers read as CCNI's columns (``ingest.headers``: a required one missing fails
    at once); notes on headers matched loosely, optional columns absent and extra columns."""
    header = match_headers(name, list(raw.columns), COLUMNS, REQUIRED)
    raw = raw.rename(columns=header.renames) if header.renames else raw
    absent = [c for c in COLUMNS if c not in raw.columns]
    extra = [c for c in raw.columns if c not in COLUMNS]
    return raw, [*header.notes, *([f"optional columns absent (left blank): {', '.join(absent)}"] if absent else []),
                 *([f"extra columns ignored: {', '.join(extra)}"] if extra else [])]


def _row_schema(extract_date: pd.Timestamp) -> pa.DataFrameSchema:
    known = ", ".join(STATUS_ROLES)
    return pa.DataFrameSchema(
        {
            "reg_charity_number": pa.Column("string", pa.Check(
                lambda s: s.str.fullmatch(CHARITY_NUMBER_PATTERN),
                error=f"charity number does not match {CHARITY_NUMBER_PATTERN}"), nullable=False),
            "sub_charity_number": pa.Column("string", pa.Check(
                lambda s: s.str.fullmatch(r"\d+"), error="sub charity number is not a whole number"), nullable=False),
            "charity_name": pa.Column("string", nullable=False),
            "registered_date": pa.Column("datetime64[ns]", pa.Check(
                lambda s: s.le(extract_date), error=f"Date registered is after the extract date {extract_date.date()}"),
                nullable=False),
            "status": pa.Column("string", pa.Check.isin(list(STATUS_ROLES), error=f"Status is not one of {known}"),
                                nullable=False),
            "year_end": pa.Column("datetime64[ns]", nullable=True),
            **{name: pa.Column("float64", nullable=True) for name in MONEY.values()},
        },
        strict=False,
        metadata={"wide_check_columns": {}},
    )


def _parse(raw: pd.DataFrame) -> tuple[pd.DataFrame, list[pd.DataFrame]]:
    """Every raw row as typed values, and the values that could not be read."""
    blank = pd.Series("", index=raw.index, dtype="string")

    def field(name: str) -> pd.Series:
        return raw[name] if name in raw.columns else blank

    sub = normalise_charity_numbers(field("Sub charity number")).fillna("0")
    table = {"reg_charity_number": normalise_charity_numbers(field("Reg charity number")), "sub_charity_number": sub}
    problems = []
    for column, name in (("registered_date", "Date registered"), ("year_end", "Date for financial year ending")):
        table[column], invalid = parse_dates(field(name))
        problems.append(flag(raw, np.flatnonzero(invalid), name, _DATE_REASON))
    for name, column in MONEY.items():
        table[column], invalid = parse_numbers(field(name))
        problems.append(flag(raw, np.flatnonzero(invalid), name, "not a number"))
    table["status"] = normalise_status(field("Status"))
    table |= {column: clean_text(field(name)) for name, column in TEXT_FIELDS.items()}
    company = clean_text(field("Company number"))
    table["company_number"] = company.mask(company.str.fullmatch(r"0+").fillna(False))
    for name, column in LIST_FIELDS.items():
        table[column] = split_categories(field(name), LISTS[column][1])
    return pd.DataFrame(table, index=raw.index), problems


def _extract_date(path: Path, given) -> tuple[pd.Timestamp | None, str]:
    if given is not None:
        return pd.Timestamp(given).normalize(), "extract date given"
    named = re.search(r"(\d{4}-\d{2}-\d{2})", path.name)
    if named:
        return pd.Timestamp(named.group(1)), "extract date from the file name"
    return None, "extract date taken as the latest Date registered (none given or in the file name)"


# --- the project's tables ---------------------------------------------------------------------


def _register(snapshot: pd.DataFrame) -> pd.DataFrame:
    """The canonical register table: CCNI publishes no removal date, form or area, so those stay blank."""
    frame = pd.DataFrame({
        "charity_number": snapshot["charity_number"], "charity_name": snapshot["charity_name"],
        "registered_date": snapshot["registered_date"], "charity_status": snapshot["status"],
        "postcode": snapshot["postcode"], "purposes": snapshot["purposes"],
        "beneficiaries": snapshot["beneficiaries"], "activities": snapshot["activities"],
        "source_file": snapshot["source_file"], "source_row": snapshot["source_row"],
    })
    return frame.reindex(columns=list(REGISTER_DTYPES)).astype(REGISTER_DTYPES).reset_index(drop=True)


def _returns(snapshot: pd.DataFrame) -> pd.DataFrame:
    """Each charity's latest financials as one canonical return.

    The export gives no receipt date, so date_received is blank: these rows must not feed the
    filing features of an annual-return history, which read a blank as not received."""
    known = snapshot.loc[snapshot["year_end"].notna()]
    frame = pd.DataFrame({
        "charity_number": known["charity_number"], "year_end": known["year_end"],
        "income_gbp": known["income_gbp"], "expenditure_gbp": known["spending_gbp"],
        "charitable_activities_spending_gbp": known["charitable_spending_gbp"],
        # Costs of generating income and of governance: the nearest canonical column.
        "raising_funds_spending_gbp": known["income_generation_governance_gbp"],
    })
    return frame.reindex(columns=list(RETURNS_DTYPES)).astype(RETURNS_DTYPES).reset_index(drop=True)


def read(path: Path, *, extract_date: pd.Timestamp | str | None = None) -> RegulatorExtract:
    """Read a CCNI register export: canonical tables, the snapshot with labels, rejections and account."""
    path = Path(path)
    raw, encoding = read_raw_csv(path)
    raw, notes = _require_layout(path.name, raw)
    table, problems = _parse(raw)
    as_of, how = _extract_date(path, extract_date)
    if as_of is None:
        as_of = table["registered_date"].max() if table["registered_date"].notna().any() else pd.Timestamp.today()
    notes.append(f"{how}: {as_of.date()}")
    failures = schema_failures(_row_schema(as_of), table)
    problems += [flag(raw, g["position"].to_numpy(), _RAW_FIELD[c], g["reason"].to_numpy())
                 for c, g in failures.groupby("column", sort=False)]
    found = concat_problems(problems)
    clean = np.ones(len(raw), dtype=bool)
    clean[found["position"].to_numpy()] = False
    repeats = duplicates(table, raw, clean, CCNI_KEY, field="Reg charity number")
    found = concat_problems([found, repeats]).sort_values("position", kind="stable")
    clean[found["position"].to_numpy()] = False

    accepted = table.loc[clean]
    # A sub-charity is known by its charity's number and its own: "100234-2".
    with_sub = accepted["reg_charity_number"] + "-" + accepted["sub_charity_number"]
    numbers = accepted["reg_charity_number"].where(accepted["sub_charity_number"].eq("0"), with_sub)
    role, label, exclusion = label_of(accepted["status"])
    snapshot = accepted.assign(
        charity_number=numbers, label_role=role, label=label, exclusion=exclusion,
        postcode=accepted["public_address"].str.extract(_POSTCODE, expand=False).str.upper()
        .str.replace(r"\s+", "", regex=True).str.replace(r"(\d[A-Z]{2})$", r" \1", regex=True),
        website_listed=website_listed(accepted["website"]),
        source_file=path.name, source_row=np.flatnonzero(clean) + 1,
    )
    snapshot = snapshot.reindex(columns=list(SNAPSHOT_DTYPES)).astype(SNAPSHOT_DTYPES)
    snapshot = snapshot.sort_values("charity_number", kind="stable").reset_index(drop=True)
    negative = int((snapshot[list(MONEY.values())] < 0).any(axis=1).sum())
    notes += [f"{negative} rows with a negative amount kept (signed as reported)"] if negative else []
    unseen = {column: int((~snapshot[column].explode().dropna().isin(list(LISTS[column][1]))).sum())
              for column in LIST_FIELDS.values()}
    if any(unseen.values()):
        notes.append("items outside the CCNI vocabulary kept: "
                      + ", ".join(f"{c} {n}" for c, n in unseen.items() if n))
    positions = found["position"].to_numpy(dtype="int64")
    rejections = pd.DataFrame({
        "file": path.name, "row": positions + 1, "line": physical_lines(raw)[positions],
        **{k: found[k].to_numpy(dtype=object) for k in ("field", "value", "reason")},
    }).reindex(columns=list(REJECTIONS_DTYPES)).astype(REJECTIONS_DTYPES)
    account = {"file": path.name, "encoding": encoding, "rows_read": len(raw), "accepted": len(snapshot),
               "rejected": len(np.unique(positions)), "notes": "; ".join(notes)}
    if account["rows_read"] != account["accepted"] + account["rejected"]:
        raise RuntimeError(f"{path.name}: rows_read != accepted + rejected")
    return RegulatorExtract(dataset=NAME, extract_date=as_of, register=_register(snapshot),
                            returns=_returns(snapshot), snapshot=snapshot, rejections=rejections, account=account)
