"""One parser per kind of value: a value sent to the API is read exactly as ingest reads it from a
file, accepted or refused alike."""

from __future__ import annotations

import pandas as pd
import pytest
from pydantic import TypeAdapter, ValidationError

from risk_model.ingest.parsing import parse_date_value, parse_dates, parse_number_value, parse_numbers
from risk_model.ingest.schemas import RETURN_KEY
from serve.records import CharityRecord
from serve.values import Amount, CharityNumber, OptionalDay

DATES = [
    "31/03/2019", "1/4/2019", " 31/03/2019 ", "2019-03-31", "2019-3-31", "2019-03-31T00:00:00",
    "31/03/2019 10:15", "31 March 2019", "31 Mar 2019", "31 march 2019",
    "20190331", "2019-W13-7", "2019-090", "31/02/2021", "45/13/2021", "31/03/19", "March 31 2019",
    "1678-01-01", "1677-12-31", "2261-12-31", "2262-01-01", "1800-01-01", "2199-12-31", "0001-01-01",
    "yesterday", "３１/03/2019",
]
NUMBERS = [
    "12", " 12 ", "+5", "-5", ".5", "5.", "1e3", "1E-2", "-0", "£1,000", "£ 1,000.50", "1,000,000",
    "1_000", "0x10", "0b1", "inf", "-inf", "Infinity", "nan", "NaN", "1e400", "1 000", "--5", "five",
    "١٢", "１２", "12£",
]


def _scalar(parse, text):
    try:
        return parse(text)
    except ValueError:
        return None


@pytest.mark.parametrize("text", DATES)
def test_a_date_is_read_alone_as_ingest_reads_it_in_a_file(text):
    dates, invalid = parse_dates(pd.Series([text], dtype="string"))
    in_file = None if invalid[0] else dates.iloc[0].date()
    assert _scalar(parse_date_value, text) == in_file


@pytest.mark.parametrize("text", NUMBERS)
def test_a_number_is_read_alone_as_ingest_reads_it_in_a_file(text):
    numbers, invalid = parse_numbers(pd.Series([text], dtype="string"))
    in_file = None if invalid[0] else float(numbers.iloc[0])
    assert _scalar(parse_number_value, text) == in_file


def test_the_corpus_holds_values_both_accept_and_both_refuse():
    """The two tests above could pass by refusing everything: they do not."""
    dates = [_scalar(parse_date_value, t) for t in DATES]
    numbers = [_scalar(parse_number_value, t) for t in NUMBERS]
    assert 5 < sum(d is not None for d in dates) < len(DATES) - 5
    assert 5 < sum(n is not None for n in numbers) < len(NUMBERS) - 5


@pytest.mark.parametrize("text", ["20190331", "2019-W13-7", "1677-12-31", "2262-01-01"])
def test_the_api_refuses_the_dates_ingest_refuses(text):
    with pytest.raises(ValidationError):
        TypeAdapter(OptionalDay).validate_python(text)


@pytest.mark.parametrize("text", ["1_000", "Infinity", "١٢"])
def test_the_api_refuses_the_numbers_ingest_refuses(text):
    with pytest.raises(ValidationError):
        TypeAdapter(Amount).validate_python(text)


@pytest.mark.parametrize("text", ["SC０４４４５４", "SC04445４"])
def test_a_charity_number_takes_ascii_digits_only(text):
    with pytest.raises(ValidationError):
        TypeAdapter(CharityNumber).validate_python(text)
    assert TypeAdapter(CharityNumber).validate_python("sc 044454") == "SC044454"


def test_a_repeated_year_end_is_refused_by_the_api_in_ingest_words():
    returns = [{"Year End": "31/03/2020", "Total income": 1000}, {"Year End": "31/03/2021", "Total income": 900},
               {"Year End": "2020-03-31", "Total income": 800}]
    record = {"Charity Number": "SC900001", "Charity Name": "A Charity", "Registered Date": "01/04/2010",
              "returns": returns}
    with pytest.raises(ValidationError, match=r"return 3 is a duplicate of return 1 \(same Charity Number and "
                                              r"Year End\)"):
        CharityRecord.model_validate(record)
    # the same words ingest gives a file's repeated row (tests/test_bad_inputs.py checks that message)
    assert RETURN_KEY.what == "Charity Number and Year End"
    assert CharityRecord.model_validate(record | {"returns": returns[:2]}).returns[1].year_end.year == 2021
    assert RETURN_KEY.first_repeat([("a", 1), ("b", 1), ("a", 2), ("b", 1)]) == (3, 1)
    assert RETURN_KEY.first_repeat([("a", 1), ("a", 2)]) is None
