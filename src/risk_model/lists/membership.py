"""Which review list each charity is on at an as-of date.

A regulator already knows who has been complained about. Two lists serve it:

- **triage**: every concern received in the last 12 months that no inquiry has yet been opened
  on, ordered by the chance that an inquiry would substantiate it: the order in which to work
  the complaints it has;
- **proactive**: charities with no concern in the last 12 months and no open inquiry, ordered by
  risk: those nobody has complained about yet that most deserve a look.

The rest are on neither: a charity under an open inquiry is already being looked at, and one
whose recent concern has already been taken up by an inquiry, now closed, has just been.
Membership is read from the features (`open_inquiry`, `open_concern`, `concerns_last_12m`), so
the pipeline, the command line and the service place a charity on the same list.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

PROACTIVE, TRIAGE = "proactive", "triage"
REVIEW_LISTS: tuple[str, ...] = (PROACTIVE, TRIAGE)
UNDER_INQUIRY, RECENTLY_INQUIRED = "under inquiry", "recently inquired"
LIST_TITLES: dict[str, str] = {
    PROACTIVE: "proactive reviews",
    TRIAGE: "concern triage",
    UNDER_INQUIRY: "under an open inquiry",
    RECENTLY_INQUIRED: "recent concern already inquired into",
}
WHY_ON_LIST: dict[str, str] = {
    PROACTIVE: "No concern in the last 12 months and no open inquiry: ranked by the chance that a review "
               "would find a substantiated problem",
    TRIAGE: "A concern received in the last 12 months has not yet been taken up by an inquiry: ranked by "
            "the chance that an inquiry would substantiate it",
    UNDER_INQUIRY: "An inquiry is open: the charity is already being looked at, so it is on neither list",
    RECENTLY_INQUIRED: "Its concern of the last 12 months was taken up by an inquiry that has closed: on "
                       "neither list until a new concern arrives or 12 months pass",
}


def standing(name: str) -> str:
    """Where a charity stands, in words: "the concern triage list", or "neither list (under an open inquiry)"."""
    return f"the {LIST_TITLES[name]} list" if name in REVIEW_LISTS else f"neither list ({LIST_TITLES[name]})"


def review_list(features: pd.DataFrame) -> pd.Series:
    """The list each row of a feature frame is on (REVIEW_LISTS), or why it is on neither."""
    under_inquiry = features["open_inquiry"].fillna(0).to_numpy() > 0
    waiting = features["open_concern"].fillna(0).to_numpy() > 0
    quiet = features["concerns_last_12m"].fillna(0).to_numpy() == 0
    names = np.select([under_inquiry, waiting, quiet], [UNDER_INQUIRY, TRIAGE, PROACTIVE], RECENTLY_INQUIRED)
    return pd.Series(names, index=features.index, name="review_list", dtype=object)
