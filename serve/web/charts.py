"""Geometry of the charity page's two small charts, drawn by the template as inline SVG.

Pure functions of what the charity page already holds: no model logic, only layout.
"""

from __future__ import annotations

from dataclasses import dataclass

from serve.schemas import CharityPage, ReturnRow

WATERFALL_WIDTH = 720
LABEL_WIDTH = 300
ROW_HEIGHT = 30


@dataclass(frozen=True)
class Step:
    label: str
    value: float  # percentage points for a step, percent for a total
    x: float
    width: float
    y: float
    direction: str  # up, down or total


@dataclass(frozen=True)
class Waterfall:
    steps: list[Step]
    zero_x: float
    height: int
    width: int
    label_width: int


def waterfall(page: CharityPage) -> Waterfall | None:
    """The chance of a typical charity, each reason's step in percentage points (raising ones first, as
    `risk_model.lists.points` orders them), the other factors' step, and the charity's score, in percent."""
    if page.base_rate is None or page.other_factors_points is None or not page.reasons:
        return None
    ordered = sorted(page.reasons, key=lambda r: (r.direction != "up", r.position))
    other_points, score = page.other_factors_points, page.score
    running = 100.0 * page.base_rate
    spans = [("A typical charity", running, 0.0, running, "total")]
    for reason in ordered:
        spans.append((reason.label, reason.contribution_points, running, running + reason.contribution_points,
                      reason.direction))
        running += reason.contribution_points
    spans.append(("All other factors", other_points, running, running + other_points,
                  "up" if other_points >= 0 else "down"))
    spans.append(("Its score", 100.0 * score, 0.0, 100.0 * score, "total"))
    high = max(max(a, b) for _, _, a, b, _ in spans)
    plot = WATERFALL_WIDTH - LABEL_WIDTH - 80
    scale = plot / (high or 1.0)

    def x(value: float) -> float:
        return LABEL_WIDTH + max(value, 0.0) * scale

    steps = [Step(label, value, min(x(a), x(b)), max(abs(x(b) - x(a)), 1.0), 10 + i * ROW_HEIGHT, direction)
             for i, (label, value, a, b, direction) in enumerate(spans)]
    return Waterfall(steps, x(0.0), 20 + len(steps) * ROW_HEIGHT + 20, WATERFALL_WIDTH, LABEL_WIDTH)


@dataclass(frozen=True)
class YearBars:
    year: str
    x: float
    income_y: float | None
    income_h: float
    spending_y: float | None
    spending_h: float


@dataclass(frozen=True)
class MoneyChart:
    years: list[YearBars]
    bar_width: float
    top_gbp: float
    height: int
    width: int
    base_y: float


def money_chart(returns: list[ReturnRow], width: int = 640, height: int = 220) -> MoneyChart | None:
    """Income beside spending for each return, on one scale."""
    rows = [r for r in returns if r.income_gbp is not None or r.expenditure_gbp is not None]
    if not rows:
        return None
    top = max(max(r.income_gbp or 0.0, r.expenditure_gbp or 0.0) for r in rows) or 1.0
    left, base_y, plot_h = 70.0, height - 30.0, height - 50.0
    slot = (width - left - 10) / len(rows)
    bar = max(min(slot * 0.38, 28.0), 2.0)

    def bar_of(value: float | None) -> tuple[float | None, float]:
        if value is None:
            return None, 0.0
        h = max(value, 0.0) / top * plot_h
        return base_y - h, h

    years = []
    for i, row in enumerate(rows):
        income_y, income_h = bar_of(row.income_gbp)
        spending_y, spending_h = bar_of(row.expenditure_gbp)
        years.append(YearBars(str(row.year_end.year), left + i * slot + slot / 2, income_y, income_h, spending_y,
                              spending_h))
    return MoneyChart(years, bar, top, height, width, base_y)
