"""An analyst's journey in a real browser: a filter typed in lower case or picked from the values offered,
the capacity box following it, a page past the end, and the CSV with the reasons in words."""

from __future__ import annotations

import csv
import io
import json
import re
from collections import Counter
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from risk_model.domain.vocab import PURPOSE_SHORT
from risk_model.evaluate import wilson_interval
from risk_model.findings import TARGET_LABEL
from risk_model.lists.rank import LIST_COLUMNS, REASON_JOINER, with_reasons
from risk_model.lists.reasons import REASON_COLUMNS
from serve.internal.security import Role
from tests.support import serve as support
from tests.support.browser import require_a_browser, shots

pytestmark = [pytest.mark.service, pytest.mark.browser]

require_a_browser()

CAPACITY = support.CAPACITIES["proactive"]


def api_page(base_url: str, **params) -> dict:
    response = httpx.get(f"{base_url}/rankings", params={"page_size": 1000, **params},
                         headers=support.headers(Role.analyst), trust_env=False, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def api_list(base_url: str, **params) -> list[dict]:
    """A list's first 1,000 rows matching the filters, as the API gives them."""
    return api_page(base_url, **params)["items"]


def table_rows(page) -> list[list[str]]:
    return [[cell.strip() for cell in row.locator("td").all_inner_texts()]
            for row in page.locator("table.ranked tbody tr").all()]


def expected_in_box(page) -> tuple[int | None, str]:
    """The capacity box's count of matching rows in the top k (None unfiltered) and the scores' sum it gives."""
    box = page.locator(".capacity").inner_text()
    count = re.search(r"(\d+) of the list's top \d+ match", box)
    return (int(count.group(1)) if count else None), re.search(r"add up to (\d+\.\d)", box).group(1)


def validated_in_area(world, folder: Path, area: str, k: int) -> str:
    """What the proactive champion's top k held in the area in validation, out of fold, as the page prints it:
    the mean over the folds of the area's rows in each fold's top k and of the label's positives among them."""
    client = MlflowClient(tracking_uri=world.tracking_uri)
    run_id = client.get_model_version(support.REGISTERED_MODEL, world.champion_version).tags["parent_run_id"]
    for name in ("review_lists.json", "predictions.parquet"):
        client.download_artifacts(run_id, name, str(folder))
    champion = json.loads((folder / "review_lists.json").read_text())["champions"]["proactive"]
    predictions = pd.read_parquet(folder / "predictions.parquet")
    mine = predictions.loc[(predictions["review_list"] == "proactive") & (predictions["model"] == champion)]
    tops = [fold.sort_values("score", ascending=False, kind="stable").head(k) for _, fold in mine.groupby("fold")]
    ours = [top.loc[top["main_operating_location"] == area] for top in tops]
    rows = [len(top) for top in ours]
    positives = [top[TARGET_LABEL["proactive"]].fillna(0).sum() for top in ours]
    low, high = wilson_interval(int(sum(positives)), sum(rows))
    return (f"numbered on average {np.mean(rows):.1f} and held on average {np.mean(positives):.1f} charities",
            f"{int(sum(positives))} of {sum(rows)} in all ({low * 100:.0f}% to {high * 100:.0f}%, a 95% interval)")


def test_an_analyst_filters_sees_the_capacity_box_follow_and_downloads_the_reasons(signed_in, base_url, world,
                                                                                 tmp_path):
    page = signed_in(Role.analyst)
    whole = api_list(base_url)
    assert expected_in_box(page) == (None, f"{sum(r['score'] for r in whole[:CAPACITY]):.1f}")
    # The area with the most charities within capacity, typed in lower case.
    area = Counter(r["local_authority"] for r in whole[:CAPACITY] if r["local_authority"]).most_common(1)[0][0]
    offered = page.locator("datalist#areas option").evaluate_all("options => options.map(o => o.value)")
    assert area in offered and len(offered) > 5
    page.get_by_label("Area", exact=True).fill(area.lower())
    page.get_by_role("button", name="Apply").click()
    page.wait_for_load_state()
    assert page.get_by_label("Area", exact=True).input_value() == area
    rows = table_rows(page)
    assert rows and {row[3] for row in rows} == {area}

    within = [r for r in api_list(base_url, local_authority=area) if r["within_capacity"]]
    assert page.locator("table.ranked tbody tr.within").count() == len(within) < CAPACITY
    box = page.locator(".capacity").inner_text()
    assert f"Filtered by area {area}" in box
    assert expected_in_box(page) == (len(within), f"{sum(r['score'] for r in within):.1f}")
    assert f"top {CAPACITY} held on average" in box and "Before any filter" in box
    means, in_all = validated_in_area(world, tmp_path, area, CAPACITY)
    assert " ".join(box.split()).count(means) == 1 and in_all in " ".join(box.split())
    # The whole list's figure has its interval too, from the counts it shows.
    hits, slots, low, high = map(int, re.search(r"\((\d+) of (\d+) in all, (\d+)% to (\d+)% a 95% interval\)",
                                                " ".join(box.split())).groups())
    assert (low, high) == tuple(round(x * 100) for x in wilson_interval(hits, slots)) and slots >= CAPACITY
    shots(page, "analyst_list_filtered")

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download CSV").click()
    text = Path(download_info.value.path()).read_text()
    empty = pd.DataFrame({c: pd.Series(dtype=object) for c in LIST_COLUMNS})
    command_line = list(with_reasons(empty, pd.DataFrame({c: pd.Series(dtype=object) for c in REASON_COLUMNS})))
    assert next(csv.reader(io.StringIO(text))) == [*command_line, "purposes"]
    exported = list(csv.DictReader(io.StringIO(text)))
    assert len(exported) == len(api_list(base_url, local_authority=area)) >= len(rows)
    assert [(r["rank"], r["charity_number"]) for r in exported[:len(rows)]] == [(row[0], row[1]) for row in rows]
    assert {r["main_operating_location"] for r in exported} == {area}
    for shown, row in zip(rows, exported[:len(rows)], strict=True):
        # The page's top reason is the first of the reasons up the CSV gives, in the same words.
        assert row["reasons_up"].split(REASON_JOINER)[0] == shown[8] if shown[8] != "–" else not row["reasons_up"]
        assert not row["purposes"] or set(row["purposes"].split("; ")) <= set(PURPOSE_SHORT)
    assert any(row["reasons_up"] for row in exported)


def test_a_purpose_is_offered_in_words_an_unknown_area_refused_and_a_page_past_the_end_shows_the_last(signed_in, base_url):
    page = signed_in(Role.analyst)
    page.get_by_label("Purpose", exact=True).select_option(label="The advancement of health")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_load_state()
    assert "purpose=health" in page.url
    box = page.locator(".capacity").inner_text()
    assert "Filtered by purpose The advancement of health" in box
    assert "do not record the purpose" in box and "validation gives no figure for these filters" in box

    response = page.goto("/ui/list?local_authority=glasgw+cty")
    assert response.status == 422
    refusal = page.get_by_role("alert").inner_text()
    assert "local_authority" in refusal and "did you mean 'Glasgow City'" in refusal

    listed = api_page(base_url, page_size=1)["total"]
    pages = -(-listed // 50)
    page.goto("/ui/list?page=99999")
    assert page.locator(".pager").inner_text().count(f"Page {pages} of {pages}") == 1
    assert "Page 99999 is past the end" in page.locator("p.note[role=status]").inner_text()
    assert [int(row[0]) for row in table_rows(page)][-1] == listed
    shots(page, "analyst_list_past_the_end")


def test_an_analyst_builds_the_lists_of_another_date_and_watches_them_come(signed_in, base_url):
    as_of = "2020-12-31"
    page = signed_in(Role.analyst)
    page.goto(f"/ui/list?as_of={as_of}")
    assert page.get_by_role("heading", name="Not built yet").count() == 1
    shots(page, "list_not_built")
    page.get_by_role("button", name=f"Build the lists as of {as_of}").click()
    page.wait_for_load_state()
    # The job's page, refreshing itself, until the lists are stored (a small world: seconds, not minutes).
    building = page.get_by_role("heading", name="Being built")
    if building.count():
        assert as_of in page.get_by_role("status").inner_text()
        shots(page, "list_being_built")
    page.get_by_role("heading", name=f"Review lists as of {as_of}").wait_for(timeout=180_000)
    page.locator("table.ranked").wait_for(timeout=180_000)
    assert table_rows(page) and api_page(base_url, as_of=as_of, page_size=1)["as_of"] == as_of
