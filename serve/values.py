"""Values as the regulator's files write them, read into typed fields for the request bodies.

Dates as dd/mm/yyyy, yyyy-mm-dd or "31 March 2019"; money with or without "£" and thousands
commas; blanks as missing; OSCR's single-quoted lists or JSON lists. Every value is read by
ingest's own parsers (`ingest.parsing`), so a type refuses exactly what ingest would reject (a
negative total, a part of a trustee, a date pandas cannot hold), with the reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    model_validator,
)

from risk_model.domain.names import loose_key
from risk_model.ingest.parsing import (
    date_in_range,
    parse_date_value,
    parse_number_value,
    split_items,
    tidy_charity_number,
)
from risk_model.ingest.schemas import DEFAULT_CHARITY_NUMBER_PATTERN


def _blank_to_none(value: Any) -> Any:
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


def _parse_date(value: Any) -> Any:
    value = _blank_to_none(value)
    return parse_date_value(value) if isinstance(value, str) else value


def _in_range(value: date | None) -> date | None:
    # a date given as a JSON date rather than text is held to ingest's range too
    return value if value is None else date_in_range(value)


def _parse_amount(value: Any) -> Any:
    if value.__class__ is float or value.__class__ is int:
        return value
    value = _blank_to_none(value)
    if isinstance(value, bool):
        raise ValueError("not a number")
    return parse_number_value(value) if isinstance(value, str) else value


def _whole(value: float | None) -> float | None:
    if value is not None and value != int(value):
        raise ValueError("a count must be a whole number")
    return value


def _tidy_number(value: Any) -> Any:
    # Left as it is unless ASCII: upper-casing would make "ſc044454" "SC044454".
    if not isinstance(value, str) or not "".join(value.split()).isascii():
        return value
    return tidy_charity_number(value) or ""


def _items(value: Any) -> Any:
    value = _blank_to_none(value)
    if value is None:
        return []
    if isinstance(value, str):
        return split_items(value)
    return value


def code(value: Any) -> Any:
    """"Inquiry opened" -> inquiry_opened, as ingest normalises codes."""
    value = _blank_to_none(value)
    return "_".join(value.lower().replace("-", " ").split()) if isinstance(value, str) else value


def read_as(names: Mapping[str, str]) -> BeforeValidator:
    """Text read as the name it loosely equals (case, spacing, accents, "&" for "and": `domain.names.loose_key`)
    among `names` (each way of writing a name -> the name), so that "High" is "high". Any other text is left
    as it is, for the field's own check to refuse with the names it takes."""
    by_key = {loose_key(written): name for written, name in names.items()}
    return BeforeValidator(lambda value: by_key.get(loose_key(value), value) if isinstance(value, str) else value)


Day = Annotated[date, BeforeValidator(_parse_date), AfterValidator(_in_range)]
OptionalDay = Annotated[date | None, BeforeValidator(_parse_date), AfterValidator(_in_range)]
Amount = Annotated[Annotated[float, Field(allow_inf_nan=False)] | None, BeforeValidator(_parse_amount)]
Total = Annotated[Annotated[float, Field(ge=0, allow_inf_nan=False, description="A total cannot be negative.")] | None,
                  BeforeValidator(_parse_amount)]
Count = Annotated[Annotated[float, Field(ge=0, allow_inf_nan=False), AfterValidator(_whole)] | None,
                  BeforeValidator(_parse_amount)]
CharityNumber = Annotated[str, BeforeValidator(_tidy_number),
                          Field(pattern=f"^{DEFAULT_CHARITY_NUMBER_PATTERN}$", examples=["SC012345"])]
_CHARITY_NUMBER = TypeAdapter(CharityNumber)


def charity_number(text: str) -> str | None:
    """Text read as a charity number ("sc 044454" is SC044454), or None when it is not one."""
    try:
        return _CHARITY_NUMBER.validate_python(text)
    except ValidationError:
        return None


# An identifier is ASCII, so two that look alike are alike (no Cyrillic letter passing for a Latin one).
KEY_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._@+-]*$"
KeyName = Annotated[str, Field(min_length=1, max_length=100, pattern=KEY_NAME_PATTERN, examples=["j.smith"],
                               description="An API key holder's name: ASCII letters, digits and . _ @ + -")]
Text = Annotated[Annotated[str, Field(max_length=500)] | None, BeforeValidator(_blank_to_none)]
Items = Annotated[list[Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]],
                  BeforeValidator(_items), Field(max_length=60)]


class BlankIsAny(BaseModel):
    """A page's query as its form sends it: a field left empty means "any", as if it had not been sent."""

    @model_validator(mode="before")
    @classmethod
    def _blank_is_any(cls, values):
        if isinstance(values, dict):
            return {k: v for k, v in values.items() if not (isinstance(v, str) and not v.strip())}
        return values
