"""Benchmark: reading from the service: pages of the review lists, a charity's page, and /score for a
stored charity, on two sizes of register, with this code and (optionally) an older checkout side by side.

For each size (by default 5,000 and 25,000 charities over 2008-2025; the larger is the simulator's
default world) a world is simulated and a small grid trained once. Each code tree then serves it
(one worker, SQLite, a database of its own) and, taking turns so that both meet the same machine:

- rankings: random pages of either list, with random filters (area, band, income band, purpose)
  and orders, 50 rows a page, at concurrency 16: p50, p99 and requests a second; then the same
  requests again (a query's order of rows is worked out the first time it is asked, then kept);
- charity page: GET /charities/{number} (the API) and /ui/charities/{number} (the HTML page, signed
  in), one request at a time: p50;
- score: POST /score of a stored charity's own records (the answer, with its reasons, is the stored
  one), at concurrency 16: requests a second; sent as the library writes its records (canonical names,
  ISO dates: recognised by their fingerprint before validation), and the same facts as the regulator's
  files write them ("score, files": headers, dd/mm/yyyy dates: renamed and re-dated, then recognised so).

Each scenario but the rankings' first pass runs `--rounds` times, the servers' order alternating, and
the figures are the medians over the rounds (a shared machine's speed varies by a fifth or more from
one minute to the next).

Run: python benchmarks/reads.py [--sizes 5000,25000] [--old-tree DIR] [--postgres URL [--workers-only]]
     [--rounds 3] [--client python|wrk]
With `--old-tree`, DIR is a checkout of the code to compare with (e.g. `git worktree add /tmp/old
<commit>`): its `serve` package and its library (DIR/src) are started from DIR. With `--postgres`, URL names
an empty PostgreSQL database, and the largest world is also served from it by one uvicorn worker and
by two (`--workers 2`), the two servers up together and taking turns, rankings and score measured on each. Targets: rankings p99 under 50 ms
and at least 20x the old throughput; charity page p50 under 30 ms; /score at least 1,000 a second,
and the same on both sizes; two workers on PostgreSQL at least 1.6x one's throughput. `--workers-only`
measures the workers alone, on the largest world.

The load generator shares the machine with the servers: by default Python's asyncio with prebuilt requests
(`benchmarks/serve.py`), or with `--client wrk` Debian's wrk (`apt-get install wrk`: one thread, in C, far less
CPU a request), which leaves the servers more of the cores. The CPU used in each scenario is printed:
the server's, the load generator's and PostgreSQL's.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import importlib.util
import json
import os
import random
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

import httpx
import yaml

from risk_model.domain.vocab import INCOME_BANDS_GBP, PURPOSE_SHORT
from risk_model.lists.written import as_the_files_write
from risk_model.simulate.world import SimulationConfig, simulate, write_world

HERE = Path(__file__).parent
HOST = "127.0.0.1"


def _scoring_benchmark():
    """benchmarks/serve.py, loaded by its path: it holds the servers' start and stop and the lean load
    generator. (Run as a file, its name would shadow the `serve` package, so it is not imported by name.)"""
    spec = importlib.util.spec_from_file_location("scoring_benchmark", HERE / "serve.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


bench = _scoring_benchmark()


def get_requests(port: int, paths: list[str], headers: dict[str, str]) -> list[bytes]:
    head = "".join(f"{k}: {v}\r\n" for k, v in ({"Host": f"{HOST}:{port}"} | headers).items())
    return [f"GET {path} HTTP/1.1\r\n{head}\r\n".encode() for path in paths]


def as_in_files(body: bytes) -> bytes:
    """A /score body with its charities' records as the regulator's files write them: the same facts."""
    sent = json.loads(body)
    return json.dumps(sent | {"charities": [as_the_files_write(c) for c in sent["charities"]]}).encode()


def rankings_paths(areas: list[str], n: int, seed: int = 1, proactive_pages: int = 250) -> list[str]:
    """Random pages of either list, with random filters and orders: any page of the whole proactive list
    (`proactive_pages` of them), the first page otherwise (a page past the last is refused)."""
    rng = random.Random(seed)
    incomes = [name for name, _, _ in INCOME_BANDS_GBP]
    purposes = list(PURPOSE_SHORT.values())
    paths = []
    for _ in range(n):
        query = {"list": rng.choice(["proactive"] * 3 + ["triage"]), "page_size": 50,
                 "sort": rng.choice(["rank", "rank", "-score", "score", "charity_name", "-charity_number"])}
        kind = rng.random()
        if kind < 0.25:
            query["local_authority"] = rng.choice(areas)
        elif kind < 0.4:
            query["band"] = rng.choice(["very high", "high", "elevated", "low"])
        elif kind < 0.5:
            query["income_band"] = rng.choice(incomes)
        elif kind < 0.6:
            query["purpose"] = rng.choice(purposes)
        unfiltered = len(query) == 3 and query["list"] == "proactive"
        query["page"] = rng.randint(1, proactive_pages) if unfiltered else 1
        paths.append("/rankings?" + urlencode(query))
    return paths


def session_cookie(port: int, key: str) -> str:
    """Sign in on the pages' form (its token, when it has one) and return the session's cookie."""
    with httpx.Client(base_url=f"http://{HOST}:{port}", follow_redirects=False) as client:
        form = client.get("/ui/sign-in").text
        token = re.search(r'name="csrf_token" value="([^"]*)"', form)
        data = {"api_key": key} | ({"csrf_token": token.group(1)} if token else {})
        signed = client.post("/ui/sign-in", data=data, headers={"Origin": f"http://{HOST}:{port}"})
        if signed.status_code != 303:
            raise RuntimeError(f"could not sign in: {signed.status_code} {signed.text[:300]}")
        return "; ".join(f"{name}={value}" for name, value in client.cookies.items())


class Server:
    """One code tree serving one world."""

    def __init__(self, label: str, tree: Path | None, work: Path, tracking_uri: str, key: str,
                 database_url: str | None = None, workers: int = 1) -> None:
        self.label, self.port, self.key = label, bench.free_port(), key
        self.log = work / f"{label}.log"
        env = os.environ | {
            "RISK_SERVE_DATA_DIR": str(work / "data"), "RISK_SERVE_TRACKING_URI": tracking_uri,
            "RISK_SERVE_DATABASE_URL": database_url or f"sqlite:///{work / f'{label}.db'}",
            "RISK_SERVE_REGISTERED_MODEL": bench.REGISTERED_MODEL, "RISK_SERVE_WEB_HTTPS_ONLY": "false",
            "RISK_SERVE_API_KEYS": json.dumps([{"name": "benchmark", "role": "admin",
                                                 "sha256": hashlib.sha256(key.encode()).hexdigest()}]),
        } | ({"PYTHONPATH": str(Path(tree).resolve() / "src")} if tree else {})
        # Started from the tree's own folder, so that its `serve` package is the one imported, and with its
        # library first on the path, so that the whole of the old code is measured.
        command = [sys.executable, "-m", "uvicorn", "serve.main:create_app_from_env", "--factory", "--host", HOST,
                   "--port", str(self.port), "--log-level", "warning", "--workers", str(workers)]
        self.process = subprocess.Popen(command, env=env, cwd=tree or HERE.parent, stdout=self.log.open("w"),
                                        stderr=subprocess.STDOUT, start_new_session=True)

    def ready(self) -> float:
        return bench.wait_ready(f"http://{HOST}:{self.port}/health", self.process, self.log, timeout_s=1800)

    def get(self, path: str, **kwargs) -> httpx.Response:
        """A GET with the benchmark's key."""
        return httpx.get(f"http://{HOST}:{self.port}{path}", headers={"X-API-Key": self.key}, timeout=120, **kwargs)


