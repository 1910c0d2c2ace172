"""The simulated regulator: file contract, OSCR formats, extract-date rules and the hidden risk.

Small worlds keep the file fast; scale figures are checked on a 5,000-charity world and scaled
to the default 25,000.
"""

from __future__ import annotations

import csv

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from risk_model.domain.columns import (
    CASE_LOG_COLUMNS,
    FORMER_COLUMNS,
    INCOME_BREAKDOWN,
    LATENT_RISK_COLUMNS,
    REGISTER_COLUMNS,
    RETURN_DUE_MONTHS,
    RETURNS_COLUMNS,
    SPENDING_BREAKDOWN,
)
from risk_model.domain.vocab import (
    ACTIVITIES,
    BENEFICIARIES,
    CASE_EVENTS,
    CASE_OUTCOMES,
    CONSTITUTIONAL_FORMS,
    GEOGRAPHICAL_SPREADS,
    MAIN_OPERATING_LOCATIONS,
    PURPOSES,
    REGULATORY_TYPES,
)
from risk_model.simulate.misconduct import MISCONDUCT_COLUMNS
from risk_model.simulate.words import OBJECTIVES
from risk_model.simulate.world import FILE_NAMES, SimulationConfig, simulate, write_world

SMALL = SimulationConfig(charities=2_000, first_year=2015, last_year=2025, seed=11)
MEDIUM = SimulationConfig(charities=5_000, first_year=2015, last_year=2025, seed=12)
EXTRACT = pd.Timestamp("2025-12-31")
HEADERS = {
    "register": REGISTER_COLUMNS,
    "former": FORMER_COLUMNS,
    "returns": RETURNS_COLUMNS,
    "case_log": CASE_LOG_COLUMNS,
    "latent_risk": LATENT_RISK_COLUMNS,
    "misconduct": MISCONDUCT_COLUMNS,
}


@pytest.fixture(scope="module")
def small() -> dict[str, pd.DataFrame]:
    return simulate(SMALL)


@pytest.fixture(scope="module")
def medium() -> dict[str, pd.DataFrame]:
    return simulate(MEDIUM)


def dates(values: pd.Series) -> pd.Series:
    """Parse OSCR's dates ("dd/mm/yyyy", "dd/mm/yyyy HH:MM" or "yyyy-mm-dd"); blanks become NaT."""
    day = values.str.slice(0, 10)
    iso = day.str.contains("-", regex=False)
    parsed = pd.to_datetime(day.where(~iso & (day != "")), format="%d/%m/%Y")
    return parsed.fillna(pd.to_datetime(day.where(iso), format="%Y-%m-%d"))


def items(cell: str) -> list[str]:
    """Split a multi-valued cell "'a, b','c'" into its items."""
    assert cell.startswith("'") and cell.endswith("'"), cell
    return cell[1:-1].split("','")


def returns_with_dates(world: dict[str, pd.DataFrame]) -> pd.DataFrame:
    returns = world["returns"]
    year_end = dates(returns["Year End"])
    received = dates(returns["Date Received"])
    due = year_end + pd.DateOffset(months=RETURN_DUE_MONTHS)
    return returns.assign(
        year_end=year_end,
        received=received,
        due=due,
        Year=year_end.dt.year.astype(str),
        late_or_missing=received.isna() | (received > due),
    )


def all_charities(world: dict[str, pd.DataFrame]) -> pd.DataFrame:
    return pd.concat([world["register"], world["former"]], ignore_index=True)


# --- determinism and the file contract ---------------------------------------------------------

def test_same_seed_gives_identical_frames(small):
    again = simulate(SMALL)
    for name in FILE_NAMES:
        pd.testing.assert_frame_equal(small[name], again[name])


def test_different_seed_gives_a_different_world(small):
    other = simulate(SMALL.model_copy(update={"seed": SMALL.seed + 1}))
    assert not small["returns"].equals(other["returns"])
    assert not small["register"]["Charity Name"].equals(other["register"]["Charity Name"])


def test_headers_follow_the_column_contract(small):
    assert set(small) == set(FILE_NAMES)
    for name, columns in HEADERS.items():
        assert tuple(small[name].columns) == columns


def test_every_value_is_a_string_and_blanks_are_empty(small):
    for name in FILE_NAMES:
        frame = small[name]
        assert not frame.isna().any().any(), name
        assert all(pd.api.types.is_string_dtype(dtype) for dtype in frame.dtypes), name


