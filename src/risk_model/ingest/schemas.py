"""pandera schemas for the canonical tables, and the translation of their failures into row reasons.

Parsing (``ingest.parsing``) decides whether a value can be read at all; these schemas decide whether a
readable value makes sense: required values present, charity numbers well formed, totals not
negative, counts whole, events from the case-log vocabulary, a return received after its year end.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import pandera.pandas as pa

from risk_model.domain import columns as C
from risk_model.domain import vocab

# OSCR numbers are SC and six digits; a seventh is allowed so that a register larger than OSCR's
# number space (a simulated world of millions of charities) keeps the same format.
DEFAULT_CHARITY_NUMBER_PATTERN = r"SC[0-9]{6,7}"  # ASCII digits: "\d" would take "０"
# A return received more than ten years after its year end is taken to be a keying error.
MAX_RECEIPT_LAG_DAYS = 3653

_STRING = "string"
_DATE = "datetime64[ns]"
_LIST_COLUMNS = ("purposes", "beneficiaries", "activities")


def _charity_number(pattern: str) -> pa.Column:
    return pa.Column(
        _STRING,
        pa.Check(lambda s: s.str.fullmatch(pattern), error=f"charity number does not match {pattern}"),
        nullable=False,
    )


def _is_list(series: pd.Series) -> pd.Series:
    return series.map(lambda v: isinstance(v, list)).astype(bool)


@dataclass(frozen=True)
class DateOrder:
    """A rule between two dates of one row: `later` is not before `earlier` (or, with `max_days`, not
    more than that many days after it). Blank dates pass. The one statement of the rule: ingest's
    schemas check whole frames with `holds_in`, the API's request bodies one row with `holds`."""

    later: str
    earlier: str
    message: str
    max_days: int | None = None

    def holds(self, later, earlier) -> bool:
        """The rule for one row's two dates (datetime.date or None)."""
        if later is None or earlier is None:
            return True
        return later >= earlier if self.max_days is None else (later - earlier).days <= self.max_days

    def holds_in(self, frame: pd.DataFrame) -> pd.Series:
        """The rule for each row of a frame of datetime64 columns."""
        later, earlier = frame[self.later], frame[self.earlier]
        passes = later.ge(earlier) if self.max_days is None else (later - earlier).le(pd.Timedelta(days=self.max_days))
        return later.isna() | earlier.isna() | passes


REGISTER_RULES: tuple[DateOrder, ...] = (
    DateOrder("ceased_date", "registered_date", "Ceased Date is before Registered Date"),
)
RETURN_RULES: tuple[DateOrder, ...] = (
    DateOrder("date_received", "year_end", "Date Received is before Year End"),
    DateOrder("date_received", "year_end", f"Date Received is more than {MAX_RECEIPT_LAG_DAYS} days after Year End",
              max_days=MAX_RECEIPT_LAG_DAYS),
)


@dataclass(frozen=True)
class UniqueKey:
    """Fields no two rows of a table may share. The one statement of the rule: ingest flags each
    later repeat as a duplicate of its first row (`checks.duplicates`), the API refuses a request
    body holding a repeat with `first_repeat`."""

    fields: tuple[str, ...]
    what: str

    def first_repeat(self, rows: list[tuple]) -> tuple[int, int] | None:
        """(row, earlier row) of the first row whose key tuple repeats an earlier one's, 0-based."""
        seen: dict[tuple, int] = {}
        for position, key in enumerate(rows):
            if key in seen:
                return position, seen[key]
            seen[key] = position
        return None


REGISTER_KEY = UniqueKey(("charity_number",), "Charity Number")
RETURN_KEY = UniqueKey(("charity_number", "year_end"), "Charity Number and Year End")


def _wide_check(check, column: str, error: str, registry: dict[str, str]) -> pa.Check:
    """A row-level check whose failures are reported against ``column``."""
    registry[error] = column
    return pa.Check(check, error=error)


