"""POST /score: answer from the stored lists where the data sent are the data they were scored on,
and score the rest with the library, batched with whatever else is waiting; either way each charity
is placed on its own review list (or said to be on neither).

A stored answer is held as its JSON and written into the response as it is, so answering a charity
costs the same whatever the size of the register: a lookup by number and the fingerprint of the
records sent. A charity sent exactly as its stored record (the library's canonical record: canonical
names, ISO dates) is recognised by that fingerprint before the body is validated (`answer_as_stored`).
A date whose lists are not stored raises `ListNotStored` (the route answers with a job).
"""

from __future__ import annotations

import math
from collections.abc import Hashable
from datetime import date
from typing import Any

import numpy as np
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from pydantic import TypeAdapter, ValidationError

from risk_model.domain.bands import percentile_among, risk_band
from risk_model.lists.membership import REVIEW_LISTS, WHY_ON_LIST
from risk_model.lists.records import fingerprint, score_records
from risk_model.lists.written import as_the_library_writes
from serve.internal.batching import MicroBatcher
from serve.internal.building import ListKey
from serve.internal.db import Database
from serve.internal.memory import StoredList
from serve.internal.state import RegisterData, ServingState
from serve.records import CharityRecord
from serve.schemas import CharityScore, Reason, ScoreRequest
from serve.values import OptionalDay


class ListNotStored(LookupError):
    """The lists of the date asked for are not stored."""

    def __init__(self, key: ListKey) -> None:
        super().__init__(f"the lists as of {key.as_of} are not stored")
        self.key = key


def invalid(loc: tuple, message: str, value) -> RequestValidationError:
    """A 422 in FastAPI's own shape, for input that parses but cannot be used."""
    return RequestValidationError([{"type": "value_error", "loc": loc, "msg": message, "input": value}])


def check_as_of(data: RegisterData, as_of: date, loc: tuple) -> None:
    """Lists exist only for dates the data cover: from the first registration to the extract date."""
    if not data.first_registered <= as_of <= data.extract_date:
        raise invalid(loc, f"as_of must be between {data.first_registered} (the first registration) and "
                           f"{data.extract_date} (the data's extract date)", as_of.isoformat())


def _check_on_register(charities: list[CharityRecord], as_of: date) -> None:
    for i, charity in enumerate(charities):
        if charity.registered_date > as_of:
            raise invalid(("body", "charities", i, "Registered Date"),
                          f"the charity was registered after the as-of date {as_of}", str(charity.registered_date))
        if charity.ceased_date is not None and charity.ceased_date <= as_of:
            raise invalid(("body", "charities", i, "Ceased Date"),
                          f"the charity had left the register by the as-of date {as_of}", str(charity.ceased_date))


def _all_finite(value: Any) -> bool:
    """No float in plain JSON values is infinite or NaN. (The fingerprint's fast writer writes those as
    null, so a record holding one could pass for a stored record holding null; the service refuses them.)"""
    todo = [value]
    while todo:
        item = todo.pop()
        kind = item.__class__
        if kind is float:
            if not math.isfinite(item):
                return False
        elif kind is dict:
            todo.extend(item.values())
        elif kind is list:
            todo.extend(item)
    return True


_REQUEST_FIELDS = frozenset(ScoreRequest.model_fields)
_AS_OF = TypeAdapter(OptionalDay)


def _stored_answer(stored: StoredList, charity: dict) -> tuple[str, bytes] | None:
    """The charity's number and stored answer (as JSON) when its plain values are its stored record, written
    as the library writes it or as the files write it (`as_the_library_writes`); None otherwise."""
    found = _answer_for(stored, charity)
    if found is None:
        written = as_the_library_writes(charity)
        # Fingerprinted again only when renaming changed it (a changed record, the usual miss, is not).
        found = None if written is None or written == charity else _answer_for(stored, written)
    return found


def _answer_for(stored: StoredList, record: dict) -> tuple[str, bytes] | None:
    number = record.get("charity_number")
    answer = stored.answer_json(number, fingerprint(record)) if isinstance(number, str) else None
    return None if answer is None else (number, answer)


_NOT_IN_RECORDS = {"returns": {"__all__": {"charity_number"}}, "case_log": {"__all__": {"charity_number"}}}


def record_of(charity: CharityRecord) -> dict:
    """The library's record (`risk_model.lists.records.charity_record`) of a charity sent to the service.

    Validated fields already hold a record's values, so pydantic's own serialiser writes the record
    (dates as ISO text); only the library's ordering of returns and events is applied here.
    `tests/test_serve_scoring.py` checks this gives exactly `charity_record`'s result.
    """
    record = charity.model_dump(mode="json", exclude=_NOT_IN_RECORDS)
    record["returns"].sort(key=lambda row: row["year_end"])
    record["case_log"].sort(key=lambda row: (row["date"], row["event"], row["outcome"] or ""))
    return record


