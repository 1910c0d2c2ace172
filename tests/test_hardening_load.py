"""A bounded load test on the service as a real process: 2,000 reads at concurrency 32, the champion
reloaded halfway through, and not one request failed.

The reads are what the service's users send: an analyst's pages of the two review lists (filtered,
sorted, paged), scores for charities sent with their records as they are in the data (answered from the
stored list, with their reasons), a few with one figure changed (scored afresh, micro-batched), and
now and then a case officer's charity page. When half the requests have been answered, the champion
alias moves to a second registered version and an admin calls `POST /models/reload`. The last
`SENT_AFTER_THE_RELOAD` requests wait until the reload has answered, so that the run has requests on
both sides of the swap however long the reload takes:

    requests answered:  0 ........... 1,000 ........................... 1,600 ......... 2,000
    version served:     old          | reload in flight: old or new     | new (sent after it answered)

The figures (wall time, requests per second) are printed, never asserted: speed claims live in
`benchmarks/serve.py`. The suite sends 2,000; `RISK_SERVE_LOAD_REQUESTS=20000` sends more (the last
fifth still after the reload), for a longer run before a release:

    RISK_SERVE_LOAD_REQUESTS=20000 python -m pytest tests/test_hardening_load.py -s
"""

from __future__ import annotations

import copy
import itertools
import json
import os
import threading
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import httpx
import pytest
from mlflow.tracking import MlflowClient

from risk_model.features import prepare_returns
from risk_model.lists.records import records_from_tables
from serve.internal.security import Role
from tests.support import hardening
from tests.support import serve as support

pytestmark = pytest.mark.service

# Enough for every kind of read on both sides of a reload, in about a minute of the suite's time.
REQUESTS = int(os.environ.get("RISK_SERVE_LOAD_REQUESTS", "2000"))
CONCURRENCY = 32
SENT_AFTER_THE_RELOAD = REQUESTS // 5
# Each 20 calls: 11 single scores and 2 of ten charities from the stored list, 5 list pages, 2 /version.
# Rarer, as they cost the service a pass of the library each (features, score, reasons): every 200th is a
# score of changed records, every 1,000th a charity page (which explains the charity at two dates).
SCORED_AFRESH_EVERY = 200
CHARITY_PAGE_EVERY = 1_000
TRANSPORT_ERRORS_TO_GIVE_UP = 100  # a dead service fails every request fast; stop instead of sending them all

ANALYST = support.headers(Role.analyst)
CASE_OFFICER = support.headers(Role.case_officer)
AUDITOR = support.headers(Role.auditor)
ADMIN = support.headers(Role.admin)
JSON_BODY = {"Content-Type": "application/json"}


@dataclass(frozen=True)
class Call:
    """One request of the run, built before it starts so that sending it costs the client little."""

    kind: str
    method: str
    path: str
    headers: dict[str, str]
    params: dict | None = None
    body: bytes | None = None
    logged: int = 1  # access-log entries it makes: one per charity read, or one


@dataclass(frozen=True)
class Outcome:
    """What came back for one call; `problem` says why an answer cannot be counted as a success."""

    call: Call
    sent_at: float
    answered_at: float
    status: int | None  # None: no HTTP answer at all
    version: str | None = None
    stored_scores: tuple[tuple[str, float], ...] = ()  # (charity number, score) read from a stored list
    problem: str = ""


@dataclass
class Timeline:
    """When the reload was asked for and answered, and what it answered; the events the threads wait on."""

    half_answered: threading.Event = field(default_factory=threading.Event)
    reload_answered: threading.Event = field(default_factory=threading.Event)
    give_up: threading.Event = field(default_factory=threading.Event)
    reload_sent_at: float = float("inf")
    reload_answered_at: float = float("inf")
    reload: httpx.Response | None = None
    reload_error: str = ""


@pytest.fixture
def challenger(own_world):
    """The world's second registered version (other pipelines, other capacities), not champion until the
    test makes it so (in a registry of the test's own)."""
    return own_world.challenger_version