def register_schema(
    charity_number_pattern: str = DEFAULT_CHARITY_NUMBER_PATTERN, *, former: bool
) -> pa.DataFrameSchema:
    """Schema for register rows: former charities must carry a ceased date and a removal category."""
    wide: dict[str, str] = {}
    text = {
        name: pa.Column(_STRING, nullable=True)
        for name in C.REGISTER_CANONICAL.values()
        if name not in ("charity_number", "registered_date", "ceased_date", *_LIST_COLUMNS)
    }
    return pa.DataFrameSchema(
        {
            **text,
            "charity_number": _charity_number(charity_number_pattern),
            "charity_name": pa.Column(_STRING, nullable=False),
            "registered_date": pa.Column(_DATE, nullable=False),
            "ceased_date": pa.Column(_DATE, nullable=not former),
            **{
                name: pa.Column(object, pa.Check(_is_list, error="not a list of items"))
                for name in _LIST_COLUMNS
            },
            "removal_category": pa.Column(
                _STRING,
                pa.Check.isin(vocab.REMOVAL_CATEGORIES, error="unknown removal category"),
                nullable=not former,
            ),
            "source_file": pa.Column(_STRING, nullable=False),
            "source_row": pa.Column("int64", pa.Check.ge(1)),
        },
        checks=[_wide_check(rule.holds_in, rule.later, rule.message, wide) for rule in REGISTER_RULES],
        strict=True,
        metadata={"wide_check_columns": wide},
    )


def returns_schema(charity_number_pattern: str = DEFAULT_CHARITY_NUMBER_PATTERN) -> pa.DataFrameSchema:
    """Schema for annual returns: a year end, any receipt on or after it, totals not negative."""
    wide: dict[str, str] = {}
    totals = ("income_gbp", "expenditure_gbp")
    money = {
        name: pa.Column(
            "float64",
            pa.Check.ge(0, error="a total cannot be negative") if name in totals else None,
            nullable=True,
        )
        for name in C.RETURNS_MONEY
    }
    counts = {
        name: pa.Column(
            "float64",
            [
                pa.Check.ge(0, error="a count cannot be negative"),
                pa.Check(lambda s: s.mod(1).eq(0), error="a count must be a whole number"),
            ],
            nullable=True,
        )
        for name in C.RETURNS_COUNTS
    }
    return pa.DataFrameSchema(
        {
            "charity_number": _charity_number(charity_number_pattern),
            "year_end": pa.Column(_DATE, nullable=False),
            # Blank means not received (yet): an outstanding return is kept, it is the signal.
            "date_received": pa.Column(_DATE, nullable=True),
            **money,
            **counts,
        },
        checks=[_wide_check(rule.holds_in, rule.later, rule.message, wide) for rule in RETURN_RULES],
        strict=True,
        metadata={"wide_check_columns": wide},
    )


def case_log_schema(charity_number_pattern: str = DEFAULT_CHARITY_NUMBER_PATTERN) -> pa.DataFrameSchema:
    """Schema for the case log: every row is a dated event from vocab.CASE_EVENTS."""
    return pa.DataFrameSchema(
        {
            "charity_number": _charity_number(charity_number_pattern),
            "date": pa.Column(_DATE, nullable=False),
            "event": pa.Column(
                _STRING,
                pa.Check.isin(
                    vocab.CASE_EVENTS, error=f"Event is not one of {', '.join(vocab.CASE_EVENTS)}"
                ),
                nullable=False,
            ),
            # Outcomes are extendable: an unknown outcome is kept.
            "outcome": pa.Column(_STRING, nullable=True),
        },
        strict=True,
        metadata={"wide_check_columns": {}},
    )


def schema_failures(schema: pa.DataFrameSchema, table: pd.DataFrame) -> pd.DataFrame:
    """Validate lazily and return one row per failing (position, column, reason); empty when valid."""
    empty = pd.DataFrame({"position": pd.Series(dtype="int64"), "column": [], "reason": []})
    try:
        schema.validate(table, lazy=True)
    except pa.errors.SchemaErrors as err:
        cases = err.failure_cases
    else:
        return empty
    if cases["index"].isna().any():
        # A failure without a row (wrong dtype, missing column) means ingest built the table wrongly.
        raise RuntimeError(f"canonical table does not fit its schema:\n{cases[cases['index'].isna()]}")
    wide_columns = (schema.metadata or {}).get("wide_check_columns", {})
    row_level = cases["schema_context"].eq("DataFrameSchema")
    column = cases["column"].where(~row_level, cases["check"].map(wide_columns))
    reason = cases["check"].where(cases["check"].ne("not_nullable"), "required value is blank")
    found = pd.DataFrame(
        {"position": cases["index"].astype("int64"), "column": column.astype(object), "reason": reason.astype(object)}
    )
    return found.drop_duplicates().sort_values("position", kind="stable").reset_index(drop=True)
