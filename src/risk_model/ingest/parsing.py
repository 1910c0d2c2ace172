"""From the regulator's raw files to typed values: reading CSVs, and vectorised value parsers.

``read_raw_csv`` is the only function here that touches a file: it reads a CSV (or the one CSV
inside a zip, in place) with every column as text, and records which encoding worked.

Every parser takes a Series of raw strings and returns the parsed Series, plus, where a value can
be malformed, a boolean mask marking the non-blank values that could not be parsed. Blank always
means "unknown", never "invalid". Work is done once per distinct value (``pd.factorize``), so a
20-million-row returns file with a few thousand distinct dates costs a few thousand parses.
"""

from __future__ import annotations

import codecs
import functools
import math
import re
import zipfile
import zlib
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import IO, Callable, Iterator

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc


class InputFileError(ValueError):
    """A regulator file that cannot be used at all: missing, empty, unreadable or lacking a column."""


# --- raw files ------------------------------------------------------------------------------

# utf-8-sig reads plain utf-8 too, dropping a byte-order mark when there is one.
_ENCODINGS = (("utf-8-sig", "utf-8"), ("cp1252", "cp1252"), ("latin-1", "latin-1"))
_BLOCK_BYTES = 1 << 24
# Larger than any file read whole (ingest reads big files in chunks of its own size).
_WHOLE_FILE_ROWS = 1 << 40


@contextmanager
def _open_csv(path: Path) -> Iterator[IO[bytes]]:
    if path.suffix.lower() != ".zip":
        with path.open("rb") as stream:
            yield stream
        return
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise InputFileError(f"{path.name}: not a readable zip archive, truncated or corrupt ({exc})") from exc
    with archive:
        members = [m for m in archive.namelist() if m.lower().endswith(".csv") and "__MACOSX" not in m]
        if len(members) != 1:
            raise InputFileError(f"{path.name}: expected one CSV inside the zip, found {members or 'none'}")
        with archive.open(members[0]) as stream:
            yield stream


def detect_encoding(path: Path) -> tuple[str, str]:
    """The first of utf-8, cp1252 and latin-1 that decodes the whole file: (codec, label)."""
    if not path.is_file():
        raise InputFileError(f"{path.name}: file not found at {path}")
    for codec, label in _ENCODINGS:
        decoder = codecs.getincrementaldecoder(codec)()
        try:
            with _open_csv(path) as stream:
                while block := stream.read(_BLOCK_BYTES):
                    decoder.decode(block)
                decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            continue
        except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
            raise InputFileError(f"{path.name}: the zip archive is truncated or corrupt ({exc})") from exc
        return codec, label
    raise AssertionError("latin-1 decodes any byte sequence")


def read_raw_csv_chunks(path: Path, rows: int) -> Iterator[tuple[pd.DataFrame, str]]:
    """Read a CSV or single-CSV zip `rows` data rows at a time, every column as text.

    Yields (chunk, encoding used); each chunk is indexed from 0. A file with a header and no data
    rows yields one empty chunk, so the caller still sees its columns.
    """
    codec, label = detect_encoding(path)
    with _open_csv(path) as stream:
        try:
            reader = pd.read_csv(stream, dtype=str, keep_default_na=False, encoding=codec, chunksize=rows)
            for raw in reader:
                if not isinstance(raw.index, pd.RangeIndex):
                    # pandas makes an index of a first data row that is longer than the header.
                    raise InputFileError(f"{path.name}: data row 1 has more fields than the header")
                raw.columns = [str(c).strip(" \t\u00a0\ufeff") for c in raw.columns]
                yield raw.reset_index(drop=True), label
        except pd.errors.EmptyDataError as exc:
            raise InputFileError(f"{path.name} is empty") from exc
        except pd.errors.ParserError as exc:
            raise InputFileError(f"{path.name}: not a well-formed CSV ({exc})") from exc
        except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
            raise InputFileError(f"{path.name}: the zip archive is truncated or corrupt ({exc})") from exc


def read_raw_csv(path: Path) -> tuple[pd.DataFrame, str]:
    """Read a CSV or single-CSV zip with every column as text; return (frame, encoding used)."""
    chunks = list(read_raw_csv_chunks(path, _WHOLE_FILE_ROWS))
    raw = chunks[0][0] if len(chunks) == 1 else pd.concat([c for c, _ in chunks], ignore_index=True)
    return raw, chunks[0][1]


def line_numbers(raw: pd.DataFrame, first_line: int = 2) -> tuple[np.ndarray, int]:
    """Physical line of each data row, and the line the next row starts on.

    The header is line 1, so the first data row of a file starts on line 2; quoted line breaks
    push later rows down. Pass the previous chunk's next line to number a later chunk.
    """
    breaks = np.zeros(len(raw), dtype="int64")
    for name in raw.columns:
        values = raw[name].astype("string")
        if values.str.contains("\n", regex=False).any():
            breaks += values.str.count("\n").fillna(0).to_numpy(dtype="int64")
    ends = np.cumsum(breaks)
    before = np.concatenate([[0], ends[:-1]]) if len(raw) else breaks
    lines = first_line + np.arange(len(raw), dtype="int64") + before
    return lines, first_line + len(raw) + int(ends[-1] if len(raw) else 0)