@pytest.fixture
def service(own_world, challenger, tmp_path):
    """The service on the first champion, in its own process; stopped (or killed) whatever happens."""
    process = hardening.ServiceProcess(support.settings_for(own_world, f"sqlite:///{tmp_path / 'service.db'}"),
                                       tmp_path / "service.log")
    try:
        yield process.start()
    finally:
        process.stop()


def plan(listed: list[dict], tables) -> list[Call]:
    """The run's calls, in order: a fixed mix over the charities at the top of the list."""
    top = [row["charity_number"] for row in listed[:200]]
    records = records_from_tables(tables.register, prepare_returns(tables.returns), tables.case_log, top)
    changed = []
    for number in top:
        if records[number]["returns"]:
            record = copy.deepcopy(records[number])
            record["returns"][-1]["income_gbp"] = (record["returns"][-1]["income_gbp"] or 0) + 1
            changed.append(record)
    # every charity page, including those of charities registered within the year (no features a year
    # earlier, so "what changed" compares with nothing)
    pages = list(top)

    authorities = sorted({row["local_authority"] for row in listed if row["local_authority"]})
    incomes = sorted({row["income_band"] for row in listed})
    purposes = sorted({p for row in listed for p in row["purposes"]})
    bands = sorted({row["risk_band"] for row in listed})

    rankings = [
        lambda pick: {"page_size": 25},
        lambda pick: {"page": 2 + pick % 10, "page_size": 50},
        lambda pick: {"local_authority": authorities[pick % len(authorities)], "page_size": 25},
        lambda pick: {"band": bands[pick % len(bands)], "sort": "-score", "page_size": 25},
        lambda pick: {"income_band": incomes[pick % len(incomes)], "sort": "charity_name"},
        lambda pick: {"purpose": purposes[pick % len(purposes)],
                      "local_authority": authorities[pick % len(authorities)]},
        lambda pick: {"list": "triage", "sort": ("rank", "-score")[pick % 2]},
    ]

    def score(charities: list[dict], kind: str) -> Call:
        return Call(kind, "POST", "/score", ANALYST | JSON_BODY, body=json.dumps({"charities": charities}).encode(),
                    logged=len(charities))

    def call(i: int) -> Call:
        pick, slot = divmod(i, 20)
        if i % CHARITY_PAGE_EVERY == CHARITY_PAGE_EVERY - 1:
            return Call("charity page", "GET", f"/charities/{pages[i // CHARITY_PAGE_EVERY % len(pages)]}",
                        CASE_OFFICER)
        if i % SCORED_AFRESH_EVERY == SCORED_AFRESH_EVERY // 2:
            return score([changed[i // SCORED_AFRESH_EVERY % len(changed)]], "score changed")
        if slot < 11:
            return score([records[top[i % len(top)]]], "score stored")
        if slot < 13:
            start = pick % (len(top) - 10)
            return score([records[n] for n in top[start:start + 10]], "score stored x10")
        if slot < 18:
            return Call("rankings", "GET", "/rankings", ANALYST, params=rankings[(pick + slot) % len(rankings)](pick))
        return Call("version", "GET", "/version", ANALYST)

    assert pages and changed and authorities
    return [call(i) for i in range(REQUESTS)]


def read(call: Call, response: httpx.Response, sent_at: float, answered_at: float) -> Outcome:
    """The outcome of an answered call: its model version and the stored scores it read."""
    done = {"call": call, "sent_at": sent_at, "answered_at": answered_at, "status": response.status_code}
    if response.status_code != 200:
        return Outcome(**done, problem=response.text[:500])
    body = response.json()
    version = body["model"]["version"]
    if call.kind.startswith("score"):
        stored = {r["from_stored_list"] for r in body["results"]}
        if stored != {call.kind != "score changed"}:
            return Outcome(**done, version=version, problem=f"from_stored_list {stored} for {call.kind!r}")
        scores = [] if call.kind == "score changed" else [(r["charity_number"], r["score"]) for r in body["results"]]
    elif call.kind == "rankings":
        scores = [(r["charity_number"], r["score"]) for r in body["items"]]
    elif call.kind == "charity page":
        scores = [(body["charity_number"], body["score"])]
    else:
        scores = []
    return Outcome(**done, version=version, stored_scores=tuple(scores))


def drive(url: str, calls: list[Call], timeline: Timeline, move_champion) -> list[Outcome]:
    """Send every call from CONCURRENCY workers, each on its own kept-alive connection, and reload the
    champion once half are answered; the last SENT_AFTER_THE_RELOAD wait for the reload's answer."""
    outcomes: list[Outcome] = []
    lock = threading.Lock()
    indexes = itertools.count()
    transport_errors = 0

    def next_call() -> Call | None:
        with lock:
            i = next(indexes)
        if i >= len(calls) or timeline.give_up.is_set():
            return None
        if i >= len(calls) - SENT_AFTER_THE_RELOAD:
            timeline.reload_answered.wait()
        return calls[i]

    def worker() -> None:
        nonlocal transport_errors
        with httpx.Client(base_url=url, timeout=120, trust_env=False) as client:
            while (call := next_call()) is not None:
                sent_at = time.monotonic()
                try:
                    response = client.request(call.method, call.path, params=call.params, content=call.body,
                                              headers=call.headers)
                except httpx.HTTPError as exc:
                    outcome = Outcome(call, sent_at, time.monotonic(), None, problem=f"{type(exc).__name__}: {exc}")
                else:
                    answered_at = time.monotonic()
                    try:
                        outcome = read(call, response, sent_at, answered_at)
                    except (ValueError, KeyError, TypeError) as exc:  # an answer not in the documented shape
                        outcome = Outcome(call, sent_at, answered_at, response.status_code,
                                          problem=f"unreadable answer ({exc!r}): {response.text[:300]}")
                with lock:
                    outcomes.append(outcome)
                    transport_errors += outcome.status is None
                    if transport_errors >= TRANSPORT_ERRORS_TO_GIVE_UP:
                        timeline.give_up.set()
                    if len(outcomes) == len(calls) // 2:
                        timeline.half_answered.set()

    def reloader() -> None:
        try:
            while not timeline.half_answered.wait(0.5):
                if timeline.give_up.is_set():
                    return
            move_champion()
            timeline.reload_sent_at = time.monotonic()
            timeline.reload = httpx.post(f"{url}/models/reload", headers=ADMIN, timeout=300, trust_env=False)
            timeline.reload_answered_at = time.monotonic()
        except Exception as exc:  # reported with the rest; the held-back calls must still go
            timeline.reload_error = f"{type(exc).__name__}: {exc}"
        finally:
            timeline.reload_answered.set()

    reloading = threading.Thread(target=reloader, name="reloader")
    reloading.start()
    try:
        with ThreadPoolExecutor(CONCURRENCY, thread_name_prefix="load") as pool:
            for future in [pool.submit(worker) for _ in range(CONCURRENCY)]:
                future.result()
    finally:
        timeline.give_up.set()  # lets the reloader go if the workers stopped before half were answered
        reloading.join()
    return outcomes


def failures_summary(outcomes: list[Outcome], service: hardening.ServiceProcess) -> str:
    failed = [o for o in outcomes if o.status != 200 or o.problem]
    kinds = Counter((o.call.kind, o.status, o.problem[:120]) for o in failed)
    examples = "\n".join(f"  {o.call.method} {o.call.path} {o.call.params or ''}: {o.status} {o.problem}"
                         for o in failed[:20])
    return (f"{len(failed)} of {len(outcomes)} failed; by (kind, status, problem): {dict(kinds.most_common(20))}\n"
            f"first ones:\n{examples}\nservice log (tail):\n{service.log()}")


def test_reads_at_concurrency_32_with_a_reload_halfway_fail_none(own_world, world_tables, challenger, service):
    world = own_world
    old = world.champion_version
    with httpx.Client(base_url=service.url, timeout=60, trust_env=False) as client:
        listed = client.get("/rankings", params={"page_size": 1000}, headers=AUDITOR)
        assert listed.status_code == 200, listed.text
        assert listed.json()["model"]["version"] == old
    calls = plan(listed.json()["items"], world_tables)
    registry = MlflowClient(tracking_uri=world.tracking_uri)
    timeline = Timeline()

    started = time.monotonic()
    outcomes = drive(service.url, calls, timeline,
                     lambda: registry.set_registered_model_alias(support.REGISTERED_MODEL, "champion", challenger))
    seconds = time.monotonic() - started

    before = [o for o in outcomes if o.answered_at < timeline.reload_sent_at]
    after = [o for o in outcomes if o.sent_at >= timeline.reload_answered_at]
    during = Counter(o.version for o in outcomes
                     if timeline.reload_sent_at <= o.answered_at and o.sent_at < timeline.reload_answered_at)
    print(f"\n{len(outcomes)} requests at concurrency {CONCURRENCY} in {seconds:.1f} s "
          f"({len(outcomes) / seconds:.0f} requests/s); reload answered in "
          f"{timeline.reload_answered_at - timeline.reload_sent_at:.1f} s; {len(before)} answered before it, "
          f"{dict(during)} while it ran (by version), {len(after)} sent after it; "
          f"mix {dict(Counter(c.kind for c in calls))}")

    assert len(outcomes) == REQUESTS, failures_summary(outcomes, service)
    assert all(o.status == 200 and not o.problem for o in outcomes), failures_summary(outcomes, service)

    assert not timeline.reload_error, timeline.reload_error
    assert timeline.reload.status_code == 200, timeline.reload.text
    reloaded = timeline.reload.json()
    assert (reloaded["previous_version"], reloaded["version"], reloaded["changed"]) == (old, challenger, True)

    # The swap happened mid-run: the old version answered everything before the reload was asked for,
    # the new one everything sent after it answered, and both answered a fair share.
    versions_before, versions_after = Counter(o.version for o in before), Counter(o.version for o in after)
    assert len(before) >= REQUESTS // 2 and set(versions_before) == {old}, versions_before
    assert len(after) >= SENT_AFTER_THE_RELOAD and set(versions_after) == {challenger}, versions_after
    assert set(during) <= {old, challenger}, during

    # Each answer came whole from one version's list: a charity has one score per version, never a mix,
    # and the new version's scores are its own, not the old list relabelled.
    scores: dict[tuple[str, str], set[float]] = defaultdict(set)
    for outcome in outcomes:
        for number, score in outcome.stored_scores:
            scores[outcome.version, number].add(score)
    assert all(len(seen) == 1 for seen in scores.values()), {k: v for k, v in scores.items() if len(v) > 1}
    both = [n for v, n in scores if v == old and (challenger, n) in scores]
    assert len(both) >= 100
    moved = sum(scores[old, n] != scores[challenger, n] for n in both)
    assert moved >= 0.9 * len(both), f"only {moved} of {len(both)} charities scored differently by the new version"

    # Still healthy, serving the new champion, with every call in the access log.
    assert service.process.poll() is None, service.log()
    with httpx.Client(base_url=service.url, timeout=60, trust_env=False) as client:
        assert client.get("/health/detail", headers=AUDITOR).json() == {"status": "ok", "model_version": challenger}
        for key_holder, key in (("analyst-tester", ANALYST), ("case_officer-tester", CASE_OFFICER)):
            logged = client.get("/access-log", params={"who": key_holder, "page_size": 1}, headers=AUDITOR)
            assert logged.status_code == 200, logged.text
            assert logged.json()["total"] == sum(c.logged for c in calls if c.headers.items() >= key.items())
