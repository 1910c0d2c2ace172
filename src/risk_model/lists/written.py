"""A charity's record written two ways: as the library writes it (`records.charity_record`: canonical names,
dates as yyyy-mm-dd) and as the regulator's files write the same facts (each column's header, dates as
dd/mm/yyyy), for its register row, its returns and its case-log events alike.

    {"charity_number": "SC000001", "registered_date": "2001-04-30", "returns": [{"year_end": "2020-03-31"}]}
    {"Charity Number": "SC000001", "Registered Date": "30/04/2001", "returns": [{"Year End": "31/03/2020"}]}
"""

from __future__ import annotations

import re
from typing import Any

from risk_model.domain import columns as C
from risk_model.lists.records import DATE_FIELDS

# Each canonical name -> the header a file writes it under (one for each name: the register's, the returns'
# and the case log's headers for the same field are one), and back.
FILE_HEADER: dict[str, str] = {canonical: raw for raw, canonical in
                               (C.REGISTER_CANONICAL | C.RETURNS_CANONICAL | C.CASE_LOG_CANONICAL).items()}
_CANONICAL_NAME = {raw: canonical for canonical, raw in FILE_HEADER.items()}
# The fields of a record that hold records of their own.
RECORD_LISTS = ("returns", "case_log")
_DAY_FIRST = re.compile(r"(\d\d)/(\d\d)/(\d{4})")


def as_the_library_writes(record: dict) -> dict | None:
    """A record's plain values (parsed JSON, not validated) under the names and in the date format the library
    writes: each header as its canonical name and each date written exactly dd/mm/yyyy as yyyy-mm-dd, in its
    returns and events too. None when two keys name one field. Nothing else is changed: a value that is not a
    date so written stays as it is."""
    written: dict = {}
    for key, value in record.items():
        name = _CANONICAL_NAME.get(key, key)
        if name in written:
            return None
        if name in DATE_FIELDS and isinstance(value, str) and (day := _DAY_FIRST.fullmatch(value)):
            value = f"{day[3]}-{day[2]}-{day[1]}"
        elif name in RECORD_LISTS and isinstance(value, list):
            value = [as_the_library_writes(item) if isinstance(item, dict) else item for item in value]
            if None in value:
                return None
        written[name] = value
    return written


def as_the_files_write(record: dict) -> dict:
    """A record as the library writes it, written as the regulator's files write the same facts (each field
    under its header, each date as dd/mm/yyyy); `as_the_library_writes` undoes it."""
    def value(name: str, v: Any) -> Any:
        if name in DATE_FIELDS and isinstance(v, str) and v:
            return "/".join(reversed(v.split("-")))
        if name in RECORD_LISTS and isinstance(v, list):
            return [as_the_files_write(item) for item in v]
        return v
    return {FILE_HEADER.get(name, name): value(name, v) for name, v in record.items()}
