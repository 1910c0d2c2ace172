"""Exit base rates: tiny registers with known answers, the command, and OSCR's real former-charities file."""

from __future__ import annotations

import csv

import numpy as np
import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from risk_model.cli import ccni as cli_ccni
from risk_model.describe.exits import HEADER, NOT_RECORDED, SHARE_COLUMNS, exit_base_rates
from risk_model.domain.columns import FORMER_COLUMNS
from risk_model.ingest.folder import read_register_file
from tests.support.worlds import shared_data_dir

UNINC = "Unincorporated association"
SCIO = "SCIO (Scottish Charitable Incorporated Organisation)"
FORMER_ZIP = shared_data_dir() / "oscr" / "CharityExport-Removed-06-Jul-2020.zip"


def _register(*rows: tuple) -> pd.DataFrame:
    """(form, area, ceased?, removal_category) per charity."""
    return pd.DataFrame({
        "charity_number": [f"SC{i:06d}" for i in range(1, len(rows) + 1)],
        "constitutional_form": pd.Series([r[0] for r in rows], dtype="string"),
        "main_operating_location": pd.Series([r[1] for r in rows], dtype="string"),
        "ceased_date": [pd.Timestamp("2015-01-01") if r[2] else pd.NaT for r in rows],
        "removal_category": pd.Series([r[3] for r in rows], dtype="string"),
    })


FORMER_ONLY = _register(
    (UNINC, "Fife", True, "wound_up_dissolved"),
    (UNINC, "Fife", True, "wound_up_dissolved"),
    (UNINC, "Highland", True, "merger_amalgamation_union"),
    (SCIO, "Fife", True, "requested_removal_s18"),
    (None, None, True, "not_recorded"),
)


def _row(report, dimension: str, group: str) -> pd.Series:
    table = report.table
    return table.loc[table["dimension"].eq(dimension) & table["group"].eq(group)].iloc[0]


def test_former_charities_alone_give_counts_and_shares_without_rates():
    report = exit_base_rates(FORMER_ONLY)
    assert report.header == HEADER and "NOT of misconduct" in report.header
    assert any("former charities only" in note for note in report.notes)
    assert report.table["exit_rate"].isna().all()
    fife = _row(report, "main operating location", "Fife")
    assert (fife["charities"], fife["exits"], fife["exits_reason_recorded"]) == (3, 3, 3)
    assert fife["share_wound_up_dissolved"] == pytest.approx(2 / 3)
    assert fife["share_requested_removal_s18"] == pytest.approx(1 / 3)
    assert fife["share_merger_amalgamation_union"] == 0
    uninc = _row(report, "constitutional form", UNINC)
    assert uninc["charities"] == 3 and uninc["share_merger_amalgamation_union"] == pytest.approx(1 / 3)
    blank = _row(report, "constitutional form", NOT_RECORDED)
    assert blank["charities"] == 1 and blank["share_not_recorded"] == 1 and blank["exits_reason_recorded"] == 0
    overall = _row(report, "all", "all")
    assert overall["charities"] == 5 and overall["share_wound_up_dissolved"] == pytest.approx(0.4)


def test_current_charities_turn_counts_into_rates():
    register = pd.concat([FORMER_ONLY, _register((UNINC, "Fife", False, None), (SCIO, "Moray", False, None))],
                         ignore_index=True)
    report = exit_base_rates(register)
    assert not any("former charities only" in note for note in report.notes)
    fife = _row(report, "main operating location", "Fife")
    assert (fife["charities"], fife["exits"], fife["exit_rate"]) == (4, 3, 0.75)
    # Shares are of exits, so the current charity changes none of them.
    assert fife["share_wound_up_dissolved"] == pytest.approx(2 / 3)
    moray = _row(report, "main operating location", "Moray")
    assert moray["exit_rate"] == 0 and moray[list(SHARE_COLUMNS)].isna().all()
    assert _row(report, "all", "all")["exit_rate"] == pytest.approx(5 / 7)


def test_shares_of_each_group_with_exits_sum_to_one():
    report = exit_base_rates(FORMER_ONLY, pd.Series([100.0, 30_000.0, np.nan, 2e6, 0.0]))
    shares = report.table[list(SHARE_COLUMNS)]
    assert np.allclose(shares.sum(axis=1), 1.0)
    for dimension, group in report.table.groupby("dimension"):
        assert group["charities"].sum() == 5, dimension


