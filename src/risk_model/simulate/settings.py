"""The simulated world's settings: its size, period, seed and every coefficient of its story.

Settings only: nothing here draws a number. The story they drive is told in `world`.
"""

from __future__ import annotations

from pydantic import BaseModel, Field, model_validator

from risk_model.config import DEFAULT_SEED


class SimulationConfig(BaseModel, frozen=True, extra="forbid"):
    """Size, period and hidden-risk coefficients of one simulated world."""

    # the world
    charities: int = Field(
        25_000, gt=0,
        description="Charities ever on the register over the period.",
    )
    first_year: int = Field(2008, ge=1960, description="First calendar year simulated.")
    last_year: int = Field(
        2025,
        description="Last year simulated; the extract is dated 31 December of it.",
    )
    seed: int = Field(DEFAULT_SEED, ge=0, description="Seed of the numpy random generator.")
    registration_rate: float = Field(
        0.035, ge=0, lt=1, description="New registrations a year, as a share of the register.")
    exit_hazard: float = Field(
        0.022, ge=0, lt=0.5,
        description="Yearly chance of leaving for an established, ordinary-sized charity.",
    )

    # misconduct: p = sigmoid(base + per_sd * z + year effect)
    misconduct_base_log_odds: float = Field(
        -6.0, description="Log-odds of misconduct in a year at propensity z = 0.")
    misconduct_log_odds_per_sd: float = Field(
        1.4, description="Added log-odds of misconduct per standard deviation of propensity.")
    misconduct_year_sd_log_odds: float = Field(
        0.15, ge=0, description="Spread of the common year effect on misconduct log-odds.")
    propensity_persistence: float = Field(
        0.95, ge=0, le=1,
        description="Year-to-year correlation of propensity (1: it never drifts).",
    )
    young_charity_propensity_sd: float = Field(
        0.8, description="Extra propensity of a newly registered charity, in standard deviations.")
    young_charity_years: float = Field(
        4.0, gt=0, description="Years over which the young-charity extra fades by a factor of e.")
    misconduct_stop_rate: float = Field(
        0.3, ge=0, le=1, description="Yearly chance that a charity stops its misconduct of its own accord.")
    change_only_share: float = Field(
        0.5, ge=0, le=1,
        description="Share of episodes that show in the returns only as change, not in the level signals.")
    change_year_end_share: float = Field(
        0.3, ge=0, le=1, description="Share of change-only episodes that come with a new financial year end.")

    # signals in the annual return
    late_filing_base_log_odds: float = Field(
        -2.6, description="Log-odds that accounts arrive after the due date, at z = 0.")
    late_filing_log_odds_per_sd: float = Field(
        0.6, description="Added log-odds of late accounts per standard deviation of propensity.")
    missing_return_base_log_odds: float = Field(
        -4.0, description="Log-odds that accounts never arrive, at z = 0.")
    missing_return_log_odds_per_sd: float = Field(
        0.8, description="Added log-odds of missing accounts per standard deviation of propensity.")
    overspend_base_log_odds: float = Field(
        -2.8, description="Log-odds of starting a spell of spending well above income, at z = 0.")
    overspend_log_odds_per_sd: float = Field(
        0.7,
        description="Added log-odds of an overspending spell per standard deviation of propensity.",
    )
    income_swing_base_log_odds: float = Field(
        -3.2, description="Log-odds of an abrupt one-year income swing, at z = 0.")
    income_swing_log_odds_per_sd: float = Field(
        0.5, description="Added log-odds of an income swing per standard deviation of propensity.")
    fewer_trustees_per_sd: float = Field(
        0.7, description="Trustees fewer, on average, per standard deviation of propensity.")
    trading_share_log_per_sd: float = Field(
        0.4,
        description="Log-multiplier of the trading-income weight per standard deviation of z.",
    )
    misconduct_signal_log_odds: float = Field(
        1.0, description="Extra log-odds of each level signal in a year of misconduct (not change-only).")
    passthrough_share_of_income: tuple[float, float] = Field(
        (0.3, 0.9),
        description="Range of the money passed through 'other' income and spending in a change-only episode, "
                    "as a share of usual income.",
    )

    # ordinary life: innocent changes that look like misconduct's (yearly chances)
    new_grant_rate: float = Field(0.03, ge=0, le=1, description="A new grant lifts charitable-activities income.")
    shop_opened_rate: float = Field(0.015, ge=0, le=1, description="A shop lifts trading income and fundraising costs.")
    board_renewed_rate: float = Field(0.04, ge=0, le=1, description="The board grows or shrinks by 2-4 trustees.")
    volunteers_change_rate: float = Field(0.03, ge=0, le=1, description="Volunteer numbers move to a new level.")
    year_end_change_rate: float = Field(0.01, ge=0, le=1, description="A new financial year end.")
    one_off_income_rate: float = Field(
        0.03, ge=0, le=1, description="Chance a return holds a one-off legacy or asset sale in 'other' income.")

    # the case log
    concern_base_log_rate: float = Field(
        -4.3,
        description="Log of the yearly expected concerns about a £25k charity outside the cities.",
    )
    concern_visibility_log_rate: float = Field(
        0.4, description="Added log-rate of concerns per tenfold income above £25k.")
    concern_city_log_rate: float = Field(
        0.4, description="Added log-rate of concerns for charities based in the four cities.")
    concern_propensity_log_rate: float = Field(
        0.2, description="Added log-rate of concerns per standard deviation of propensity.")
    concern_misconduct_rate: float = Field(
        0.55, ge=0, description="Extra expected concerns in a year of misconduct.")
    inquiry_base_log_odds: float = Field(
        -0.2,
        description="Log-odds that a concern opens an inquiry (innocent charity, clean returns).",
    )
    inquiry_misconduct_log_odds: float = Field(
        2.0, description="Added log-odds of an inquiry when the misconduct is real.")
    inquiry_signal_log_odds: float = Field(
        0.4, description="Added log-odds of an inquiry per warning sign in the latest return.")
    regulatory_action_base_log_odds: float = Field(
        -2.6,
        description="Log-odds that an inquiry into an innocent charity ends in regulatory action.",
    )
    regulatory_action_misconduct_log_odds: float = Field(
        3.8, description="Added log-odds of regulatory action when the misconduct is real.")
    guidance_base_log_odds: float = Field(
        -0.6, description="Log-odds of guidance for an inquiry into an innocent charity that ends without action.")
    guidance_misconduct_log_odds: float = Field(
        1.6, description="Added log-odds of guidance (rather than no action) when the misconduct is real.")

    @model_validator(mode="after")
    def _period_in_order(self) -> SimulationConfig:
        if self.last_year < self.first_year:
            raise ValueError(f"last_year {self.last_year} is before first_year {self.first_year}")
        return self