def test_config_rejects_a_reversed_period_and_is_frozen():
    with pytest.raises(ValidationError):
        SimulationConfig(first_year=2020, last_year=2019)
    with pytest.raises(ValidationError):
        SMALL.seed = 1


def test_every_purpose_has_an_objective():
    assert len(OBJECTIVES) == len(PURPOSES)


# --- the register ------------------------------------------------------------------------------

def test_charity_numbers_are_unique_and_follow_registration(small):
    charities = all_charities(small)
    numbers = charities["Charity Number"]
    assert numbers.str.fullmatch(r"SC\d{6}").all()
    assert numbers.is_unique
    registered = dates(charities["Registered Date"])
    rank_correlation = numbers.str.slice(2).astype(int).corr(registered.rank(), method="spearman")
    assert rank_correlation > 0.9


def test_status_dates_and_reasons_of_active_and_former_charities(small):
    register, former = small["register"], small["former"]
    assert (register["Charity Status"] == "Active").all()
    assert (former["Charity Status"] == "Removed").all()
    assert former["Ceased Date"].str.fullmatch(r"\d\d/\d\d/\d{4} \d\d:\d\d").all()
    assert register["Registered Date"].str.fullmatch(r"\d\d/\d\d/\d{4} \d\d:\d\d").all()
    ceased = dates(former["Ceased Date"])
    assert (ceased <= EXTRACT).all()
    assert (ceased > dates(former["Registered Date"])).all()
    reasons = former["Reason For Removal"]
    assert reasons.str.contains("wound up/dissolved", regex=False).mean() > 0.5
    assert reasons.str.contains("Section 18", regex=False).any()
    assert (reasons == "").mean() < 0.3


def test_single_valued_fields_use_the_vocabulary(small):
    charities = all_charities(small)
    for column, vocab in [
        ("Constitutional Form", CONSTITUTIONAL_FORMS),
        ("Geographical Spread", GEOGRAPHICAL_SPREADS),
        ("Main Operating Location", MAIN_OPERATING_LOCATIONS),
        ("Regulatory Type", REGULATORY_TYPES),
    ]:
        values = set(charities[column]) - {""}
        assert values <= set(vocab), column
        assert len(values) > 1, column


def test_multi_valued_fields_parse_back_into_the_vocabulary(small):
    charities = all_charities(small)
    for column, vocab, most in [
        ("Purposes", PURPOSES, 16),
        ("Beneficiaries", BENEFICIARIES, 4),
        ("Activities", ACTIVITIES, 2),
    ]:
        cells = charities.loc[charities[column] != "", column]
        assert len(cells) > 0.8 * len(charities)
        parsed = cells.map(items)
        assert set(parsed.explode()) <= set(vocab), column
        assert parsed.map(len).between(1, most).all(), column
        assert (parsed.map(len) == parsed.map(lambda values: len(set(values)))).all(), column
    # items containing commas survive the round trip
    assert charities["Activities"].str.contains("'It makes grants, donations or gifts to organisations'").any()


def test_scios_are_registered_only_after_april_2011(small):
    charities = all_charities(small)
    scio = charities["Constitutional Form"].str.startswith("SCIO")
    assert scio.any()
    assert (dates(charities.loc[scio, "Registered Date"]) >= pd.Timestamp("2011-04-01")).all()
    recent = dates(charities["Registered Date"]) >= pd.Timestamp("2020-01-01")
    assert scio[recent].mean() > 0.5


def test_most_active_charities_are_small(medium):
    income = pd.to_numeric(medium["register"]["Most recent year income"].replace("", np.nan))
    assert 0.5 <= (income.dropna() <= 25_000).mean() <= 0.65
    assert income.max() > 1_000_000


def test_register_figures_come_from_the_latest_received_return(small):
    returns = returns_with_dates(small)
    received = returns[returns["received"].notna()]
    latest = received.sort_values("year_end").groupby("Charity Number").tail(1).set_index("Charity Number")
    register = small["register"].set_index("Charity Number")
    with_figures = register[register["Most recent year income"] != ""]
    assert len(with_figures) > 0.8 * len(register)
    assert set(with_figures.index) == set(latest.index) & set(register.index)
    joined = with_figures.join(latest, suffixes=("", "_return"))
    assert (joined["Most recent year income"] == joined["Total income"]).all()
    assert (joined["Most recent year expenditure"] == joined["Total expenditure"]).all()
    assert (dates(joined["Year End"]) == joined["year_end"]).all()


# --- returns and the extract date --------------------------------------------------------------