def test_income_band_is_reported_only_when_income_is_known():
    without = exit_base_rates(FORMER_ONLY)
    assert "income band" not in set(without.table["dimension"])
    assert any("no 'Most recent year income'" in note for note in without.notes)
    report = exit_base_rates(FORMER_ONLY, pd.Series([100.0, 30_000.0, np.nan, 2e6, 0.0]))
    bands = report.table.loc[report.table["dimension"].eq("income band")].set_index("group")["charities"]
    assert bands.to_dict() == {"up to 25k": 2, "25k-100k": 1, "1m-5m": 1, NOT_RECORDED: 1}
    assert list(bands.index) == ["up to 25k", "25k-100k", "1m-5m", NOT_RECORDED]
    # A canonical table that carries the income itself needs nothing passed in.
    carried = exit_base_rates(FORMER_ONLY.assign(most_recent_income_gbp=[100.0, 30_000.0, np.nan, 2e6, 0.0]))
    pd.testing.assert_frame_equal(carried.table, report.table)


def test_groups_are_ordered_largest_first_with_not_recorded_last():
    report = exit_base_rates(FORMER_ONLY)
    forms = report.table.loc[report.table["dimension"].eq("constitutional form"), "group"].tolist()
    assert forms == [UNINC, SCIO, NOT_RECORDED]


def _former_csv(path) -> None:
    def line(number, name, form, area, reason, income):
        values = dict.fromkeys(FORMER_COLUMNS, "")
        values.update({"Charity Number": number, "Charity Name": name, "Registered Date": "01/01/2001",
                       "Ceased Date": "02/06/2012 18:58", "Reason For Removal": reason,
                       "Constitutional Form": form, "Main Operating Location": area,
                       "Most recent year income": income})
        return [values[c] for c in FORMER_COLUMNS]

    with path.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream)
        writer.writerow(FORMER_COLUMNS)
        writer.writerow(line("SC000001", "Alpha", UNINC, "Fife", "Wound up", "1200"))
        writer.writerow(line("SC000002", "Beta", UNINC, "Fife", "Requested removal under section 18", ""))
        writer.writerow(line("SC000003", "Gamma", SCIO, "Moray", "Amalgamated with another charity", "30000"))


def test_exits_command_prints_the_header_and_writes_csv(tmp_path):
    former = tmp_path / "former.csv"
    _former_csv(former)
    app = typer.Typer()
    app.command("exits")(cli_ccni.exits)
    # A second command keeps Typer in sub-command mode, as on the real app.
    app.command("score-ccni")(cli_ccni.score_ccni)
    result = CliRunner().invoke(app, ["exits", str(former), "--out", str(tmp_path / "out")], env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output + repr(result.exception)
    assert "NOT of misconduct" in result.output
    table = pd.read_csv(tmp_path / "out" / "exit_base_rates.csv")
    fife = table.loc[table["dimension"].eq("main operating location") & table["group"].eq("Fife")].iloc[0]
    assert fife["charities"] == 2 and fife["share_wound_up_dissolved"] == 0.5
    assert fife["share_requested_removal_s18"] == 0.5
    bands = table.loc[table["dimension"].eq("income band")].set_index("group")["charities"].to_dict()
    assert bands == {"up to 25k": 1, "25k-100k": 1, NOT_RECORDED: 1}
    notes = (tmp_path / "out" / "exit_base_rates_notes.txt").read_text()
    assert notes.startswith(HEADER)


@pytest.mark.data
def test_real_former_charities_file():
    if not FORMER_ZIP.is_file():
        pytest.skip(f"real OSCR extract not found at {FORMER_ZIP} (set RISK_MODEL_SHARED_DATA)")
    register, _, account = read_register_file(FORMER_ZIP, former=True)
    report = exit_base_rates(register)
    table = report.table
    for dimension, group in table.groupby("dimension"):
        assert group["charities"].sum() == account["accepted"], dimension
    assert np.allclose(table[list(SHARE_COLUMNS)].sum(axis=1), 1.0)
    # Most rows before 2013 carry no form, area or reason: they are counted, not dropped.
    assert _row(report, "constitutional form", NOT_RECORDED)["charities"] > 10_000
    overall = _row(report, "all", "all")
    assert overall["exits"] == account["accepted"] and overall["share_not_recorded"] > 0.8
    recorded = table.loc[table["dimension"].eq("all"), "exits_reason_recorded"].iloc[0]
    assert recorded == (register["removal_category"] != "not_recorded").sum()
