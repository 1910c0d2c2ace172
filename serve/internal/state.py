"""What the service serves: the champion, the register data it was pointed at, and the stored lists.

A `ServingState` never changes its champion or its current lists once built (it only caches the
lists of other dates as they are asked for). A reload builds a whole new one (new champion
loaded, its lists scored and stored) and then swaps one reference, so a request in flight keeps
the state, and the model, it started with. Each list's capacity is the champion's own
(`ReviewLists.capacities`), so a new champion brings its own.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from risk_model.features import prepare_returns
from risk_model.ingest.folder import read_tables
from risk_model.ingest.tables import infer_extract_date
from serve.internal.db import Database
from serve.internal.lists import StoredList, load_stored, score_and_store
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


@dataclass(frozen=True)
class ListOptions:
    n_reasons: int

    @classmethod
    def from_settings(cls, settings: Settings) -> ListOptions:
        return cls(settings.n_reasons)


@dataclass(eq=False)
class ServingState:
    """One champion over one set of register data, with its current list in memory."""

    champion: Champion
    data: RegisterData
    options: ListOptions
    current: StoredList
    _other_lists: dict[date, StoredList] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def as_of(self) -> date:
        return self.current.as_of

    @property
    def model(self) -> ModelInfo:
        return self.champion.info

    def stored(self, as_of: date) -> StoredList | None:
        """The list for a date if it is already in memory."""
        return self.current if as_of == self.current.as_of else self._other_lists.get(as_of)

    def list_for(self, db: Database, as_of: date) -> StoredList:
        """The list for a date, scored and stored first if it never was (blocking: call from a thread)."""
        if (found := self.stored(as_of)) is not None:
            return found
        with self._lock:
            if (found := self.stored(as_of)) is None:
                found = ensure_list(db, self.champion, self.data, self.options, as_of)
                if len(self._other_lists) >= 8:
                    self._other_lists.pop(next(iter(self._other_lists)))
                self._other_lists[as_of] = found
        return found


def ensure_list(db: Database, champion: Champion, data: RegisterData, options: ListOptions, as_of: date) -> StoredList:
    """Score and store the list for (as_of, champion version) if needed, and read it into memory."""
    score_and_store(db, champion, data.register, data.returns, data.case_log, as_of, options.n_reasons)
    return load_stored(db, as_of, champion.info)


def build_state(db: Database, champion: Champion, data: RegisterData, options: ListOptions,
                as_of: date) -> ServingState:
    return ServingState(champion=champion, data=data, options=options,
                        current=ensure_list(db, champion, data, options, as_of))


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

    @property
    def current(self) -> ServingState | None:
        return self._state

    @property
    def problem(self) -> str | None:
        return self._problem

    def reload(self, db: Database, settings: Settings) -> ReloadOut:
        """Load the champion now registered; if it is a new version, score its list, then swap."""
        with self._reloading:
            before = self._state
            try:
                champion = load_champion(settings)
                changed = before is None or champion.info.version != before.model.version
                if changed:
                    self._state = build_state(db, champion, self._data, self._options, self._as_of)
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
    return ServingHolder(build_state(db, champion, data, options, as_of), data, options, as_of)
