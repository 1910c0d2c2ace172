"""A case officer's explanation in a real browser: points and the base rate, a legend with the bands,
and no log-odds anywhere on the page (auditors read those in the API)."""

from __future__ import annotations

import re

import httpx
import pytest

from risk_model.domain.bands import RISK_BANDS
from serve.internal.security import Role
from tests.support import serve as support
from tests.support.browser import require_a_browser, shots

pytestmark = [pytest.mark.service, pytest.mark.browser]

require_a_browser()


def _top_of(base_url: str, review_list: str) -> str:
    response = httpx.get(f"{base_url}/rankings", params={"list": review_list, "page_size": 1},
                         headers=support.headers(Role.analyst), trust_env=False, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()["items"][0]["charity_number"]


def _percent(text: str) -> float:
    return float(text.rstrip("%"))


def test_a_case_officer_reads_a_top_charitys_explanation_in_points_with_a_legend(signed_in, base_url):
    number = _top_of(base_url, "proactive")
    page = signed_in(Role.case_officer)
    assert page.goto(f"/ui/charities/{number}").status == 200
    assert "log-odds" not in page.content().lower()

    explained = page.locator(".explanation").inner_text()
    base = re.search(r"has a (\d+\.\d)% chance \(the base rate\)", explained)
    score = re.search(r"score is (\d+\.\d)%, (\d+\.\d) times the chance of a typical charity", explained)
    assert base and score, explained
    steps = [float(p) for p in re.findall(r"^.*\t([+-]\d+\.\d) points$", page.locator("table.reasons").inner_text(),
                                          re.MULTILINE)]
    assert len(steps) >= 2, page.locator("table.reasons").inner_text()
    # Base rate, each reason's step and the other factors' end at the score (to the rounding shown).
    assert abs(float(base.group(1)) + sum(steps) - float(score.group(1))) <= 0.05 * (len(steps) + 2)
    bars = page.locator("svg.chart text.value").all_text_contents()
    assert bars[0] == f"{base.group(1)}%" and f"{score.group(1)}%" in bars

    legend = page.locator(".legend-box").inner_text()
    assert "the calibrated chance that an inquiry opened within the year ended in guidance or regulatory action" in legend
    for name, floor in RISK_BANDS:
        assert name in legend
        if floor > 0:
            assert f"from the {floor:g}th percentile" in legend
    shots(page, "charity_explained")


def test_the_list_page_has_the_legend_too(signed_in):
    page = signed_in(Role.analyst)
    page.goto("/ui/list?list=triage")
    legend = page.locator(".legend-box").inner_text()
    assert "the calibrated chance that" in legend and "the top 1% of the list" in legend
    assert "log-odds" not in page.content().lower()