def test_returns_are_due_and_received_by_the_extract_date(small):
    returns = returns_with_dates(small)
    assert returns["year_end"].notna().all()
    assert (returns["due"] <= EXTRACT).all()
    assert (returns["received"].dropna() <= EXTRACT).all()
    assert (returns["received"].dropna() > returns.loc[returns["received"].notna(), "year_end"]).all()
    on_time = (returns["received"] <= returns["due"]).mean()
    assert 0.75 < on_time < 0.97
    assert 0.005 < returns["received"].isna().mean() < 0.15
    iso_share = returns["Year End"].str.contains("-", regex=False).mean()
    assert 0.01 < iso_share < 0.2


def test_returns_only_while_registered_one_per_year(small):
    returns = returns_with_dates(small)
    charities = all_charities(small).set_index("Charity Number")
    joined = returns.join(charities[["Registered Date", "Ceased Date"]], on="Charity Number")
    assert (joined["year_end"] > dates(joined["Registered Date"])).all()
    ceased = dates(joined["Ceased Date"])
    assert (joined["year_end"][ceased.notna()] < ceased.dropna()).all()
    assert not returns.duplicated(["Charity Number", "Year"]).any()
    years = returns["Year"].astype(int).groupby(returns["Charity Number"])
    assert (years.max() - years.min() + 1 == years.size()).all()  # no gaps while registered


def test_breakdowns_sum_to_the_totals(small):
    returns = small["returns"]
    money = returns[list(RETURNS_COLUMNS[3:13])].astype(np.int64)
    assert (money >= 0).all().all()
    assert (money[list(INCOME_BREAKDOWN)].sum(axis=1) == money["Total income"]).all()
    assert (money[list(SPENDING_BREAKDOWN)].sum(axis=1) == money["Total expenditure"]).all()


def test_counts_are_whole_numbers_sometimes_unknown(small):
    returns = returns_with_dates(small)
    for column in ("Number of trustees", "Employees", "Volunteers"):
        known = returns[column] != ""
        assert returns.loc[known, column].str.fullmatch(r"\d+").all()
        assert 0.01 < (~known).mean() < 0.4
    unknown_by_year = (returns["Number of trustees"] == "").groupby(returns["year_end"].dt.year).mean()
    assert unknown_by_year.iloc[0] > unknown_by_year.iloc[-1]


# --- the case log ------------------------------------------------------------------------------

def test_case_log_vocabulary_and_extract_date(small):
    log = small["case_log"]
    assert set(log["Event"]) == set(CASE_EVENTS)
    closed = log["Event"] == "inquiry_closed"
    assert set(log.loc[closed, "Outcome"]) <= set(CASE_OUTCOMES)
    assert (log.loc[~closed, "Outcome"] == "").all()
    assert (dates(log["Date"]) <= EXTRACT).all()
    assert set(log["Charity Number"]) <= set(all_charities(small)["Charity Number"])


def test_inquiries_follow_concerns_and_never_overlap(medium):
    log = medium["case_log"].assign(date=lambda f: dates(f["Date"]))
    log = log.assign(order=log["Event"].map({e: i for i, e in enumerate(CASE_EVENTS)}))
    log = log.sort_values(["Charity Number", "date", "order"], kind="stable")
    by_charity = log.groupby("Charity Number")
    concerns_before = by_charity["Event"].transform(lambda e: (e == "concern_received").cumsum())
    opened = by_charity["Event"].transform(lambda e: (e == "inquiry_opened").cumsum())
    closed = by_charity["Event"].transform(lambda e: (e == "inquiry_closed").cumsum())
    assert (concerns_before[log["Event"] == "inquiry_opened"] >= 1).all()
    assert (opened - closed).between(0, 1).all()
    first_concern = log[log["Event"] == "concern_received"].groupby("Charity Number")["date"].min()
    first_opened = log[log["Event"] == "inquiry_opened"].groupby("Charity Number")["date"].min()
    assert (first_opened > first_concern.reindex(first_opened.index)).all()
    repeated = log[log["Event"] == "concern_received"].groupby("Charity Number")["date"].agg(
        lambda d: d.dt.year.nunique())
    assert (repeated > 1).any()