class Scorer:
    """Scores charities for POST /score."""

    def __init__(self, db: Database, max_batch_charities: int) -> None:
        self._db = db
        self._batcher = MicroBatcher(self._compute, max_batch_charities)

    async def start(self) -> None:
        await self._batcher.start()

    async def stop(self) -> None:
        await self._batcher.stop()

    @staticmethod
    def answer_as_stored(state: ServingState, sent: Any) -> tuple[list[str], bytes] | None:
        """The `ScoreResponse` (as JSON) for a body not yet validated, with the charities it names, when every
        charity in it is sent exactly as its stored record (by the record's fingerprint); None for any other
        body, which is then validated and scored (`score`).

        Such a record is one the service has validated already: every stored charity's record passes the
        request schema and is read back as itself (`tests/test_serve_scoring.py`), so validating it again
        could only accept it; a stored list holds only charities on the register at its date; and the
        answer is the one `score` gives. The same holds of the record written as the files write it
        (headers, dd/mm/yyyy), which `as_the_library_writes` renames and re-dates, changing nothing else: the
        schema reads a field by its header as by its name, and a date either way as that day (a test holds
        every stored record, so written, to the schema's reading of the record itself).
        Anything else falls through to validation: a record with any other difference (a layout's column the
        schema ignores, spaces it strips), a charity sent twice, a date whose lists are not in memory.
        """
        if not isinstance(sent, dict) or not _REQUEST_FIELDS.issuperset(sent):
            return None
        charities = sent.get("charities")
        if not isinstance(charities, list) or not charities:
            return None
        try:
            as_of = _AS_OF.validate_python(sent.get("as_of")) or state.as_of
        except ValidationError:
            return None
        stored = state.stored(as_of)
        if stored is None:
            return None
        numbers, results = [], []
        for charity in charities:
            found = _stored_answer(stored, charity) if isinstance(charity, dict) and _all_finite(charity) else None
            if found is None:
                return None
            numbers.append(found[0])
            results.append(found[1])
        if len(set(numbers)) < len(numbers):
            return None
        check_as_of(state.data, as_of, ("body", "as_of"))
        return numbers, stored.response_json(results)

    async def score(self, state: ServingState, request: ScoreRequest) -> bytes:
        """The `ScoreResponse` for the request, as JSON."""
        as_of = request.as_of or state.as_of
        check_as_of(state.data, as_of, ("body", "as_of"))
        _check_on_register(request.charities, as_of)
        stored = state.stored(as_of)
        if stored is None:
            stored = await run_in_threadpool(state.scoring_list, self._db, as_of)
        if stored is None:
            raise ListNotStored(state.key(as_of))
        results: list[bytes | None] = []
        to_compute: list[tuple[int, dict]] = []
        for i, charity in enumerate(request.charities):
            record = record_of(charity)
            results.append(stored.answer_json(charity.charity_number, fingerprint(record)))
            if results[-1] is None:
                to_compute.append((i, record))
        if to_compute:
            computed = await self._batcher.submit((state, stored), [record for _, record in to_compute])
            for (i, _), result in zip(to_compute, computed, strict=True):
                results[i] = result.model_dump_json().encode()
        return stored.response_json(results)

    @staticmethod
    def _compute(key: Hashable, records: list[dict]) -> list[CharityScore]:
        state: ServingState
        stored: StoredList
        state, stored = key
        scored = score_records(state.champion.model, records, stored.as_of, state.options.n_reasons)
        scores = scored.scores["score"].to_numpy(dtype=float)
        on = scored.scores["review_list"].to_numpy(dtype=object)
        # Each charity is placed on its own list's scale; one on neither list has no place on one.
        percentiles = np.full(len(records), np.nan)
        for name in REVIEW_LISTS:
            rows = np.flatnonzero(on == name)
            percentiles[rows] = percentile_among(scores[rows], stored.sorted_scores[name])
        risk_bands = risk_band(percentiles).to_numpy()
        reasons: dict[int, list[Reason]] = {}
        for row in scored.reasons.to_dict("records"):
            reasons.setdefault(int(row["record"]), []).append(Reason(
                direction=row["direction"], position=int(row["position"]), factor=row["factor"], label=row["label"],
                group=row["group"], contribution_log_odds=float(row["contribution_log_odds"]),
                contribution_points=float(row["contribution_points"]), sentence=row["sentence"], source=row["source"],
            ))
        open_inquiry = scored.scores["under_open_inquiry"].to_numpy(dtype=bool)
        listed = np.isin(on, REVIEW_LISTS)
        return [
            CharityScore(charity_number=record["charity_number"], charity_name=record["charity_name"],
                         review_list=on[i], why=WHY_ON_LIST[on[i]], score=float(scores[i]),
                         risk_band=risk_bands[i] if listed[i] else None,
                         rank_percentile=float(percentiles[i]) if listed[i] else None,
                         under_open_inquiry=bool(open_inquiry[i]), from_stored_list=False,
                         reasons=reasons.get(i, []))
            for i, record in enumerate(records)
        ]