def physical_lines(raw: pd.DataFrame) -> np.ndarray:
    """Line of each data row of a whole file: the header is line 1."""
    return line_numbers(raw)[0]


# --- values ---------------------------------------------------------------------------------

# Tried in turn; the format most of a column's values follow is tried first.
DATE_FORMATS: tuple[str, ...] = (
    "%d/%m/%Y",
    "%d/%m/%Y %H:%M",
    "%d/%m/%Y %H:%M:%S",
    "%Y-%m-%d",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S",
    "%d %B %Y",
    "%d %b %Y",
)
DATE_FORMATS_TEXT = "dd/mm/yyyy, yyyy-mm-dd or d Month yyyy"

_BLANK_CHARS = " \t\r\n\u00a0\ufeff"


def clean_text(raw: pd.Series) -> pd.Series:
    """Trim whitespace (including non-breaking spaces) and turn blanks into NA, as a string Series."""
    text = raw.astype("string").str.strip(_BLANK_CHARS)
    return text.mask(text.eq(""))


def _per_distinct_value(text: pd.Series, parse: Callable[[pd.Series], pd.Series], missing) -> np.ndarray:
    """Apply ``parse`` to the distinct non-NA values of ``text`` and spread the results back."""
    codes, uniques = pd.factorize(text, use_na_sentinel=True)
    parsed = parse(pd.Series(uniques, dtype="string")).to_numpy()
    # NA has code -1, which picks the appended ``missing`` value.
    return np.append(parsed, np.array([missing], dtype=parsed.dtype))[codes]


# pandas nanosecond timestamps cover 1677-09-22 to 2262-04-11; anything outside is not a date here.
_EARLIEST = pd.Timestamp("1678-01-01")
_LATEST = pd.Timestamp("2262-01-01")


def _parse_dates_distinct(values: pd.Series) -> pd.Series:
    """Parse distinct date strings, trying each format on what is still unparsed."""
    result = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns]")
    sample = values.head(1000)
    order = sorted(
        DATE_FORMATS,
        key=lambda fmt: -pd.to_datetime(sample, format=fmt, errors="coerce").notna().sum(),
    )
    todo = values
    for fmt in order:
        if todo.empty:
            break
        parsed = pd.to_datetime(todo, format=fmt, errors="coerce")
        hit = parsed.notna() & parsed.ge(_EARLIEST) & parsed.lt(_LATEST)
        result.loc[hit.index[hit]] = parsed[hit].dt.normalize().astype("datetime64[ns]")
        todo = todo[~hit]
    return result


