"""What the service serves: the champion, the register data it was pointed at, and the stored lists.

A `ServingState` never changes its champion or its current lists once built (it only caches, for
`POST /score`, the lists of other dates once they are stored). A reload builds a whole new one (new
champion loaded, its lists scored and stored) and then swaps one reference, so a request in flight
keeps the state, and the model, it started with. Each list's capacity is the champion's own
(`ReviewLists.capacities`), so a new champion brings its own. Lists of other dates are built by
jobs (`serve.internal.jobs`) through `ServingHolder.build_list`; at most `stored_lists` dates are
kept, the current one always among them.

The holder also remembers which version the registry's alias named when last read, so that the
service can say when it serves a champion the registry has moved on from (`stale`).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from risk_model.features import prepare_returns
from risk_model.ingest.folder import read_tables
from risk_model.ingest.tables import infer_extract_date
from risk_model.lists.membership import REVIEW_LISTS
from serve.internal.building import ListKey, Progress, evict, score_and_store
from serve.internal.db import Database, utc_now
from serve.internal.lists import Orderings, catalogued, warm
from serve.internal.memory import StoredList, load_stored
from serve.internal.registry import Champion, ChampionUnavailable, load_champion
from serve.schemas import ModelInfo, ReloadOut
from serve.settings import Settings


@dataclass(frozen=True, eq=False)
class RegisterData:
    """The regulator's data folder (raw files, or the tables `risk-model ingest` wrote), read once, with
    each charity's rows found by its number."""

    register: pd.DataFrame
    returns: pd.DataFrame
    case_log: pd.DataFrame
    extract_date: date
    first_registered: date
    _rows: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = field(repr=False)

    @classmethod
    def ingest(cls, data_dir: Path) -> RegisterData:
        tables = read_tables(data_dir)
        register, returns, case_log = tables.register, prepare_returns(tables.returns), tables.case_log
        empty = np.empty(0, dtype=np.intp)
        by_number = [t.groupby("charity_number", sort=False).indices for t in (register, returns, case_log)]
        rows = {n: (by_number[0][n], by_number[1].get(n, empty), by_number[2].get(n, empty)) for n in by_number[0]}
        return cls(register=register, returns=returns, case_log=case_log,
                   extract_date=infer_extract_date(register, returns, case_log).date(),
                   first_registered=register["registered_date"].min().date(), _rows=rows)

    def charity(self, number: str) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame] | None:
        """One charity's register row, returns and case-log events; None if it is not in the data."""
        rows = self._rows.get(number)
        if rows is None:
            return None
        return self.register.iloc[rows[0]], self.returns.iloc[rows[1]], self.case_log.iloc[rows[2]]

    def __contains__(self, number: str) -> bool:
        return number in self._rows

    def events_of(self, number: str) -> pd.DataFrame:
        """One charity's case-log events (none if it is not in the data)."""
        rows = self._rows.get(number)
        return self.case_log.iloc[rows[2] if rows is not None else []]

    def returns_of(self, number: str, fields: tuple[str, ...]) -> list[dict]:
        """One charity's returns, oldest first, as plain values (dates as dates, missing as None), read from
        the returns' own arrays: a charity page slices no frame."""
        rows = self._rows.get(number)
        if rows is None or not len(rows[1]):
            return []
        found: list[dict] = [{} for _ in rows[1]]
        for name in fields:
            picked = self.returns[name].to_numpy()[rows[1]]
            if picked.dtype.kind == "M":
                cells = [None if np.isnat(v) else v.astype("datetime64[D]").item() for v in picked]
            else:
                cells = [None if v != v else v for v in picked.tolist()]
            for row, cell in zip(found, cells, strict=True):
                row[name] = cell
        return found


@dataclass(frozen=True)
class ListOptions:
    n_reasons: int
    stored_lists: int = 5

    @classmethod
    def from_settings(cls, settings: Settings) -> ListOptions:
        return cls(settings.n_reasons, settings.stored_lists)


# Lists of other dates `POST /score` keeps in memory (each some tens of MB on a large register).
_OTHER_LISTS_IN_MEMORY = 2


