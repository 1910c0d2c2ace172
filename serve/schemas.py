"""Request and response bodies. The charity records a request carries are in `serve.records`."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Literal, get_args

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from risk_model.domain.bands import RISK_BANDS
from risk_model.domain.vocab import INCOME_BANDS_GBP, PURPOSE_SHORT
from risk_model.lists.membership import RECENTLY_INQUIRED, REVIEW_LISTS, UNDER_INQUIRY
from serve.internal.security import Role
from serve.internal.text import shown
from serve.records import CharityRecord
from serve.values import CharityNumber, KeyName, OptionalDay, read_as

MAX_CHARITIES_PER_REQUEST = 1000
# Far beyond any register or access log, and small enough that the row offset, (page - 1) * page_size,
# fits the 64-bit integer SQLite and PostgreSQL take for OFFSET (a larger page was a 500).
MAX_PAGE = 1_000_000
class ScoreRequest(BaseModel):
    """Charities to score as of a date (default: the date of the current review lists)."""

    model_config = ConfigDict(extra="forbid")

    as_of: OptionalDay = None
    charities: list[CharityRecord] = Field(min_length=1, max_length=MAX_CHARITIES_PER_REQUEST)

    @model_validator(mode="after")
    def _each_charity_once(self) -> ScoreRequest:
        numbers = [c.charity_number for c in self.charities]
        repeated = sorted({n for n in numbers if numbers.count(n) > 1})
        if repeated:
            raise ValueError(f"charity {repeated[0]} appears more than once")
        return self


# --- responses --------------------------------------------------------------------------------

RiskBand = Literal[tuple(name for name, _ in RISK_BANDS)]
ReviewList = Literal[REVIEW_LISTS]
# Where a charity on the register stands: on one of the review lists, or on neither and why.
ListStatus = Literal[REVIEW_LISTS + (UNDER_INQUIRY, RECENTLY_INQUIRED)]
IncomeBand = Literal[tuple(name for name, _, _ in INCOME_BANDS_GBP) + ("no return",)]
Purpose = Literal[tuple(PURPOSE_SHORT.values())]


class ModelInfo(BaseModel):
    registered_model: str
    version: str
    model: str = Field(description="The champion of each review list the version holds, e.g. "
                                   "'proactive: lightgbm on substantiated; triage: ...'.")
    capacities: dict[ReviewList, int] = Field(description="Reviews a year each list is sized to, as the model "
                                                          "was trained: the top that many are within capacity.")


class Reason(BaseModel):
    model_config = ConfigDict(frozen=True)

    direction: Literal["up", "down"] = Field(description="up: raises the score; down: lowers it.")
    position: int
    factor: str
    label: str
    group: str
    contribution_log_odds: float
    contribution_points: float | None = Field(None, description="Its step in percentage points of the chance, in "
                                              "the waterfall's order from the base rate (raising reasons, then "
                                              "lowering ones); None in lists stored before steps were kept.")
    sentence: str
    source: str


class CharityScore(BaseModel):
    model_config = ConfigDict(frozen=True)  # stored answers are shared by every request that gets them

    charity_number: str
    charity_name: str
    review_list: ListStatus = Field(description="The review list the charity is on (proactive or triage), or why "
                                                "it is on neither (under inquiry, recently inquired).")
    why: str = Field(description="Why the charity is on that list, or on neither, in words.")
    score: float = Field(description="Probability of the outcome its list's model was trained for (a charity on "
                                     "neither list is scored by the proactive model).")
    risk_band: RiskBand | None = Field(description="Band on its list; None when on neither list.")
    rank_percentile: float | None = Field(description="Share of its list scored below, in percent; None when on "
                                                      "neither list.")
    under_open_inquiry: bool
    from_stored_list: bool = Field(description="True when the charity's data match the stored list's.")
    reasons: list[Reason]


class ScoreResponse(BaseModel):
    as_of: date
    model: ModelInfo
    results: list[CharityScore]


def _names(choice) -> dict[str, str]:
    return {name: name for name in get_args(choice)}


_STORED_FILTER = ("One of the values stored on the date's lists (GET /rankings/values), in any case: 'glasgow city' "
                  "is 'Glasgow City'. A value that begins only one of them is that one; any other is a 422.")
SortKey = Literal["rank", "-rank", "score", "-score", "charity_number", "-charity_number",
                  "charity_name", "-charity_name"]


class RankingsQuery(BaseModel):
    """Which review list to return, which part of it, and how."""

    model_config = ConfigDict(extra="forbid")

    review_list: ReviewList = Field("proactive", alias="list", description="proactive: charities with no recent "
                                    "concern; triage: concerns of the last 12 months awaiting an inquiry.")
    as_of: OptionalDay = Field(None, description="Default: the current list's date.")
    local_authority: Annotated[str, Field(max_length=100)] | None = Field(None, description=_STORED_FILTER)
    income_band: Annotated[IncomeBand | None, read_as(_names(IncomeBand))] = None
    constitutional_form: Annotated[str, Field(max_length=200)] | None = Field(None, description=_STORED_FILTER)
    purpose: Annotated[Purpose | None, read_as(_names(Purpose) | PURPOSE_SHORT)] = Field(
        None, description="A purpose's short name or its words, e.g. 'health' or 'The advancement of health'.")
    band: Annotated[RiskBand | None, read_as(_names(RiskBand))] = None
    sort: SortKey = Field("rank", description="A column, with '-' for descending.")
    page: int = Field(1, ge=1, le=MAX_PAGE)
    page_size: int = Field(50, ge=1, le=1000)
    format: Literal["json", "csv"] = Field("json", description="csv: every matching row, as a file.")


class RankedCharity(BaseModel):
    review_list: ReviewList
    rank: int = Field(description="Rank within its review list.")
    charity_number: str
    charity_name: str
    score: float
    rank_percentile: float
    risk_band: RiskBand
    within_capacity: bool
    local_authority: str | None
    income_band: str
    constitutional_form: str | None
    geographical_spread: str | None
    purposes: list[str]


class RankingsPage(BaseModel):
    review_list: ReviewList
    as_of: date
    model: ModelInfo
    capacity: int = Field(description="Reviews a year the list is sized to (from the model): ranks up to it are "
                                      "within capacity.")
    listed: int = Field(description="Charities on the list.")
    total: int = Field(description="Rows matching the filters.")
    page: int
    page_size: int
    sort: SortKey
    items: list[RankedCharity]


class PurposeValue(BaseModel):
    value: str = Field(description="What the `purpose` filter takes, e.g. 'health'.")
    words: str = Field(description="The purpose as OSCR words it, e.g. 'The advancement of health'.")


class FilterValues(BaseModel):
    """The values each filter of `/rankings` takes for a list's date (the same on both lists of a date)."""

    review_list: ReviewList
    as_of: date
    local_authority: list[str] = Field(description="Areas stored on the date's lists.")
    income_band: list[IncomeBand]
    constitutional_form: list[str] = Field(description="Constitutional forms stored on the date's lists.")
    purpose: list[PurposeValue]
    band: list[RiskBand]


