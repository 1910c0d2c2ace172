"""Data tests: OSCR's real former-charities download (6 July 2020) read through ingest."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

from risk_model.domain.vocab import PURPOSES, REMOVAL_CATEGORIES
from risk_model.ingest.folder import read_register_file

pytestmark = pytest.mark.data

SHARED_DATA = Path(os.environ.get("RISK_MODEL_SHARED_DATA", Path(__file__).parents[2] / "shared" / "data"))
FORMER_ZIP = SHARED_DATA / "oscr" / "CharityExport-Removed-06-Jul-2020.zip"
ROWS_IN_FILE = 25_257


@pytest.fixture(scope="module")
def former():
    if not FORMER_ZIP.is_file():
        pytest.skip(f"real OSCR extract not found at {FORMER_ZIP} (set RISK_MODEL_SHARED_DATA)")
    return read_register_file(FORMER_ZIP, former=True)


def test_every_row_is_accounted_for(former):
    register, rejections, account = former
    assert account["rows_read"] == ROWS_IN_FILE
    assert account["accepted"] + account["rejected"] == ROWS_IN_FILE
    assert len(register) == account["accepted"]
    assert rejections["row"].nunique() == account["rejected"]
    assert rejections["reason"].notna().all() and rejections["reason"].str.len().gt(0).all()
    assert account["encoding"] == "utf-8"


def test_former_charities_are_dated_and_unique(former):
    register, _, _ = former
    assert register["charity_number"].is_unique
    assert register["charity_number"].str.fullmatch(r"SC\d{6}").all()
    assert register["ceased_date"].notna().all()
    assert (register["ceased_date"] >= register["registered_date"]).all()
    # The bulk legacy removal: 19,686 charities ceased at 18:58 on 2 June 2012; the time is dropped.
    assert (register["ceased_date"] == pd.Timestamp("2012-06-02")).sum() >= 19_686
    assert (register["ceased_date"] == register["ceased_date"].dt.normalize()).all()


def test_multi_valued_purposes_are_split_into_known_items(former):
    register, _, _ = former
    items = register["purposes"].explode().dropna()
    assert len(items) > 10_000
    assert items.isin(list(PURPOSES)).all()
    assert register["purposes"].map(len).max() == len(PURPOSES)


def test_every_removal_reason_maps_to_a_category(former):
    register, _, _ = former
    categories = register["removal_category"]
    assert categories.notna().all()
    assert set(categories) <= set(REMOVAL_CATEGORIES)
    recorded = categories[categories.ne("not_recorded")]
    counts = recorded.value_counts()
    # Winding up is the large majority of recorded reasons; each other kind is present.
    assert counts["wound_up_dissolved"] > 0.8 * len(recorded)
    for category in ("requested_removal_s18", "merger_amalgamation_union", "scio_conversion_reregistration"):
        assert counts[category] > 0
    # "other" is only for notes that give no reason (e.g. "Update note"), a handful at most.
    assert counts.get("other", 0) < 0.02 * len(recorded)


def test_reasons_naming_a_kind_of_exit_are_not_left_as_other(former):
    register, _, _ = former
    other = register.loc[register["removal_category"].eq("other"), "removal_reason"].str.lower()
    for word in ("wound", "dissol", "section 18", "union of", "amalgamat", "scio", "incorp"):
        assert not other.str.contains(word, regex=False).any(), word
