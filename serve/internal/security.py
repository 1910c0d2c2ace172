"""API keys, roles and what each role may do.

| action                          | analyst | case officer | auditor | admin |
|---------------------------------|:-------:|:------------:|:-------:|:-----:|
| score charities (POST /score)   |   yes   |     yes      |   yes   |  yes  |
| ranked lists (GET /rankings)    |   yes   |              |   yes   |  yes  |
| build the lists of another date |   yes   |              |         |  yes  |
| follow a list job               |   yes   |     yes      |   yes   |  yes  |
| charity pages                   |         |     yes      |   yes   |  yes  |
| record feedback                 |         |     yes      |         |  yes  |
| models and version              |   yes   |     yes      |   yes   |  yes  |
| reload the champion             |         |              |         |  yes  |
| the access log                  |         |              |   yes   |  yes  |

Auditors read everything and change nothing (they do not start list jobs: building a date's lists
evicts another date's). Keys are high-entropy random tokens, so a plain
sha256 of each is enough to store them safely (no salt or slow hash is needed, unlike passwords).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    analyst = "analyst"
    case_officer = "case_officer"
    auditor = "auditor"
    admin = "admin"


class Action(StrEnum):
    score = "score charities"
    rankings = "read ranked lists"
    build_lists = "build the lists of another date"
    list_jobs = "follow list jobs"
    charity = "read charity pages"
    feedback = "record feedback"
    models = "read model information"
    reload = "reload the champion model"
    access_log = "read the access log"


_EVERYONE = frozenset(Role)
PERMISSIONS: dict[Action, frozenset[Role]] = {
    Action.score: _EVERYONE,
    Action.rankings: frozenset({Role.analyst, Role.auditor, Role.admin}),
    Action.build_lists: frozenset({Role.analyst, Role.admin}),
    Action.list_jobs: _EVERYONE,
    Action.charity: frozenset({Role.case_officer, Role.auditor, Role.admin}),
    Action.feedback: frozenset({Role.case_officer, Role.admin}),
    Action.models: _EVERYONE,
    Action.reload: frozenset({Role.admin}),
    Action.access_log: frozenset({Role.auditor, Role.admin}),
}


def hash_api_key(key: str) -> str:
    """Hex sha256 of an API key: what the settings hold instead of the key."""
    return hashlib.sha256(key.encode()).hexdigest()


def new_api_key() -> str:
    """A fresh random API key (256 bits)."""
    return secrets.token_urlsafe(32)


@dataclass(frozen=True)
class Principal:
    """Who is calling: the key holder's name and role."""

    name: str
    role: Role


class Keyring:
    """Looks up the holder of a presented key by the key's hash."""

    def __init__(self, entries: Iterable) -> None:
        self._by_hash = {entry.sha256: Principal(entry.name, Role(entry.role)) for entry in entries}

    def holder(self, key: str) -> Principal | None:
        digest = hash_api_key(key)
        for known, principal in self._by_hash.items():
            if hmac.compare_digest(known, digest):
                return principal
        return None

    def __len__(self) -> int:
        return len(self._by_hash)
