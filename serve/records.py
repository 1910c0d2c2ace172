"""The charities a request carries, as they appear in the regulator's files.

Each field may be named by its file header ("Charity Number", "Total income") or by its canonical
name ("charity_number", "income_gbp"), and takes the same values as ingest reads (`serve.values`).
Other columns of the regulator's layouts are accepted and ignored; any other field is refused, so
a misspelt header cannot silently drop a fact. Row rules are ingest's own (`ingest.schemas`). A
refusal is a 422 that names the field and the reason.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from risk_model.domain import columns as C
from risk_model.domain.vocab import CASE_EVENTS
from risk_model.ingest.schemas import REGISTER_RULES, RETURN_KEY, RETURN_RULES
from risk_model.lists.written import FILE_HEADER
from serve.values import Amount, CharityNumber, Count, Day, Items, OptionalDay, Text, Total, code


class _Record(BaseModel):
    """A record from a regulator file: header or canonical names; the layout's other columns ignored."""

    model_config = ConfigDict(alias_generator=lambda name: FILE_HEADER.get(name, name), validate_by_name=True,
                              validate_by_alias=True, serialize_by_alias=False, extra="ignore",
                              str_strip_whitespace=True)
    layout_columns: ClassVar[tuple[str, ...]] = ()
    _known: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        cls._known = frozenset(cls.layout_columns) | set(cls.model_fields) | {
            f.alias for f in cls.model_fields.values() if f.alias}

    @model_validator(mode="before")
    @classmethod
    def _known_fields_only(cls, data: Any) -> Any:
        if isinstance(data, dict) and not cls._known.issuperset(data):
            unknown = [str(key) for key in data if key not in cls._known]
            raise ValueError(f"unknown field(s): {', '.join(map(repr, unknown))}")
        return data


def _check_rules(record: BaseModel, rules) -> None:
    """Refuse a record that breaks one of ingest's row rules, with ingest's words."""
    for rule in rules:
        if not rule.holds(getattr(record, rule.later), getattr(record, rule.earlier)):
            raise ValueError(rule.message)


class ReturnRecord(_Record):
    """One annual return (a row of returns.csv); the charity is the one it is sent with."""

    layout_columns = C.RETURNS_COLUMNS

    charity_number: CharityNumber | None = Field(None, description="Optional; must match the charity's.")
    year_end: Day
    date_received: OptionalDay = Field(None, description="Blank or null: not received.")
    income_gbp: Total = None
    expenditure_gbp: Total = None
    donations_legacies_income_gbp: Amount = None
    charitable_activities_income_gbp: Amount = None
    trading_income_gbp: Amount = None
    investments_income_gbp: Amount = None
    other_income_gbp: Amount = None
    raising_funds_spending_gbp: Amount = None
    charitable_activities_spending_gbp: Amount = None
    other_spending_gbp: Amount = None
    trustees: Count = None
    employees: Count = None
    volunteers: Count = None

    @model_validator(mode="after")
    def _rows_rules(self) -> ReturnRecord:
        _check_rules(self, RETURN_RULES)
        return self


class CaseEvent(_Record):
    """One case-log event (a row of case_log.csv)."""

    layout_columns = C.CASE_LOG_COLUMNS

    charity_number: CharityNumber | None = Field(None, description="Optional; must match the charity's.")
    date: Day
    event: Annotated[Literal[CASE_EVENTS], BeforeValidator(code)]
    # An extendable code, kept when unknown; ASCII like every code, so that two alike are one.
    outcome: Annotated[Annotated[str, Field(max_length=100, pattern=r"^[!-~]+$")] | None, BeforeValidator(code)] = None


class CharityRecord(_Record):
    """One charity: its register row, with its annual returns and case-log events."""

    layout_columns = C.FORMER_COLUMNS

    charity_number: CharityNumber
    charity_name: Annotated[str, Field(min_length=1, max_length=300)]
    registered_date: Day
    ceased_date: OptionalDay = None
    constitutional_form: Text = None
    geographical_spread: Text = None
    main_operating_location: Text = None
    regulatory_type: Text = None
    purposes: Items = []
    beneficiaries: Items = []
    activities: Items = []
    returns: list[ReturnRecord] = Field([], max_length=300)
    case_log: list[CaseEvent] = Field([], max_length=1000)

    @model_validator(mode="after")
    def _consistent(self) -> CharityRecord:
        _check_rules(self, REGISTER_RULES)
        for rows, what in ((self.returns, "return"), (self.case_log, "case-log event")):
            others = {r.charity_number for r in rows} - {None, self.charity_number}
            if others:
                raise ValueError(f"a {what} names charity {sorted(others)[0]}, not {self.charity_number}")
        repeat = RETURN_KEY.first_repeat([(self.charity_number, r.year_end) for r in self.returns])
        if repeat is not None:
            later, first = repeat
            raise ValueError(f"return {later + 1} is a duplicate of return {first + 1} (same {RETURN_KEY.what})")
        return self
