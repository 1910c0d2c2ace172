"""The simulator's answer key: which charities really were engaged in misconduct, and when.

Only simulated worlds have one. It is read at the edge (`read_truth`) and used to judge lists
and to draw the references no model can see: it never reaches features, labels or the models
that are registered.

What a list is judged on, for an as-of date A and its label window [A, A + horizon):

- a charity is a **true positive** when misconduct was going on at some point of the window and
  the regulator had not already reached it before A: misconduct committed in the window, or
  ongoing at its start and not yet reached (the episodes in `misconduct.csv`);
- the regulator **reached** it in the window when it opened an inquiry into the charity during
  the window (read from the case log, as the regulator itself would);
- its **true risk** is the chance of being a true positive given the world at A: 1 for
  misconduct already going on unreached, else the chance of starting in the year
  (`latent_risk.csv`), so that the sum over a list is the misconduct it can be expected to find.

A world with only `latent_risk.csv` (a charity-year flag and probability) is judged on the
calendar year holding the middle of the window, and says so (`Truth.source`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from risk_model.ingest.parsing import parse_dates
from risk_model.labels import label_window

TRUTH_COLUMNS: tuple[str, ...] = ("misconduct", "reached_in_window", "days_to_reach", "true_risk")


@dataclass(frozen=True)
class Truth:
    """Per-year misconduct probabilities and flags, and the episodes where the world records them."""

    yearly: pd.DataFrame            # charity_number, year, p, engaged
    episodes: pd.DataFrame | None   # charity_number, started, ended (NaT: ongoing), reached (NaT: never)
    source: str

    def judge(self, frame: pd.DataFrame, case_table: pd.DataFrame, horizon_months: int) -> pd.DataFrame:
        """TRUTH_COLUMNS for each row of a frame with `charity_number` and one `as_of` per group of rows."""
        parts = []
        for as_of, rows in frame.groupby("as_of", sort=False):
            parts.append(self._judge_date(rows["charity_number"], pd.Timestamp(as_of), case_table, horizon_months))
        if not parts:
            return pd.DataFrame({c: pd.Series(dtype=float) for c in TRUTH_COLUMNS}, index=frame.index)
        return pd.concat(parts).reindex(frame.index)

    def _judge_date(self, numbers: pd.Series, as_of: pd.Timestamp, case_table: pd.DataFrame,
                    horizon_months: int) -> pd.DataFrame:
        start, end = label_window(as_of, horizon_months)
        middle_year = (start + (end - start) / 2).year
        year = self.yearly.loc[self.yearly["year"] == middle_year].set_index("charity_number")
        p = year["p"].reindex(numbers.to_numpy()).fillna(0.0).to_numpy()
        if self.episodes is not None:
            e = self.episodes
            overlaps = (e["started"] < end) & (e["ended"].isna() | (e["ended"] >= start))
            unreached = ~(e["reached"] < start)
            positive_ids = e.loc[overlaps & unreached, "charity_number"].unique()
            going_on = overlaps & unreached & (e["started"] < start)
            ongoing_ids = e.loc[going_on, "charity_number"].unique()
            misconduct = pd.Index(positive_ids).get_indexer(numbers.to_numpy()) >= 0
            ongoing = pd.Index(ongoing_ids).get_indexer(numbers.to_numpy()) >= 0
        else:
            misconduct = year["engaged"].reindex(numbers.to_numpy()).fillna(0).to_numpy() > 0
            before = self.yearly.loc[self.yearly["year"] == start.year - (start.day_of_year < 183)]
            ongoing = before.set_index("charity_number")["engaged"].reindex(numbers.to_numpy()).fillna(0).to_numpy() > 0
            ongoing &= misconduct
        opened = case_table.loc[case_table["opened"].ge(start) & case_table["opened"].lt(end)]
        first = opened.groupby("charity_number")["opened"].min().reindex(numbers.to_numpy())
        reached = misconduct & first.notna().to_numpy()
        days = np.where(reached, (first - start).dt.days.to_numpy(dtype=float), np.nan)
        return pd.DataFrame({
            "misconduct": misconduct.astype(float), "reached_in_window": reached.astype(float),
            "days_to_reach": days, "true_risk": np.where(ongoing, 1.0, p),
        }, index=numbers.index)


def read_truth(data_dir: Path) -> Truth | None:
    """The answer key in a simulated data folder, or None for a real regulator's folder."""
    latent_path, episodes_path = Path(data_dir) / "latent_risk.csv", Path(data_dir) / "misconduct.csv"
    if not latent_path.is_file():
        return None
    raw = pd.read_csv(latent_path, dtype=str, keep_default_na=False)
    yearly = pd.DataFrame({
        "charity_number": raw["Charity Number"].astype("string"), "year": raw["Year"].astype(int),
        "p": raw["Misconduct probability"].astype(float), "engaged": raw["Misconduct"].astype(int),
    })
    if not episodes_path.is_file():
        return Truth(yearly, None, f"{latent_path.name}: misconduct flagged by calendar year")
    raw = pd.read_csv(episodes_path, dtype=str, keep_default_na=False)
    episodes = pd.DataFrame({"charity_number": raw["Charity Number"].astype("string")})
    for name, column in (("started", "Started"), ("ended", "Ended"), ("reached", "Reached")):
        episodes[name], invalid = parse_dates(raw[column])
        if invalid.any() or (name == "started" and episodes[name].isna().any()):
            row = int(np.flatnonzero(invalid | (episodes[name].isna().to_numpy() & (name == "started")))[0])
            raise ValueError(f"{episodes_path}: row {row + 1}, field {column!r}: {raw[column].iloc[row]!r} is not a date")
    return Truth(yearly, episodes, f"{episodes_path.name}: misconduct episodes, {len(episodes):,} in all")