def test_yearly_case_figures_are_plausible_at_default_scale(medium):
    log = medium["case_log"].assign(year=lambda f: dates(f["Date"]).dt.year)
    full_years = log[log["year"] > MEDIUM.first_year]
    per_year = full_years.groupby(["year", "Event"]).size().unstack().mean()
    scale = 25_000 / MEDIUM.charities
    assert 150 <= per_year["concern_received"] * scale <= 600
    assert 100 <= per_year["inquiry_opened"] * scale <= 250
    closures = full_years[full_years["Event"] == "inquiry_closed"]
    assert 0.2 <= (closures["Outcome"] == "regulatory_action").mean() <= 0.45


# --- the hidden risk ---------------------------------------------------------------------------

def test_latent_risk_covers_every_charity_year(small):
    charities = all_charities(small)
    first = dates(charities["Registered Date"]).dt.year.clip(lower=SMALL.first_year)
    last = dates(charities["Ceased Date"]).dt.year.fillna(SMALL.last_year).astype(int)
    expected = {
        (number, str(year))
        for number, start, end in zip(charities["Charity Number"], first, last)
        for year in range(start, end + 1)
    }
    latent = small["latent_risk"]
    assert set(zip(latent["Charity Number"], latent["Year"])) == expected
    assert len(latent) == len(expected)
    p = latent["Misconduct probability"].astype(float)
    assert p.between(0, 1).all()
    assert set(latent["Misconduct"]) == {"0", "1"}
    yearly_rate = latent["Misconduct"].astype(int).groupby(latent["Year"]).mean()
    assert yearly_rate.between(0.002, 0.02).all()


def test_late_or_missing_returns_signal_higher_risk(medium):
    returns = returns_with_dates(medium)
    latent = medium["latent_risk"].assign(p=lambda f: f["Misconduct probability"].astype(float))
    joined = returns.merge(latent, on=["Charity Number", "Year"])
    mean_p = joined.groupby("late_or_missing")["p"].mean()
    assert mean_p[True] > 1.3 * mean_p[False]
    trustees = pd.to_numeric(joined["Number of trustees"].replace("", np.nan))
    assert joined.loc[trustees < 3, "p"].mean() > 1.3 * joined.loc[trustees >= 3, "p"].mean()


def test_signals_are_noisy_not_decisive(medium):
    returns = returns_with_dates(medium)
    latent = medium["latent_risk"]
    joined = returns.merge(latent, on=["Charity Number", "Year"])
    flagged = joined[joined["late_or_missing"]]
    # most late or missing returns come from charities with no misconduct that year
    assert (flagged["Misconduct"] == "0").mean() > 0.8


def test_regulatory_action_falls_mostly_on_real_misconduct(medium):
    log = medium["case_log"]
    latent = medium["latent_risk"]
    ever = latent.groupby("Charity Number")["Misconduct"].agg(lambda m: (m == "1").any())
    acted = set(log.loc[log["Outcome"] == "regulatory_action", "Charity Number"])
    concerned = set(log.loc[log["Event"] == "concern_received", "Charity Number"])
    assert ever[list(acted)].mean() > 0.5
    assert ever[list(concerned - acted)].mean() < ever[list(acted)].mean() / 2


def _episodes(world) -> pd.DataFrame:
    m = world["misconduct"]
    return m.assign(start=dates(m["Started"]), end=dates(m["Ended"]), reached=dates(m["Reached"]))


def test_episodes_are_ordered_in_time_and_agree_with_the_yearly_flags(medium):
    e = _episodes(medium)
    assert len(e) > 100 and set(e["Shows as"]) == {"level signals", "change only"}
    assert (e["start"] <= EXTRACT).all() and e["start"].notna().all()
    ended = e["end"].notna()
    assert (e.loc[ended, "end"] >= e.loc[ended, "start"]).all() and (e.loc[ended, "end"] <= EXTRACT).all()
    assert e["end"].isna().any()  # some still going on at the extract
    # no charity is in two episodes at once
    ordered = e.sort_values(["Charity Number", "start"])
    same = ordered["Charity Number"].eq(ordered["Charity Number"].shift())
    assert (ordered.loc[same, "start"] > ordered["end"].shift()[same]).all()
    latent = medium["latent_risk"]
    flagged = set(zip(latent.loc[latent["Misconduct"] == "1", "Charity Number"], latent.loc[latent["Misconduct"] == "1", "Year"]))
    from_episodes = {(n, str(y)) for n, s_, f_ in zip(e["Charity Number"], e["start"], e["end"].fillna(EXTRACT))
                     for y in range(s_.year, f_.year + 1)}
    assert flagged == from_episodes


