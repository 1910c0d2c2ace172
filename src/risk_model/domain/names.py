"""Names as people write them, matched to the names the project knows: a loose key that ignores case,
spacing, accents, punctuation and "&" for "and", and the nearest known name for a "did you mean" hint.

    loose_key(" Perth  &  Kinross ") == loose_key("perth and kinross") == "perth and kinross"
    nearest("Recieved Date", ["Date Received", "Year End"]) == "Date Received"

The one matcher of column headers (``ingest.headers``), register vocabularies (``ingest.vocabulary``)
and misspelt hyperparameters (``config``).
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Iterable

# How close a name must be to a known one (difflib's ratio, 0-1) to be offered as a hint.
NEAR_CUTOFF = 0.6
_NOT_A_WORD = re.compile(r"[\W_]+")


def loose_key(name: str) -> str:
    """`name` without case, accents, punctuation or repeated spaces, "&" read as "and"."""
    text = unicodedata.normalize("NFKD", str(name))
    text = "".join(c for c in text if not unicodedata.combining(c)).casefold().replace("&", " and ")
    return " ".join(_NOT_A_WORD.sub(" ", text).split())


def _closeness(a: str, b: str) -> float:
    """How alike two loose keys are, in either word order ("recieved date" is close to "date received")."""
    in_order = difflib.SequenceMatcher(None, a, b).ratio()
    sorted_words = difflib.SequenceMatcher(None, " ".join(sorted(a.split())), " ".join(sorted(b.split()))).ratio()
    return max(in_order, sorted_words)


def nearest(name: str, known: Iterable[str], cutoff: float = NEAR_CUTOFF) -> str | None:
    """The known name closest to `name` (by loose key, either word order), or None if none is close."""
    key = loose_key(name)
    scored = [(_closeness(key, loose_key(k)), k) for k in known]
    best = max(scored, default=(0.0, None), key=lambda pair: pair[0])
    return best[1] if best[0] >= cutoff else None
