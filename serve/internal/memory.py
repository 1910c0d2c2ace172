"""Stored lists held in memory: for `POST /score`, each charity's answer and the fingerprint of the data it
was scored on, and each review list's scores (where a charity scored afresh falls on its list); for
`/rankings`, each list's rows by rank. Everything is kept as JSON (bytes hold no references, so the
collector never walks them, however large the register) and written into responses as it is, so an
answer costs the same whatever the size of the register.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from datetime import date

import numpy as np
from sqlalchemy import select

from risk_model.lists.membership import REVIEW_LISTS, UNDER_INQUIRY, WHY_ON_LIST
from serve.internal.db import Database, ScoredCharity
from serve.internal.lists import EQUAL_FILTERS, RANKED_COLUMNS, item_json, purpose_token
from serve.schemas import CharityScore, ModelInfo, RankingsQuery


class StoredAnswers(Mapping[str, tuple[str, CharityScore]]):
    """Each stored charity's fingerprint and answer, the answer kept as its JSON (bytes hold no references,
    so the collector never walks them, however large the register): read back as a `CharityScore`."""

    def __init__(self, answers: dict[str, tuple[str, bytes]]) -> None:
        self._answers = answers

    def __getitem__(self, number: str) -> tuple[str, CharityScore]:
        sha, answer = self._answers[number]
        return sha, CharityScore.model_validate_json(answer)

    def __iter__(self) -> Iterator[str]:
        return iter(self._answers)

    def __len__(self) -> int:
        return len(self._answers)

    def json_of(self, number: str, input_sha256: str) -> bytes | None:
        """The answer's JSON, if the data sent are the data the charity was scored on."""
        entry = self._answers.get(number)
        return entry[1] if entry is not None and entry[0] == input_sha256 else None


class CodedColumn:
    """A filtered column's values in rank order, each held as a code: finding the rows equal to a value
    compares integers, a hundredth of the cost of comparing as many strings."""

    def __init__(self, values: list) -> None:
        self._code_of: dict = {}
        self.codes = np.fromiter((self._code_of.setdefault(v, len(self._code_of)) for v in values), dtype=np.int32,
                                 count=len(values))

    def equal(self, value) -> np.ndarray:
        """Which rows hold the value (True at rank - 1)."""
        code = self._code_of.get(value)
        return self.codes == code if code is not None else np.zeros(len(self.codes), dtype=bool)


class StoredList:
    """The stored lists of a date in memory: each charity's answer and the fingerprint of its data, each
    review list's scores (where a charity scored afresh falls on its list), and each list's rows (as a
    `RankedCharity`'s JSON) in rank order."""

    def __init__(self, as_of: date, model: ModelInfo, entries: StoredAnswers, sorted_scores: dict[str, np.ndarray],
                 ranked: dict[str, list[bytes]], filtered: dict[str, dict[str, CodedColumn]],
                 purposes: dict[str, list[str | None]]) -> None:
        self.as_of = as_of
        self.model = model
        self.entries = entries
        self.sorted_scores = sorted_scores
        self.ranked = ranked
        # Each list's filtered columns (the column's key -> its values in rank order), and its rows' purposes.
        self.filtered = filtered
        self.purposes = purposes
        self._purpose_rows: dict[tuple[str, str], np.ndarray] = {}
        head = json.dumps({"as_of": as_of.isoformat(), "model": model.model_dump(mode="json")}, separators=(",", ":"))
        self._response_head = head[:-1].encode() + b',"results":['

    def __len__(self) -> int:
        """Charities on the review lists (both together)."""
        return sum(len(scores) for scores in self.sorted_scores.values())

    def listed(self, name: str) -> int:
        """Charities on one review list."""
        return len(self.sorted_scores[name])

    def answer_json(self, number: str, input_sha256: str) -> bytes | None:
        """The stored answer for a charity, as JSON, if the data sent are the data it was scored on."""
        return self.entries.json_of(number, input_sha256)

    def matching(self, review_list: str, q: RankingsQuery) -> np.ndarray:
        """Which rows of a list pass the query's filters (True at rank - 1), as `lists.matching_rows` selects
        them from the database."""
        columns = self.filtered[review_list]
        passes = np.ones(self.listed(review_list), dtype=bool)
        for name, column in EQUAL_FILTERS.items():
            if getattr(q, name) is not None:
                passes &= columns[column.key].equal(getattr(q, name))
        if q.purpose is not None:
            passes &= self._holding(review_list, q.purpose)
        return passes

    def _holding(self, review_list: str, purpose: str) -> np.ndarray:
        # A list's rows holding a purpose, found once (a loop over every row) and kept: every order of
        # every filter with that purpose asks again. Purposes are a fixed few (`schemas.Purpose`), so these
        # are bounded.
        key = (review_list, purpose)
        if key not in self._purpose_rows:
            token = purpose_token(purpose)
            held = self.purposes[review_list]
            self._purpose_rows[key] = np.fromiter((bool(p) and token in p for p in held), dtype=bool,
                                                  count=len(held))
        return self._purpose_rows[key]

    def response_json(self, results: list[bytes]) -> bytes:
        """A `ScoreResponse` for the list's date and model, written from its results' JSON, so that stored
        answers are not serialised again (nor the head, the same for every response)."""
        return self._response_head + b",".join(results) + b"]}"

    def rows_json(self, review_list: str, ranks: list[int]) -> list[bytes]:
        """Rows of one list, by their ranks, as JSON."""
        rows = self.ranked[review_list]
        return [rows[rank - 1] for rank in ranks]


# The columns a list's rows must equal a value of in memory (`StoredList.matching`).
_FILTERED_KEYS = tuple(column.key for column in EQUAL_FILTERS.values())


def load_stored(db: Database, as_of: date, model: ModelInfo) -> StoredList:
    """The stored lists of a date and model version, read into memory."""
    query = select(*RANKED_COLUMNS, ScoredCharity.reasons, ScoredCharity.input_sha256).where(
        ScoredCharity.as_of == as_of, ScoredCharity.model_version == model.version)
    answers: dict[str, tuple[str, bytes]] = {}
    ranked: dict[str, list[tuple[int, float, bytes, tuple, str | None]]] = {name: [] for name in REVIEW_LISTS}
    with db.sessions() as session:
        for row in session.execute(query):
            answer = CharityScore(
                charity_number=row.charity_number, charity_name=row.charity_name, review_list=row.review_list,
                why=WHY_ON_LIST[row.review_list], score=row.score, risk_band=row.risk_band,
                rank_percentile=row.rank_percentile, under_open_inquiry=row.review_list == UNDER_INQUIRY,
                from_stored_list=True, reasons=row.reasons,
            )
            answers[row.charity_number] = (row.input_sha256, answer.model_dump_json().encode())
            if row.review_list in ranked:
                ranked[row.review_list].append((row.rank, row.score, item_json(row),
                                                tuple(getattr(row, key) for key in _FILTERED_KEYS), row.purposes))
    for rows in ranked.values():
        rows.sort(key=lambda r: r[0])
    filtered = {name: {key: CodedColumn([r[3][j] for r in rows]) for j, key in enumerate(_FILTERED_KEYS)}
                for name, rows in ranked.items()}
    return StoredList(as_of, model, StoredAnswers(answers),
                      {name: np.sort(np.asarray([r[1] for r in rows], dtype=float)) for name, rows in ranked.items()},
                      {name: [r[2] for r in rows] for name, rows in ranked.items()}, filtered,
                      {name: [r[4] for r in rows] for name, rows in ranked.items()})


