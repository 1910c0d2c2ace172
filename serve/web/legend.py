"""What the legend on the list and charity pages says: what a score is on each list, and where the bands start.

The bands are read from `risk_model.domain.bands` and the words for each list's target from the labels
the lists are judged on (`runs.label_of`), so the legend cannot drift from what the pages show.
"""

from __future__ import annotations

from dataclasses import dataclass

from risk_model.domain.bands import RISK_BANDS
from risk_model.lists.membership import PROACTIVE, REVIEW_LISTS
from serve.web.runs import label_of


@dataclass(frozen=True)
class Band:
    name: str
    floor: float  # rank percentile the band starts at
    share: float  # percent of a list in the band
    ceiling: float | None  # rank percentile the next band up starts at (None for the top band)


@dataclass(frozen=True)
class Legend:
    target: str  # what an inquiry would find, for a score to count
    bands: list[Band]


def bands() -> list[Band]:
    """The risk bands, top first, with where each starts and the share of a list it holds."""
    out, ceiling = [], None
    for name, floor in RISK_BANDS:
        out.append(Band(name, floor, (ceiling if ceiling is not None else 100.0) - floor, ceiling))
        ceiling = floor
    return out


def legend(review_list: str, label=None) -> Legend:
    """The legend of a list (a charity on neither list is scored by the proactive model); `label`: the
    list's target as the page already has it, else the default experiment's."""
    name = review_list if review_list in REVIEW_LISTS else PROACTIVE
    return Legend((label or label_of(name)).words, bands())