class FactorChange(BaseModel):
    position: int
    factor: str
    label: str
    group: str
    change_log_odds: float
    before_log_odds: float
    now_log_odds: float
    change_points: float | None = Field(None, description="How many percentage points higher (or lower) the score "
                                        "is now than had this factor not moved.")


class WhatChanged(BaseModel):
    since: date
    score_before: float | None = Field(description="None when the charity was not on the register then.")
    score_now: float
    factors: list[FactorChange] = Field(description="The factors that moved most; none when another list's model "
                                        "scored the charity then (see `moved_from`).")
    moved_from: str | None = Field(None, description="Where the charity stood then, in words, when another list's "
                                   "model scored it: the two scores answer different questions, so no factor is "
                                   "compared.")
    scored_by_before: str | None = Field(None, description="The list whose model scored it then, when not today's.")


class ReturnRow(BaseModel):
    year_end: date
    due_date: date
    date_received: date | None
    income_gbp: float | None
    expenditure_gbp: float | None
    donations_legacies_income_gbp: float | None
    charitable_activities_income_gbp: float | None
    trading_income_gbp: float | None
    investments_income_gbp: float | None
    other_income_gbp: float | None
    raising_funds_spending_gbp: float | None
    charitable_activities_spending_gbp: float | None
    other_spending_gbp: float | None
    trustees: float | None
    employees: float | None
    volunteers: float | None