def parse_dates(raw: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Parse dates in any accepted format to midnight datetime64[ns]; return (dates, invalid mask)."""
    text = clean_text(raw)
    parsed = _per_distinct_value(text, _parse_dates_distinct, np.datetime64("NaT", "ns"))
    dates = pd.Series(parsed, index=raw.index, dtype="datetime64[ns]")
    return dates, text.notna().to_numpy() & dates.isna().to_numpy()


# --- one value at a time (the API's request bodies) -----------------------------------------------
# The same rules as the vectorised parsers above and below, for a value that arrives alone: the
# same formats and range of dates, the same grammar of numbers. tests/test_parsing.py checks that
# both read every value of a corpus alike.

_EARLIEST_DATE, _LATEST_DATE = _EARLIEST.date(), (_LATEST - pd.Timedelta(days=1)).date()
_NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def date_in_range(value: date) -> date:
    """The date, if ingest can hold it (pandas' nanosecond range); ValueError otherwise."""
    if not _EARLIEST_DATE <= value <= _LATEST_DATE:
        raise ValueError(f"date must be between {_EARLIEST_DATE} and {_LATEST_DATE}")
    return value


@functools.lru_cache(maxsize=8192)  # request bodies repeat the same dates (year ends, filing days); a date is immutable
def parse_date_value(text: str) -> date:
    """One date in an accepted format, as ingest reads it; ValueError naming the formats otherwise."""
    value = text.strip(_BLANK_CHARS)
    if _ISO_DATE.fullmatch(value):  # the common case in request bodies: one C call, not a strptime per format
        try:
            return date_in_range(date.fromisoformat(value))
        except ValueError:
            pass
    for fmt in DATE_FORMATS:
        try:
            parsed = datetime.strptime(value, fmt).date()
        except ValueError:
            continue
        return date_in_range(parsed)
    raise ValueError(f"not a valid date (expected {DATE_FORMATS_TEXT})")


def parse_number_value(text: str) -> float:
    """One amount or count, "£" and thousands commas dropped, as ingest reads it; ValueError otherwise."""
    value = text.replace("£", "").replace(",", "").strip(_BLANK_CHARS)
    number = float(value) if _NUMBER.fullmatch(value) else math.nan
    if not math.isfinite(number):
        raise ValueError("not a number")
    return number


def _to_float(values: pd.Series) -> pd.Series:
    numbers = pd.to_numeric(values, errors="coerce").astype("float64")
    return numbers.where(np.isfinite(numbers))


def parse_numbers(raw: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Parse amounts or counts, dropping "£" and thousands commas; return (float64, invalid mask)."""
    text = clean_text(raw.astype("string").str.replace("£", "", regex=False).str.replace(",", "", regex=False))
    numbers = pd.Series(_per_distinct_value(text, _to_float, np.nan), index=raw.index, dtype="float64")
    return numbers, text.notna().to_numpy() & numbers.isna().to_numpy()


_LIST_SEPARATOR = re.compile(r"'\s*,\s*'")


def split_items(text: str) -> list[str]:
    """One OSCR list ("'Education', 'Health'") as its items; text without the quotes is one item.
    Blank text (after trimming, as `clean_text` trims) is no items."""
    text = text.strip(_BLANK_CHARS)
    if not text:
        return []
    if len(text) >= 2 and text.startswith("'") and text.endswith("'"):
        parts = _LIST_SEPARATOR.split(text[1:-1])
    else:
        # Unquoted text cannot be split safely (items contain commas), so it is one item.
        parts = [text]
    return [part.strip() for part in parts if part.strip()]


def parse_multi_valued(raw: pd.Series) -> pd.Series:
    """Split OSCR's single-quoted, comma-joined lists into Python lists of items ([] when blank)."""
    codes, uniques = pd.factorize(clean_text(raw), use_na_sentinel=True)
    lists = [split_items(u) for u in uniques] + [[]]
    # A fresh list per row, so that editing one charity's list cannot change another's.
    return pd.Series([list(lists[c]) for c in codes], index=raw.index, dtype=object)


def is_in(values: pd.Series, known) -> np.ndarray:
    """Boolean mask of the strings in `values` found in `known` (NA is never found), hashed by Arrow."""
    value_set = pa.array(pd.Series(known, dtype="string").dropna().unique().astype(object), pa.string())
    found = pc.is_in(pa.array(values.astype(object).where(values.notna(), None), pa.string()), value_set=value_set)
    return found.to_numpy(zero_copy_only=False).astype(bool)


def tidy_charity_number(text: str) -> str | None:
    """One charity number with all whitespace removed, upper-cased; None when blank."""
    return "".join(text.split()).upper() or None


def normalise_charity_numbers(raw: pd.Series) -> pd.Series:
    """Remove all whitespace from charity numbers and upper-case them; blanks become NA."""
    codes, uniques = pd.factorize(raw.astype("string"), use_na_sentinel=True)
    tidy = np.array([tidy_charity_number(str(u)) for u in uniques] + [None], dtype=object)
    return pd.Series(tidy[codes], index=raw.index, dtype="string")


def normalise_codes(raw: pd.Series) -> pd.Series:
    """Lower-case a coded value and join its words with underscores ("Inquiry opened" -> inquiry_opened)."""
    return clean_text(raw).str.lower().str.replace(r"[\s\-]+", "_", regex=True)


# --- reasons for removal ---------------------------------------------------------------------

# Checked in order: a SCIO conversion note says "wound up" too, so conversions come first.
_REMOVAL_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "scio_conversion_reregistration",
        re.compile(
            r"\bs?cio\b|incorp|established to replace|which is a charitable company|re-?regist",
        ),
    ),
    (
        "merger_amalgamation_union",
        # "Union" alone is common in charity names, so only a leading "Union of" counts.
        re.compile(r"^unions? of\b|union of congregations|amalgamat|united with|\bmerge[dr]?\b|\bmerging\b"),
    ),
    (
        "requested_removal_s18",
        re.compile(r"requested (its )?removal|section\s*18\b|\bs\.?\s*18\b"),
    ),
    ("wound_up_dissolved", re.compile(r"wound|wind[\s\-/]*up|dissol|closed|ceased")),
)
_REASON_PREFIX = re.compile(r"^reason\s*[-:\u2013]\s*")
_QUOTE_CHARS = "\"'\u2018\u2019\u201c\u201d"


def normalise_removal_reason(text: object) -> str:
    """Map one free-text "Reason For Removal" to a category in vocab.REMOVAL_CATEGORIES."""
    if not isinstance(text, str):
        return "not_recorded"
    # str.split() also splits on non-breaking spaces, which OSCR's reasons contain.
    cleaned = " ".join(text.split()).strip(_QUOTE_CHARS + " ").lower()
    cleaned = _REASON_PREFIX.sub("", cleaned)
    if not any(ch.isalnum() for ch in cleaned):
        return "not_recorded"
    for category, pattern in _REMOVAL_RULES:
        if pattern.search(cleaned):
            return category
    return "other"


def normalise_removal_reasons(raw: pd.Series) -> pd.Series:
    """Vectorised normalise_removal_reason: one call per distinct reason, as a string Series."""
    codes, uniques = pd.factorize(raw.astype("string"), use_na_sentinel=True)
    categories = np.array([normalise_removal_reason(u) for u in uniques] + ["not_recorded"], dtype=object)
    return pd.Series(categories[codes], index=raw.index, dtype="string")