@dataclass(eq=False)
class ServingState:
    """One champion over one set of register data, with its current list in memory."""

    champion: Champion
    data: RegisterData
    options: ListOptions
    current: StoredList
    orderings: Orderings = field(default_factory=Orderings, repr=False)
    _other_lists: OrderedDict[date, StoredList] = field(default_factory=OrderedDict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def as_of(self) -> date:
        return self.current.as_of

    @property
    def model(self) -> ModelInfo:
        return self.champion.info

    def key(self, as_of: date | None = None) -> ListKey:
        """Which lists: those of `as_of` (default: the current date) scored by the served version."""
        return ListKey(as_of or self.as_of, self.model.version)

    def stored(self, as_of: date) -> StoredList | None:
        """The list for a date if it is already in memory."""
        return self.current if as_of == self.current.as_of else self._other_lists.get(as_of)

    def listed(self, session, as_of: date) -> dict[str, int] | None:
        """How many charities each review list of a date holds; None when its lists are not stored."""
        if as_of == self.as_of:
            return {name: self.current.listed(name) for name in REVIEW_LISTS}
        entry = catalogued(session, as_of, self.model.version)
        return None if entry is None else dict(entry.listed)

    def forget(self, as_of: date) -> None:
        """Drop another date's lists from memory (they were evicted from the database)."""
        with self._lock:
            self._other_lists.pop(as_of, None)

    def scoring_list(self, db: Database, as_of: date) -> StoredList | None:
        """The list of a date in memory, read from the database if it is stored there (blocking: call from a
        thread); None when it is not stored (a job builds it)."""
        if (found := self.stored(as_of)) is not None:
            return found
        with self._lock:
            if (found := self.stored(as_of)) is None:
                with db.sessions() as session:
                    if catalogued(session, as_of, self.model.version) is None:
                        return None
                found = load_stored(db, as_of, self.model)
                if len(self._other_lists) >= _OTHER_LISTS_IN_MEMORY:
                    self._other_lists.popitem(last=False)
                self._other_lists[as_of] = found
        return found


def ensure_list(db: Database, champion: Champion, data: RegisterData, options: ListOptions, as_of: date,
                progress: Progress | None = None) -> StoredList:
    """Score and store the list for (as_of, champion version) if needed, and read it into memory."""
    store_list(db, champion, data, options, as_of, {ListKey(as_of, champion.info.version)}, progress)
    return load_stored(db, as_of, champion.info)


def store_list(db: Database, champion: Champion, data: RegisterData, options: ListOptions, as_of: date,
               kept: set[ListKey], progress: Progress | None = None) -> list[ListKey]:
    """Score and store a list if needed; then evict the oldest others beyond the bound, never one of `kept`
    (the lists evicted)."""
    extra = {} if progress is None else {"progress": progress}
    score_and_store(db, champion, data.register, data.returns, data.case_log, as_of, options.n_reasons, **extra)
    return evict(db, options.stored_lists, kept | {ListKey(as_of, champion.info.version)})


def build_state(db: Database, champion: Champion, data: RegisterData, options: ListOptions,
                as_of: date) -> ServingState:
    state = ServingState(champion=champion, data=data, options=options,
                         current=ensure_list(db, champion, data, options, as_of))
    with db.sessions() as session:
        warm(session, as_of, champion.info.version, state.orderings)
    return state


class ServingHolder:
    """Holds the current ServingState; a reload replaces it in one assignment.

    If the champion cannot be loaded (none registered, or its artifact missing or corrupt), the
    holder keeps what it served before, or nothing when it never had a model, and remembers why
    (`problem`), which `/health` reports until a reload succeeds.
    """

    def __init__(self, state: ServingState | None, data: RegisterData, options: ListOptions, as_of: date,
                 problem: str | None = None) -> None:
        self._state = state
        self._data, self._options, self._as_of = data, options, as_of
        self._problem = problem
        self._reloading = threading.Lock()
        self.registry_version: str | None = None
        self.registry_checked_at: datetime | None = None

    @property
    def current(self) -> ServingState | None:
        return self._state

    @property
    def problem(self) -> str | None:
        return self._problem

    def note_registry(self, version: str | None) -> None:
        """Remember which version the registry's champion alias names now (None: it names none)."""
        self.registry_version, self.registry_checked_at = version, utc_now()

    @property
    def stale(self) -> bool:
        """Whether the registry's champion, when last read, was another version than the one served."""
        return (self._state is not None and self.registry_checked_at is not None
                and self.registry_version != self._state.model.version)

    def build_list(self, db: Database, key: ListKey, progress: Progress) -> None:
        """A list job's work: score and store the lists of `key` with the champion served (blocking)."""
        state = self._state
        if state is None or state.model.version != key.version:
            served = "no model" if state is None else f"version {state.model.version}"
            raise RuntimeError(f"the service now serves {served}, not version {key.version}: ask for the date again")
        for evicted in store_list(db, state.champion, state.data, state.options, key.as_of, {state.key()}, progress):
            state.forget(evicted.as_of)

    def reload(self, db: Database, settings: Settings) -> ReloadOut:
        """Load the champion now registered; if it is a new version, score its list, then swap."""
        with self._reloading:
            before = self._state
            try:
                champion = load_champion(settings)
                changed = before is None or champion.info.version != before.model.version
                if changed:
                    self._state = build_state(db, champion, self._data, self._options, self._as_of)
                self.note_registry(champion.info.version)
            except ChampionUnavailable as exc:
                self._problem = str(exc)
                raise
            except Exception as exc:
                # A model that loads but cannot score its list is as unusable as one that does not load.
                self._problem = f"the champion could not score its list ({type(exc).__name__}: {exc})"
                raise ChampionUnavailable(self._problem) from exc
            self._problem = None
            return ReloadOut(previous_version=None if before is None else before.model.version,
                             version=self._state.model.version, changed=changed, as_of=self._state.as_of,
                             listed=len(self._state.current))


def start_serving(db: Database, settings: Settings) -> ServingHolder:
    """Ingest the data folder, load the champion and make sure its current list is stored.

    Without a loadable champion the service still starts, serving nothing and saying why.
    """
    data = RegisterData.ingest(settings.data_dir)
    as_of = settings.as_of or data.extract_date
    if not data.first_registered <= as_of <= data.extract_date:
        raise ValueError(f"RISK_SERVE_AS_OF {as_of} is outside the data: from {data.first_registered} (the first "
                         f"registration) to {data.extract_date} (the extract date)")
    options = ListOptions.from_settings(settings)
    try:
        champion = load_champion(settings)
    except ChampionUnavailable as exc:
        return ServingHolder(None, data, options, as_of, problem=str(exc))
    holder = ServingHolder(build_state(db, champion, data, options, as_of), data, options, as_of)
    holder.note_registry(champion.info.version)
    return holder
