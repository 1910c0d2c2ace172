"""Features of each charity as of a date, built only from what the regulator knew then.

What "knew then" means, for an as-of date A:

- a return's figures count once its Date Received is on or before A;
- a return counts as due once its due date (Year End + 9 months) is on or before A, whether or
  not it has arrived; a due return not received by A is outstanding;
- case-log events count when dated strictly before A (events on A belong to the label window);
- registration data (form, area, purposes...) is taken from the register; charities registered
  after A, or removed on or before A, are not in the population.

Every feature is a number or a category; missing values stay missing (NaN) and get an explicit
`missing__*` flag, so that each model's pipeline decides how to fill them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from risk_model.domain.columns import RETURN_DUE_MONTHS
from risk_model.domain.vocab import ACTIVITY_SHORT, BENEFICIARY_SHORT, INCOME_BANDS_GBP, PURPOSE_SHORT
from risk_model.partitions import PARTITION_CHARITIES, charity_ranges, rows_of

CATEGORICAL_FEATURES: tuple[str, ...] = (
    "constitutional_form", "geographical_spread", "main_operating_location", "regulatory_type",
)
MULTI_VALUED: dict[str, tuple[str, dict[str, str]]] = {
    "purposes": ("purpose__", PURPOSE_SHORT),
    "beneficiaries": ("beneficiary__", BENEFICIARY_SHORT),
    "activities": ("activity__", ACTIVITY_SHORT),
}
MULTI_HOT_FEATURES: tuple[str, ...] = tuple(
    prefix + short for prefix, mapping in MULTI_VALUED.values() for short in mapping.values()
)
FINANCE_FEATURES: tuple[str, ...] = (
    "income_latest_gbp", "expenditure_latest_gbp", "spend_over_income_ratio_latest",
    "spend_over_income_last3", "trading_income_share_latest", "donations_income_share_latest",
    "investments_income_share_latest", "charitable_spending_share_latest",
)
# Every return field's change: (feature stem, scale, the step that counts as a change on that scale).
# Money and headcounts that span orders of magnitude change on the log scale (log1p), trustees by
# the number; a change is a half again or more in money and staff, a doubling in volunteers and
# two or more trustees.
CHANGE_FIELDS: dict[str, tuple[str, str, float]] = {
    "income_gbp": ("income", "log", float(np.log(1.5))),
    "expenditure_gbp": ("spending", "log", float(np.log(1.5))),
    "donations_legacies_income_gbp": ("donations_income", "log", float(np.log(1.5))),
    "charitable_activities_income_gbp": ("charitable_income", "log", float(np.log(1.5))),
    "trading_income_gbp": ("trading_income", "log", float(np.log(1.5))),
    "investments_income_gbp": ("investments_income", "log", float(np.log(1.5))),
    "other_income_gbp": ("other_income", "log", float(np.log(1.5))),
    "raising_funds_spending_gbp": ("fundraising_spending", "log", float(np.log(1.5))),
    "charitable_activities_spending_gbp": ("charitable_spending", "log", float(np.log(1.5))),
    "other_spending_gbp": ("other_spending", "log", float(np.log(1.5))),
    "trustees": ("trustees", "count", 2.0),
    "employees": ("employees", "log", float(np.log(1.5))),
    "volunteers": ("volunteers", "log", float(np.log(2.0))),
}
# latest against the return before; latest against the mean of the three before; the largest
# step between consecutive returns among the last three; years since the last step that counts.
CHANGE_KINDS: tuple[str, ...] = ("change_1y", "change_3y", "jump_max_3y", "years_since_change")
CHANGE_FEATURES: tuple[str, ...] = tuple(
    f"{stem}_{kind}" for stem, _, _ in CHANGE_FIELDS.values() for kind in CHANGE_KINDS
) + ("year_end_changed_latest", "years_since_year_end_change")
GOVERNANCE_FEATURES: tuple[str, ...] = ("trustees_latest", "employees_latest", "volunteers_latest")
FILING_FEATURES: tuple[str, ...] = (
    "returns_due", "returns_outstanding", "returns_late", "late_share_last3_due",
    "days_overdue_oldest_outstanding", "mean_days_late", "days_since_latest_year_end",
)
PROFILE_FEATURES: tuple[str, ...] = ("age_years", "age_under_5", "n_purposes")
HISTORY_FEATURES: tuple[str, ...] = (
    "concerns_prior", "concerns_last_12m", "days_since_last_concern", "open_concern", "open_inquiry",
    "inquiries_prior", "regulatory_actions_prior", "guidance_prior",
)
# A concern this recent, or an open inquiry, keeps a charity off the proactive list (see `lists`).
RECENT_CONCERN_MONTHS = 12
MISSING_FLAGS: tuple[str, ...] = (
    "missing__return", "missing__trustees", "missing__employees", "missing__volunteers",
)
NUMERIC_FEATURES: tuple[str, ...] = (
    FINANCE_FEATURES + CHANGE_FEATURES + GOVERNANCE_FEATURES + FILING_FEATURES + PROFILE_FEATURES
    + HISTORY_FEATURES + MISSING_FLAGS + MULTI_HOT_FEATURES
)
FEATURE_COLUMNS: tuple[str, ...] = NUMERIC_FEATURES + CATEGORICAL_FEATURES
MONEY_FEATURES: tuple[str, ...] = ("income_latest_gbp", "expenditure_latest_gbp")
# Context carried beside the features (for lists and filters), never fed to a model.
CONTEXT_COLUMNS: tuple[str, ...] = (
    "charity_number", "as_of", "charity_name", "income_band", "main_purpose", "latest_year_end",
)
# Attributes a bias audit groups charities by (all present in a feature frame).
GROUP_ATTRIBUTES: tuple[str, ...] = (
    "income_band", "main_operating_location", "constitutional_form", "main_purpose",
    "geographical_spread", "age_under_5",
)
UNKNOWN = "Unknown"


def due_dates(year_end: pd.Series) -> pd.Series:
    """Date a return is due: Year End plus nine months."""
    return year_end + pd.DateOffset(months=RETURN_DUE_MONTHS)


def income_band(income_gbp: pd.Series) -> pd.Series:
    """OSCR-style income band label for each income; 'no return' where unknown."""
    edges = [low for _, low, _ in INCOME_BANDS_GBP] + [np.inf]
    labels = [name for name, _, _ in INCOME_BANDS_GBP]
    bands = pd.cut(income_gbp.clip(lower=0), bins=edges, labels=labels, right=True, include_lowest=True)
    return bands.astype("string").fillna("no return")


def population(register: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """Charities on the register at the as-of date."""
    on_register = (register["registered_date"] <= as_of) & (
        register["ceased_date"].isna() | (register["ceased_date"] > as_of)
    )
    return register.loc[on_register]


def open_inquiries(case_log: pd.DataFrame, as_of: pd.Timestamp) -> pd.Index:
    """Charity numbers with an inquiry opened before the as-of date and not yet closed."""
    before = case_log.loc[case_log["date"] < as_of]
    opened = before.loc[before["event"] == "inquiry_opened"].groupby("charity_number").size()
    closed = before.loc[before["event"] == "inquiry_closed"].groupby("charity_number").size()
    balance = opened.sub(closed, fill_value=0)
    return balance.index[balance > 0]


def _multi_hot(lists: pd.Series, prefix: str, mapping: dict[str, str]) -> pd.DataFrame:
    """0/1 columns, one per vocabulary item, from a column of item lists (unknown items ignored)."""
    names = list(mapping.values())
    exploded = lists.explode()
    codes = exploded.map({item: i for i, item in enumerate(mapping)}).to_numpy()
    rows = np.repeat(np.arange(len(lists)), lists.map(len).clip(lower=1).to_numpy(dtype=np.intp))
    known = ~pd.isna(codes)
    hot = np.zeros((len(lists), len(names)))
    hot[rows[known], codes[known].astype(int)] = 1.0
    return pd.DataFrame(hot, index=lists.index, columns=[prefix + n for n in names])


def _profile(charities: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    age_days = (as_of - charities["registered_date"]).dt.days
    out = pd.DataFrame(index=charities.index)
    out["age_years"] = age_days / 365.25
    out["age_under_5"] = (out["age_years"] < 5).astype(float)
    for column in CATEGORICAL_FEATURES:
        out[column] = charities[column].astype("string").fillna(UNKNOWN).astype(object)
    for column, (prefix, mapping) in MULTI_VALUED.items():
        out = out.join(_multi_hot(charities[column], prefix, mapping))
    out["n_purposes"] = charities["purposes"].map(len).astype(float)
    return out


def _finance(returns: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    known = returns.loc[returns["date_received"] <= as_of]
    known = known.sort_values(["charity_number", "year_end"])
    recency = known.groupby("charity_number").cumcount(ascending=False)
    last3 = known.loc[recency < 3]
    latest = known.loc[recency == 0].set_index("charity_number")
    income = latest["income_gbp"]
    out = pd.DataFrame(index=latest.index)
    out["income_latest_gbp"] = income
    out["expenditure_latest_gbp"] = latest["expenditure_gbp"]
    out["spend_over_income_ratio_latest"] = latest["expenditure_gbp"] / income.clip(lower=1.0)
    over = (last3["expenditure_gbp"] > last3["income_gbp"]).groupby(last3["charity_number"]).sum()
    out["spend_over_income_last3"] = over.astype(float)
    shares = {
        "trading_income_share_latest": "trading_income_gbp",
        "donations_income_share_latest": "donations_legacies_income_gbp",
        "investments_income_share_latest": "investments_income_gbp",
    }
    positive_income = income.where(income > 0)
    for feature, column in shares.items():
        out[feature] = (latest[column] / positive_income).clip(-1, 2)
    spend = latest["expenditure_gbp"].where(latest["expenditure_gbp"] > 0)
    out["charitable_spending_share_latest"] = (latest["charitable_activities_spending_gbp"] / spend).clip(-1, 2)
    for column in ("trustees", "employees", "volunteers"):
        out[f"{column}_latest"] = latest[column]
    out["latest_year_end"] = latest["year_end"]
    return out.join(_changes(known, recency.to_numpy(), as_of))


def _changes(known: pd.DataFrame, recency: np.ndarray, as_of: pd.Timestamp) -> pd.DataFrame:
    """CHANGE_FEATURES from the received returns (sorted by charity and year end; recency 0 = latest).

    The rows of a charity are contiguous, so every figure is a segment reduction over them.
    """
    charity = known["charity_number"].to_numpy()
    if not len(charity):
        return pd.DataFrame(columns=list(CHANGE_FEATURES), dtype=float)
    same_charity = np.r_[False, charity[1:] == charity[:-1]]
    starts = np.flatnonzero(~same_charity)
    ends = np.r_[starts[1:], len(charity)] - 1
    values = np.column_stack([
        np.log1p(np.clip(known[field].to_numpy(dtype=float), 0, None)) if scale == "log"
        else known[field].to_numpy(dtype=float)
        for field, (_, scale, _) in CHANGE_FIELDS.items()
    ])
    step = np.full_like(values, np.nan)
    step[1:] = values[1:] - values[:-1]
    step[~same_charity] = np.nan
    before = ((recency >= 1) & (recency <= 3))[:, None] & ~np.isnan(values)
    with np.errstate(invalid="ignore", divide="ignore"):
        earlier_mean = (np.add.reduceat(np.where(before, values, 0.0), starts)
                        / np.add.reduceat(before.astype(float), starts))
    recent_steps = np.where((recency <= 2)[:, None], np.abs(step), np.nan)
    thresholds = np.array([threshold for _, _, threshold in CHANGE_FIELDS.values()])
    year_end_days = known["year_end"].to_numpy().astype("datetime64[D]").astype(float)
    changed_on = np.where(np.abs(step) >= thresholds - 1e-9, year_end_days[:, None], np.nan)
    as_of_day = float(np.datetime64(as_of, "D").astype(float))
    with np.errstate(invalid="ignore", divide="ignore"):
        parts = {
            "change_1y": step[ends],
            "change_3y": values[ends] - earlier_mean,
            "jump_max_3y": np.fmax.reduceat(recent_steps, starts),
            "years_since_change": (as_of_day - np.fmax.reduceat(changed_on, starts)) / 365.25,
        }
    stems = [stem for stem, _, _ in CHANGE_FIELDS.values()]
    columns = {f"{stem}_{kind}": parts[kind][:, j] for j, stem in enumerate(stems) for kind in CHANGE_KINDS}
    month_day = known["year_end"].dt.month.to_numpy() * 100 + known["year_end"].dt.day.to_numpy()
    moved = np.where(same_charity, (month_day != np.r_[-1, month_day[:-1]]).astype(float), np.nan)
    columns["year_end_changed_latest"] = moved[ends]
    moved_on = np.fmax.reduceat(np.where(moved == 1, year_end_days, np.nan), starts)
    columns["years_since_year_end_change"] = (as_of_day - moved_on) / 365.25
    return pd.DataFrame(columns, index=pd.Index(charity[starts], name="charity_number"))


def _filing(returns: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    due = returns.loc[returns["due_date"] <= as_of]
    received = due["date_received"] <= as_of
    outstanding = ~received
    late = received & (due["date_received"] > due["due_date"])
    by = due["charity_number"]
    out = pd.DataFrame({
        "returns_due": by.groupby(by).size().astype(float),
        "returns_outstanding": outstanding.groupby(by).sum().astype(float),
        "returns_late": late.groupby(by).sum().astype(float),
    })
    recency = due.sort_values("due_date").groupby("charity_number").cumcount(ascending=False)
    last3 = recency.reindex(due.index) < 3
    out["late_share_last3_due"] = (late | outstanding)[last3].groupby(by[last3]).mean()
    overdue = (as_of - due["due_date"]).dt.days.where(outstanding)
    out["days_overdue_oldest_outstanding"] = overdue.groupby(by).max()
    days_late = (due["date_received"] - due["due_date"]).dt.days.clip(lower=0).where(received)
    out["mean_days_late"] = days_late.groupby(by).mean()
    known_year_end = due["year_end"].where(received)
    out["days_since_latest_year_end"] = (as_of - known_year_end.groupby(by).max()).dt.days
    return out


def history_as_of(case_log: pd.DataFrame, as_of: pd.Timestamp | pd.Series,
                  numbers: pd.Index | None = None) -> pd.DataFrame:
    """HISTORY_FEATURES of each charity in `numbers` from its case-log events strictly before `as_of`:
    one date for all, or a date per charity (a series indexed by charity number, whose index is
    then the default `numbers`). A charity with no event counts 0 of each."""
    per_charity = isinstance(as_of, pd.Series)
    cutoff = case_log["charity_number"].map(as_of) if per_charity else as_of
    before = case_log.loc[case_log["date"] < cutoff]
    concerns = before.loc[before["event"] == "concern_received"]
    opened = before.loc[before["event"] == "inquiry_opened"]
    closed = before.loc[before["event"] == "inquiry_closed"]
    concern_cutoff = cutoff.loc[concerns.index] if per_charity else cutoff
    recent = concerns["date"] >= concern_cutoff - pd.DateOffset(months=RECENT_CONCERN_MONTHS)
    last_concern = concerns.groupby("charity_number")["date"].max()
    last_opened = opened.groupby("charity_number")["date"].max().reindex(last_concern.index)
    # a recent concern no inquiry has been opened on since: it waits to be triaged
    waiting = recent.groupby(concerns["charity_number"]).any() & ~(last_opened >= last_concern)
    balance = opened.groupby("charity_number").size().sub(closed.groupby("charity_number").size(), fill_value=0)
    since = (as_of.reindex(last_concern.index) if per_charity else as_of) - last_concern
    out = pd.DataFrame({
        "concerns_prior": concerns.groupby("charity_number").size(),
        "concerns_last_12m": recent.groupby(concerns["charity_number"]).sum(),
        "days_since_last_concern": since.dt.days,
        "open_concern": waiting.astype(float),
        "open_inquiry": (balance > 0).astype(float),
        "inquiries_prior": opened.groupby("charity_number").size(),
        "regulatory_actions_prior": closed.loc[closed["outcome"] == "regulatory_action"]
        .groupby("charity_number").size(),
        "guidance_prior": closed.loc[closed["outcome"] == "guidance_issued"].groupby("charity_number").size(),
    }, columns=list(HISTORY_FEATURES)).astype(float)
    if numbers is None and per_charity:
        numbers = as_of.index
    if numbers is not None:
        out = out.reindex(numbers)
    counts = [c for c in HISTORY_FEATURES if c != "days_since_last_concern"]
    out[counts] = out[counts].fillna(0.0)
    return out


def prepare_returns(returns: pd.DataFrame) -> pd.DataFrame:
    """Returns with their due dates, sorted; do this once before building many as-of dates."""
    prepared = returns.assign(due_date=due_dates(returns["year_end"]))
    return prepared.sort_values(["charity_number", "year_end"], kind="stable").reset_index(drop=True)


def _features_of(charities: pd.DataFrame, returns: pd.DataFrame, case_log: pd.DataFrame, as_of: pd.Timestamp):
    """Features of some charities (indexed by number) from their own returns and case-log events."""
    profile = _profile(charities, as_of)
    finance = _finance(returns, as_of).reindex(charities.index)
    filing = _filing(returns, as_of).reindex(charities.index)
    history = history_as_of(case_log, as_of, charities.index)

    filing_counts = ["returns_due", "returns_outstanding", "returns_late", "days_overdue_oldest_outstanding"]
    filing[filing_counts] = filing[filing_counts].fillna(0.0)

    out = pd.concat([profile, finance, filing, history], axis=1)
    out["missing__return"] = finance["income_latest_gbp"].isna().astype(float)
    for column in ("trustees", "employees", "volunteers"):
        out[f"missing__{column}"] = finance[f"{column}_latest"].isna().astype(float)
    out["income_band"] = income_band(out["income_latest_gbp"])
    out["charity_name"] = charities["charity_name"]
    first_purpose = charities["purposes"].map(lambda items: items[0] if len(items) else None)
    out["main_purpose"] = first_purpose.map(PURPOSE_SHORT).fillna("none recorded").astype(object)
    out["as_of"] = as_of
    out.index.name = "charity_number"
    out = out.reset_index()
    return pd.concat([out[list(CONTEXT_COLUMNS)], out[list(NUMERIC_FEATURES)].astype("float64"),
                      out[list(CATEGORICAL_FEATURES)]], axis=1)


def build_features(
    register: pd.DataFrame,
    returns: pd.DataFrame,
    case_log: pd.DataFrame,
    as_of: pd.Timestamp | str,
    partition_charities: int = PARTITION_CHARITIES,
) -> pd.DataFrame:
    """One row per charity on the register at `as_of`: context columns plus FEATURE_COLUMNS.

    Every feature is one charity's own history, so the register is cut into ranges of charity
    numbers and each range is built on its own; the result does not depend on the range size,
    and memory stays bounded on registers of millions.
    """
    as_of = pd.Timestamp(as_of).normalize()
    if "due_date" not in returns.columns:
        returns = prepare_returns(returns)
    charities = population(register, as_of).set_index("charity_number").sort_index(kind="stable")
    parts = []
    for first, last in charity_ranges(charities.index.to_series(), partition_charities) or [("", "")]:
        part = charities.loc[first:last] if first else charities
        parts.append(_features_of(part, rows_of(returns, part.index, first, last),
                                  rows_of(case_log, part.index, first, last), as_of))
    out = parts[0] if len(parts) == 1 else pd.concat(parts, ignore_index=True)
    return out.sort_values("charity_number", kind="stable").reset_index(drop=True)