class FeedbackOutcome(StrEnum):
    not_reviewed = "not_reviewed"
    reviewed_no_concern = "reviewed_no_concern"
    inquiry_opened = "inquiry_opened"
    regulatory_action = "regulatory_action"


# Outcomes whoever takes the case on next must be told about: what was opened, or what was done.
NOTE_NEEDED = frozenset({FeedbackOutcome.inquiry_opened, FeedbackOutcome.regulatory_action})


class FeedbackIn(BaseModel):
    """What was done about a charity on the list and what came of it."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    outcome: FeedbackOutcome
    note: str = Field("", max_length=5000, validate_default=True,
                      description="Needed when an inquiry was opened or regulatory action taken.")

    @field_validator("note")
    @classmethod
    def _note_where_needed(cls, note: str, info: ValidationInfo) -> str:
        if not note and info.data.get("outcome") in NOTE_NEEDED:
            raise ValueError(f"a note is needed when the outcome is {info.data['outcome'].replace('_', ' ')}: "
                             "say what was opened or done")
        return note


class FeedbackOut(BaseModel):
    id: int
    charity_number: str
    outcome: FeedbackOutcome
    note: Annotated[str, AfterValidator(shown)] = Field(
        description="As typed, with any bidirectional control character written out, e.g. [U+202E].")
    recorded_by: str
    role: str
    recorded_at: datetime
    as_of: date = Field(description="Date of the current list when this was recorded.")
    model_version: str


class CharityPage(BaseModel):
    charity_number: str
    charity_name: str
    as_of: date
    model: ModelInfo
    review_list: ListStatus = Field(description="The review list the charity is on, or why it is on neither.")
    list_title: str = Field(description="The list, or the charity's standing, in words.")
    why: str = Field(description="Why the charity is on that list, or on neither.")
    score: float = Field(description="Its list's model's score (the proactive model's when on neither list).")
    rank: int | None = Field(description="Rank within its list; None when on neither list.")
    listed: int | None = Field(description="Charities on its list; None when on neither list.")
    capacity: int | None = Field(description="Reviews a year its list is sized to; None when on neither list.")
    rank_percentile: float | None
    risk_band: RiskBand | None
    within_capacity: bool | None
    local_authority: str | None
    income_band: str
    constitutional_form: str | None
    reasons: list[Reason]
    base_rate: float | None = Field(None, description="The chance for a typical charity its list's model scores "
                                                     "(the base value as a probability); None without reasons.")
    other_factors_points: float | None = Field(None, description="What the factors not among the reasons add, in "
                                                                "percentage points: base rate + steps + this = score.")
    what_changed: WhatChanged | None = Field(description="Since the as-of date a year earlier; None when the "
                                                         "charity was not scored then.")
    returns: list[ReturnRow]
    feedback: list[FeedbackOut]


class ModelVersionInfo(BaseModel):
    version: str
    model: str | None
    run_id: str | None
    training_run_id: str | None = Field(description="The training run the version's review lists came from.")
    created_at: datetime | None
    aliases: list[str]
    is_champion: bool
    is_serving: bool
    capacities: dict[str, int]
    metrics: dict[str, float] = Field(description="Each list's champion on the regulator's labels "
                                                  "('proactive.precision_at_k_mean' over the folds that chose it, "
                                                  "'proactive.holdout_precision_at_k' on the held-out latest fold), "
                                                  "and on a simulated world against the truth ('truth.*').")


class ModelsOut(BaseModel):
    registered_model: str
    champion_alias: str
    champion_version: str | None
    serving_version: str
    versions: list[ModelVersionInfo]


class ReloadOut(BaseModel):
    previous_version: str | None
    version: str
    changed: bool
    as_of: date
    listed: int = Field(description="Charities on the review lists (both together).")


class Health(BaseModel):
    status: Literal["ok", "stale", "unhealthy"] = Field(
        description="ok; stale: serving a champion the registry's alias has moved on from; unhealthy.")


class HealthDetail(Health):
    model_version: str | None = Field(None, description="The version served; none if no model could be loaded.")
    reason: str | None = Field(None, description="Why the service is unhealthy, when it is.")


class VersionOut(BaseModel):
    service_version: str
    model: ModelInfo
    as_of: date = Field(description="Date of the current review lists.")
    data_extract_date: date
    registry_champion_version: str | None = Field(
        None, description="The version the registry's champion alias names (None: it names none, or the "
                          "registry could not be read).")
    stale: bool = Field(False, description="True while the version served is not the registry's champion.")
    registry_checked_at: datetime | None = Field(None, description="When the registry was read.")


ListJobStatus = Literal["queued", "building", "done", "failed"]


class ListJobIn(BaseModel):
    """Build the lists of a date (scored by the version served)."""

    model_config = ConfigDict(extra="forbid")

    as_of: date


class ListJobOut(BaseModel):
    """A job building the lists of one as-of date: poll `poll` until it is done (or failed)."""

    id: int | None = Field(description="None when the lists were already stored and no job was needed.")
    as_of: date
    model_version: str
    status: ListJobStatus
    step: int = Field(description="The step being worked on, from 1 (0 while queued).")
    steps: int = Field(description="Steps of the job (0 until it starts).")
    progress: str = Field(description="Where the job is, in words, e.g. 'building, step 2 of 4: ...'.")
    reason: str | None = Field(None, description="Why it failed, when it did.")
    requested_by: str | None = None
    requested_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    poll: str | None = Field(None, description="Where to ask for the job's status.")
    rankings: str = Field(description="Where the lists are once stored.")


# The roles an access-log entry names: a key holder's, or `none` for a request refused before one was known.
AccessRole = Literal[tuple(role.value for role in Role) + ("none",)]


class AccessLogQuery(BaseModel):
    """Which entries of the access log to read: each filter given narrows them, and a page of them, newest first."""

    model_config = ConfigDict(extra="forbid")

    charity_number: CharityNumber | None = None
    who: KeyName | None = Field(None, description="The key holder, in any case ('anonymous' for refusals).")
    role: AccessRole | None = None
    status: Annotated[str, Field(pattern=r"^[1-5](\d\d|xx)$")] | None = Field(
        None, description="An answer's status, e.g. 403, or a class of them, e.g. 4xx.")
    since: OptionalDay = Field(None, description="From this day (UTC), inclusive.")
    until: OptionalDay = Field(None, description="To this day (UTC), inclusive.")
    page: int = Field(1, ge=1, le=MAX_PAGE)
    page_size: int = Field(100, ge=1, le=1000)

    @model_validator(mode="after")
    def _days_in_order(self) -> AccessLogQuery:
        if self.since is not None and self.until is not None and self.since > self.until:
            raise ValueError(f"since ({self.since}) is after until ({self.until})")
        return self


class AccessEntry(BaseModel):
    at: datetime
    who: str
    role: str
    method: str
    path: str
    query: str
    charity_number: str | None
    status: int
    client: str | None = Field(None, description="The address the request came from, when known.")
    origin: str | None = Field(None, description="The page the browser said the request came from (Origin, "
                                                 "else Referer), when it said.")
    detail: str | None = Field(None, description="For an export: the list, its date, the model version, the "
                                                 "filter and the rows returned (JSON).")


class AccessLogPage(BaseModel):
    total: int
    page: int
    page_size: int
    items: list[AccessEntry]


class Problem(BaseModel):
    """The body of a refusal other than a 422 (no key, a role without the right, not found, unavailable)."""

    detail: str = Field(description="What went wrong, in words.")