def scenarios(server: Server, world: Path, args) -> dict[str, tuple[list[bytes], int, int]]:
    """Each scenario's prebuilt requests, how many to send and at what concurrency."""
    auth = {"X-API-Key": server.key}
    listed = server.get("/rankings", params={"page_size": 1000}).json()
    first, proactive_pages = listed["items"], -(-listed["total"] // 50)
    areas = sorted({row["local_authority"] for row in first if row["local_authority"]})
    numbers = [row["charity_number"] for row in random.Random(2).sample(first, min(200, len(first)))]
    stored, _, _ = bench.request_bodies(world / "data", 300)
    cookie = {"Cookie": session_cookie(server.port, server.key)}
    return {
        "rankings": (get_requests(server.port, rankings_paths(areas, 2000, proactive_pages=proactive_pages), auth), args.requests, args.concurrency),
        "charity API": (get_requests(server.port, [f"/charities/{n}" for n in numbers], auth), args.page_requests, 1),
        "charity HTML": (get_requests(server.port, [f"/ui/charities/{n}" for n in numbers], cookie),
                         args.page_requests, 1),
        "score": (bench.http_requests(HOST, server.port, "/score", stored, auth), args.requests, args.concurrency),
        "score, files": (bench.http_requests(HOST, server.port, "/score", [as_in_files(b) for b in stored], auth),
                         args.requests, args.concurrency),
    }


def _process_cpu(stat: Path) -> tuple[str, float]:
    """A process's command name and CPU time (user and system, seconds) from its /proc stat file."""
    name, fields = stat.read_text().split(" (", 1)[1].rsplit(")", 1)
    fields = fields.split()
    return name, (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """CPU time, user and system, of a process and its children (uvicorn's workers), from /proc."""
    total, todo = 0.0, [pid]
    while todo:
        process = todo.pop()
        try:
            _, used = _process_cpu(Path(f"/proc/{process}/stat"))
            children = Path(f"/proc/{process}/task/{process}/children").read_text().split()
        except FileNotFoundError:  # a worker that has just exited
            continue
        total += used
        todo += [int(child) for child in children]
    return total


def database_cpu_seconds() -> float:
    """CPU time, user and system, of every PostgreSQL process on the machine (by their command's name), from
    /proc: what the database costs the machine's cores (nothing when the servers use SQLite, whose work is
    the servers' own)."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            name, used = _process_cpu(stat)
        except (FileNotFoundError, ProcessLookupError):  # a process that has just exited
            continue
        total += used if name == "postgres" else 0.0
    return total


def measure(servers: list[Server], world: Path, args,
            names=("rankings", "rankings again", "charity API", "charity HTML", "score", "score, files")
            ) -> dict[str, dict[str, dict[str, float]]]:
    """Every scenario (of `names`) on every server, the servers taking turns at each, `args.rounds` times
    (the order of the servers alternating) but the rankings' first pass once: a second pass over the
    same queries would not be a first. Each figure is the median over the rounds; `rps_rounds` holds
    every round's requests a second."""
    prepared = {server.label: scenarios(server, world, args) for server in servers}

    def send(port: int, requests: list[bytes], total: int, concurrency: int, rps: float | None) -> dict[str, float]:
        """About `total` requests (wrk sends for whole seconds: as many as `total` at `rps` a second)."""
        if args.client == "wrk":
            return bench.load_wrk(HOST, port, requests, max(1, round(total / rps)) if rps else 1, concurrency)
        return asyncio.run(bench.load(HOST, port, requests, total, concurrency, warmup=0))

    results: dict[str, dict[str, dict[str, float]]] = {server.label: {} for server in servers}
    for name in names:
        runs: dict[str, list[dict[str, float]]] = {server.label: [] for server in servers}
        for round_ in range(1 if name == "rankings" else args.rounds):
            for server in servers if round_ % 2 == 0 else servers[::-1]:
                requests, total, concurrency = prepared[server.label][name.removesuffix(" again")]
                print(f"  {name}, {server.label} code, round {round_ + 1}: {total} requests at concurrency "
                      f"{concurrency}", flush=True)
                warm = send(server.port, requests, max(20, total // 5), concurrency, None)
                cpu_before, database_before = cpu_seconds(server.process.pid), database_cpu_seconds()
                run = send(server.port, requests, total, concurrency, warm["rps"])
                wall = run["requests"] / run["rps"]
                run["server_cores"] = (cpu_seconds(server.process.pid) - cpu_before) / wall
                run["client_cores"] = run.pop("client_cpu_s") / wall
                run["database_cores"] = (database_cpu_seconds() - database_before) / wall
                run["server_cpu_us"] = run["server_cores"] * wall / run["requests"] * 1e6
                runs[server.label].append(run)
        for label, measured in runs.items():
            results[label][name] = {key: (sum if key in ("failures", "requests") else statistics.median)(
                run[key] for run in measured) for key in measured[0]}
            results[label][name]["rps_rounds"] = [run["rps"] for run in measured]
    return results


def run_size(charities: int, args) -> dict[str, dict[str, dict[str, float]]]:
    with tempfile.TemporaryDirectory(prefix="reads-bench-") as tmp:
        work = Path(tmp)
        print(f"simulating {charities:,} charities, 2008-2025, and training ...", flush=True)
        write_world(simulate(SimulationConfig(charities=charities)), work / "data")
        (work / "experiment.yaml").write_text(yaml.safe_dump(bench.EXPERIMENT))
        tracking_uri = f"sqlite:///{work / 'mlflow.db'}"
        subprocess.run([sys.executable, "-m", "risk_model.cli", "train", str(work / "data"), "--config",
                        str(work / "experiment.yaml"), "--tracking-uri", tracking_uri, "--store",
                        str(work / "mlruns")], check=True, cwd=work, stdout=subprocess.DEVNULL)
        key = secrets.token_urlsafe(32)
        trees = [] if args.workers_only else [("new", None)] + ([("old", args.old_tree)] if args.old_tree else [])
        servers = []
        try:
            for label, tree in trees:
                servers.append(server := Server(label, tree, work, tracking_uri, key))
                print(f"{label} code ready in {server.ready():.0f} s", flush=True)
            print(f"loading on {charities:,} charities ...", flush=True)
            results = {} if args.workers_only else measure(servers, work, args)
            if args.postgres and charities == max(int(s) for s in args.sizes.split(",")):
                for server in servers:
                    bench.stop(server.process)
                servers[:] = []
                # One worker and two, both serving the same database (the first stores the lists, the second
                # finds them), taking turns as the trees do: the ratio is of rounds measured side by side.
                for workers in (1, 2):
                    servers.append(Server(f"pg{workers}", None, work, tracking_uri, key, args.postgres, workers))
                    print(f"PostgreSQL, {workers} worker(s): ready in {servers[-1].ready():.0f} s", flush=True)
                results |= measure(servers, work, args, names=("rankings", "rankings again", "score"))
            return results
        except Exception:
            for server in servers:
                print(f"--- last lines of {server.log.name} ---\n{server.log.read_text()[-3000:]}", file=sys.stderr)
            raise
        finally:
            for server in servers:
                bench.stop(server.process)


def _ceiling(run: dict[str, float]) -> float:
    """Requests a second the machine's cores could answer at most, at the CPU a request cost the server, the load
    generator and the database (PostgreSQL's processes) in `run`."""
    used = run["server_cores"] + run["client_cores"] + run.get("database_cores", 0.0)
    return (os.cpu_count() or 1) / (used / run["rps"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="5000,25000", help="Charities in each world, comma-separated.")
    parser.add_argument("--old-tree", type=Path, default=None, help="A checkout of the code to compare with.")
    parser.add_argument("--requests", type=int, default=3000, help="Measured requests, rankings and score.")
    parser.add_argument("--page-requests", type=int, default=300, help="Measured requests, charity pages.")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3,
                        help="Rounds of each scenario but the rankings' first pass; figures are their medians.")
    parser.add_argument("--postgres", default=None, help="An empty PostgreSQL database for the workers' run.")
    parser.add_argument("--workers-only", action="store_true",
                        help="Only the workers' run on PostgreSQL, one worker against two (needs --postgres).")
    parser.add_argument("--client", choices=("python", "wrk"), default="python",
                        help="The load generator: Python's asyncio (the default), or wrk (Debian's package "
                             "wrk), which leaves the servers more of the machine's CPU.")
    args = parser.parse_args()
    if args.workers_only and not args.postgres:
        parser.error("--workers-only measures the workers on PostgreSQL: give --postgres URL")
    if args.workers_only and args.old_tree:
        parser.error("--workers-only serves this code only: leave out --old-tree")
    sizes = [int(s) for s in args.sizes.split(",")]
    if args.workers_only:  # the workers are measured on the largest world alone
        sizes = [max(sizes)]
    started = time.perf_counter()
    by_size = {size: run_size(size, args) for size in sizes}
    print(f"\n{os.cpu_count()} CPUs shared by the load generator ({args.client}) and the servers; "
          f"{time.perf_counter() - started:.0f} s")
    report(by_size)


def report(by_size: dict[int, dict[str, dict[str, dict[str, float]]]]) -> None:
    """The figures of every size, tree and scenario, and where they stand against the targets."""
    sizes = list(by_size)
    print(f"{'':>16}{'rankings, first pass':>22}{'rankings, again':>22}{'charity page p50':>20}")
    print(f"{'charities':>10} {'code':<5}{'p50':>8}{'p99':>7}{'req/s':>7}{'p50':>8}{'p99':>7}{'req/s':>7}"
          f"{'API':>10}{'HTML':>10}{'score req/s':>13}{'files':>7}")
    for size, results in by_size.items():
        for label, r in results.items():
            if label.startswith("pg"):  # rankings and score only: their lines follow
                continue
            first, again = r["rankings"], r["rankings again"]
            print(f"{size:>10,} {label:<5}{first['p50_ms']:>8.1f}{first['p99_ms']:>7.0f}{first['rps']:>7.0f}"
                  f"{again['p50_ms']:>8.1f}{again['p99_ms']:>7.0f}{again['rps']:>7.0f}"
                  f"{r['charity API']['p50_ms']:>10.1f}{r['charity HTML']['p50_ms']:>10.1f}{r['score']['rps']:>13.0f}"
                  f"{r['score, files']['rps']:>7.0f}")
            failed = {name: int(x["failures"]) for name, x in r.items() if x["failures"]}
            if failed:
                print(f"{'':>10} {label:<5}failed requests: {failed}")
    largest = by_size[max(sizes)]
    for label in ("pg1", "pg2"):
        if label in largest:
            r = largest[label]
            print(f"{max(sizes):>10,} {label:<5}{r['rankings']['p50_ms']:>8.1f}{r['rankings']['p99_ms']:>7.0f}"
                  f"{r['rankings']['rps']:>7.0f}{r['rankings again']['p50_ms']:>8.1f}"
                  f"{r['rankings again']['p99_ms']:>7.0f}{r['rankings again']['rps']:>7.0f}{'':>20}"
                  f"{r['score']['rps']:>13.0f}")
    print()
    if "new" in largest:
        targets_on_sqlite(by_size)
    if "pg2" in largest:
        one, two = largest["pg1"], largest["pg2"]
        print("target: two workers on PostgreSQL >= 1.6x one -> "
              + ", ".join(f"{name} {two[name]['rps'] / one[name]['rps']:.2f}x"
                          for name in ("rankings", "rankings again", "score")))
        print("  round by round (the two taking turns)         -> "
              + ", ".join(f"{name} " + " ".join(f"{b / a:.2f}x" for a, b in zip(one[name]["rps_rounds"],
                                                                                  two[name]["rps_rounds"], strict=True))
                          for name in ("rankings again", "score")))
        # The most two workers could answer on this machine: its cores, shared with the load generator and the
        # database, over what a request cost the three together.
        print("  ceiling on these cores with this load generator -> "
              + ", ".join(f"{name} {_ceiling(two[name]) / one[name]['rps']:.2f}x"
                          for name in ("rankings", "rankings again", "score")))
    print("\nCPU (medians of rounds): the server's cores in use and its CPU per request, the load generator's "
          "cores and PostgreSQL's")
    for size, results in by_size.items():
        for label, r in results.items():
            print(f"{size:>10,} {label:<5}" + "  ".join(
                f"{name} {r[name]['server_cores']:.2f} cores {r[name]['server_cpu_us']:5.0f} us"
                + f" client {r[name]['client_cores']:.2f} db {r[name]['database_cores']:.2f}"
                for name in ("rankings", "rankings again", "score", "score, files") if name in r))


def targets_on_sqlite(by_size: dict[int, dict[str, dict[str, dict[str, float]]]]) -> None:
    """Where one worker on SQLite stands against the targets (and against the old tree, when it was served)."""
    largest = by_size[max(by_size)]
    new = largest["new"]
    print(f"target: rankings p99 < 50 ms                 -> {new['rankings']['p99_ms']:.1f} ms first pass, "
          f"{new['rankings again']['p99_ms']:.1f} ms again")
    if "old" in largest:
        old = largest["old"]
        print(f"rankings against the old tree                -> {new['rankings']['rps'] / old['rankings']['rps']:.1f}x "
              f"first pass, {new['rankings again']['rps'] / old['rankings again']['rps']:.1f}x again "
              "(target 20x against the code it was set on: pass that code as --old-tree)")
    print(f"target: charity page p50 < 30 ms (API, HTML)  -> {new['charity API']['p50_ms']:.1f} ms, "
          f"{new['charity HTML']['p50_ms']:.1f} ms")
    print("target: /score >= 1,000 req/s, same on sizes  -> "
          + ", ".join(f"{size:,}: {results['new']['score']['rps']:.0f} (rounds "
                      + ", ".join(f"{v:.0f}" for v in results['new']['score']['rps_rounds']) + ")"
                      for size, results in by_size.items()))
    print("  the same facts as the files write them      -> "
          + ", ".join(f"{size:,}: {results['new']['score, files']['rps']:.0f}" for size, results in by_size.items())
          + (f" (old tree {largest['old']['score, files']['rps']:.0f})" if "old" in largest else ""))


if __name__ == "__main__":
    main()