def test_the_regulator_reaches_an_episode_only_through_an_inquiry_into_it(medium):
    e = _episodes(medium).loc[lambda f: f["reached"].notna()]
    log = medium["case_log"].assign(date=lambda f: dates(f["Date"]))
    opened = set(zip(log.loc[log["Event"] == "inquiry_opened", "Charity Number"],
                     log.loc[log["Event"] == "inquiry_opened", "date"]))
    assert len(e) > 50
    assert all((n, d) in opened for n, d in zip(e["Charity Number"], e["reached"]))
    assert (e["reached"] >= e["start"]).all()
    # most episodes are never reached while they last: the proactive list's room to add value
    share_reached = _episodes(medium)["reached"].notna().mean()
    assert 0.3 < share_reached < 0.8


def test_inquiry_outcomes_depend_on_whether_the_misconduct_is_real(medium):
    e = _episodes(medium)
    log = medium["case_log"].assign(date=lambda f: dates(f["Date"]))
    closed = log.loc[log["Event"] == "inquiry_closed"]
    reached = set(zip(e["Charity Number"], e["reached"]))
    opened = log.loc[log["Event"] == "inquiry_opened"].reset_index(drop=True)
    real = np.array([(n, d) in reached for n, d in zip(opened["Charity Number"], opened["date"])])
    closing = closed[["Charity Number", "date", "Outcome"]].rename(columns={"Outcome": "closing"}).sort_values("date")
    outcome = pd.merge_asof(opened[["Charity Number", "date"]].sort_values("date"), closing, on="date",
                            by="Charity Number", direction="forward")
    outcome = outcome.set_index(["Charity Number", "date"])["closing"]
    outcomes = np.array([outcome.get((n, d)) for n, d in zip(opened["Charity Number"], opened["date"])], dtype=object)
    substantiated = np.isin(outcomes, ["guidance_issued", "regulatory_action"])
    known = pd.notna(outcomes)
    assert real.sum() > 30 and (~real).sum() > 30
    assert substantiated[real & known].mean() > substantiated[~real & known].mean() + 0.3


def test_change_only_misconduct_moves_other_income_and_trustees_and_innocent_charities_change_too(medium):
    e = _episodes(medium)
    returns = returns_with_dates(medium)
    returns = returns.assign(other=pd.to_numeric(returns["Other income"].replace("", np.nan)),
                             income=pd.to_numeric(returns["Total income"].replace("", np.nan)))
    share = (returns["other"] / returns["income"].where(returns["income"] > 0)).fillna(0)
    change = e.loc[e["Shows as"] == "change only"]

    def rows_during(episodes):
        keys = {(n, y) for n, s_, f_ in zip(episodes["Charity Number"], episodes["start"],
                                             episodes["end"].fillna(EXTRACT)) for y in range(s_.year, f_.year + 1)}
        return [(n, int(y)) in keys for n, y in zip(returns["Charity Number"], returns["Year"])]
    during_change = np.array(rows_during(change))
    during_any = np.array(rows_during(e))
    assert during_change.sum() > 100
    assert share[during_change].median() > 3 * share[~during_any].median() + 0.1
    # innocent look-alikes: plenty of charities never engaged in misconduct show big "other income" too
    innocent = ~returns["Charity Number"].isin(set(e["Charity Number"]))
    assert (share[innocent] > 0.25).sum() > (share[during_change] > 0.25).sum()


def test_young_charities_carry_more_risk(small):
    latent = small["latent_risk"].assign(p=lambda f: f["Misconduct probability"].astype(float))
    registered = all_charities(small).set_index("Charity Number")["Registered Date"]
    age = latent["Year"].astype(int) - dates(latent["Charity Number"].map(registered)).dt.year
    assert latent.loc[age <= 2, "p"].mean() > 1.3 * latent.loc[age >= 10, "p"].mean()


# --- writing the files -------------------------------------------------------------------------

def test_write_world_quotes_every_field_like_oscr(small, tmp_path):
    paths = write_world(small, tmp_path / "world")
    assert {name: path.name for name, path in paths.items()} == {name: f"{name}.csv" for name in FILE_NAMES}
    for name, path in paths.items():
        with path.open(encoding="utf-8", newline="") as handle:
            header = handle.readline().rstrip("\n")
        assert header == ",".join(f'"{column}"' for column in HEADERS[name])
        back = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
        pd.testing.assert_frame_equal(back, small[name], check_dtype=False)
    with paths["returns"].open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    assert all(len(row) == len(RETURNS_COLUMNS) for row in rows)
    assert '""' in paths["returns"].read_text(encoding="utf-8")
