"""Benchmark: this scoring service against `mlflow models serve` on the same registered model.

Simulates a world, trains a small grid and registers its champion, then starts both servers on
127.0.0.1 (one worker each) and sends each the same single-charity scoring requests, at a fixed
concurrency for a fixed count, printing p50 and p99 latency and requests per second.

- this service, stored: the charity's register and return records as they are in the data the
  service was pointed at, so the answer (score, band, percentile, reasons) comes from the stored
  list once the records' fingerprint matches;
- this service, changed: the same charities with one figure changed, so every request is scored
  afresh by the library (features, score, contributions, reason sentences), micro-batched;
- MLflow: the same charities' model inputs (the feature row) to /invocations; a probability
  back, no reasons.

Run: python benchmarks/serve.py [--charities 5000] [--requests 3000] [--concurrency 16]
Targets: p99 under 25 ms for a score with its top reasons; throughput at least 2x MLflow's.
The load generator runs on the same machine as both servers; it sends prebuilt requests over
kept-alive connections so that it takes as little of the machine's CPU as it can.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import hashlib
import json
import os
import resource
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
import yaml

from risk_model.features import build_features, open_inquiries
from risk_model.ingest.folder import ingest_folder
from risk_model.ingest.tables import infer_extract_date
from risk_model.lists.records import records_from_tables
from risk_model.models import model_inputs
from risk_model.simulate.world import SimulationConfig, simulate, write_world

REGISTERED_MODEL = "charity-risk-bench"
EXPERIMENT = {
    "config_version": 2,
    "seed": 20260101,
    "splits": {"first_as_of_year": 2015, "n_folds": 2},
    "models": [
        {"name": "logistic", "kind": "logistic", "params": {"C": 0.1, "max_iter": 500}},
        {"name": "lightgbm", "kind": "lightgbm", "params": {"n_estimators": 100, "num_leaves": 15,
                                                            "min_child_samples": 40, "learning_rate": 0.05}},
    ],
    "tracking": {"experiment": "serve-benchmark", "registered_model": REGISTERED_MODEL},
}
BIN = Path(sys.executable).parent
HERE = Path(__file__).parent
HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(command, env=env, cwd=log.parent, stdout=log.open("w"), stderr=subprocess.STDOUT,
                            start_new_session=True)


def stop(process: subprocess.Popen) -> None:
    """Stop a server this script started (its own process group: uvicorn and any workers)."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def wait_ready(url: str, process: subprocess.Popen, log: Path, timeout_s: float = 600) -> float:
    started = time.perf_counter()
    while time.perf_counter() - started < timeout_s:
        if process.poll() is not None:
            raise RuntimeError(f"server exited ({process.returncode}); see {log}:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return time.perf_counter() - started
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{url} not ready after {timeout_s} s; see {log}")


def http_requests(host: str, port: int, path: str, bodies: list[bytes], headers: dict[str, str]) -> list[bytes]:
    """Each body as a complete HTTP/1.1 POST, built once, so sending costs the client next to nothing."""
    head = "".join(f"{k}: {v}\r\n" for k, v in ({"Host": f"{host}:{port}", "Content-Type": "application/json"}
                                                  | headers).items())
    return [f"POST {path} HTTP/1.1\r\n{head}Content-Length: {len(b)}\r\n\r\n".encode() + b for b in bodies]


async def exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes) -> int:
    """Send one request on a kept-alive connection and read the whole response; its status code."""
    writer.write(request)
    await writer.drain()
    status = int((await reader.readline()).split()[1])
    length = None
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    if length is None:
        raise RuntimeError("response without Content-Length")
    await reader.readexactly(length)
    return status


async def load(host: str, port: int, requests: list[bytes], total: int, concurrency: int,
               warmup: int) -> dict[str, float]:
    """Send `total` requests (after `warmup` unmeasured ones) over `concurrency` kept-alive connections.

    A lean client: requests are prebuilt bytes and responses are read by their Content-Length, so
    the figures are the servers', not a Python HTTP library's (both run on the same machine).
    """
    latencies: list[float] = []
    failures = 0

    async def run(count: int, record: bool) -> None:
        next_index = iter(range(count))

        async def worker() -> None:
            nonlocal failures
            reader, writer = await asyncio.open_connection(host, port)
            for i in next_index:
                sent = time.perf_counter()
                try:
                    status = await exchange(reader, writer, requests[i % len(requests)])
                except (ConnectionError, asyncio.IncompleteReadError, IndexError, ValueError):
                    status = 0  # the server dropped the connection: a failed request; connect again
                    writer.close()
                    reader, writer = await asyncio.open_connection(host, port)
                if record:
                    latencies.append(time.perf_counter() - sent)
                    failures += status != 200
            writer.close()

        await asyncio.gather(*(worker() for _ in range(concurrency)))

    await run(warmup, record=False)
    cpu_before = _own_cpu_seconds(resource.RUSAGE_SELF)
    started = time.perf_counter()
    await run(total, record=True)
    elapsed = time.perf_counter() - started
    ms = np.asarray(latencies) * 1000
    return {"p50_ms": float(np.percentile(ms, 50)), "p99_ms": float(np.percentile(ms, 99)),
            "rps": total / elapsed, "failures": failures, "requests": total,
            "client_cpu_s": _own_cpu_seconds(resource.RUSAGE_SELF) - cpu_before}


def _own_cpu_seconds(who: int) -> float:
    """CPU time, user and system, of this process (RUSAGE_SELF) or of its children that have ended."""
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def load_wrk(host: str, port: int, requests: list[bytes], seconds: int, concurrency: int) -> dict[str, float]:
    """Send the requests in turn for `seconds` (whole seconds: wrk runs for a time, not a count) over
    `concurrency` kept-alive connections, by wrk (one thread, written in C): a load generator that costs the
    machine a fraction of the CPU Python's does (`load`), so that more of the shared cores are left to the
    servers. The same figures as `load`'s; statuses of 400 and above, refused connections and timeouts (60 s)
    count as failures, and requests still open when the time is up are not counted."""
    if shutil.which("wrk") is None:
        raise RuntimeError("wrk is not installed (Debian: apt-get install wrk); or use the Python load generator")
    with tempfile.NamedTemporaryFile(suffix=".requests") as file:
        file.write(b"".join(str(len(r)).encode() + b"\n" + r for r in requests))
        file.flush()
        cpu_before = _own_cpu_seconds(resource.RUSAGE_CHILDREN)
        command = ["wrk", "-t1", f"-c{concurrency}", f"-d{seconds}s", "--timeout", "60s", "-s",
                   str(HERE / "prebuilt.lua"), f"http://{host}:{port}/", "--", file.name]
        printed = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        client_cpu_s = _own_cpu_seconds(resource.RUSAGE_CHILDREN) - cpu_before
    figures = json.loads(printed.strip().splitlines()[-1])
    return {"p50_ms": figures["p50_us"] / 1000, "p99_ms": figures["p99_us"] / 1000,
            "rps": figures["requests"] / (figures["duration_us"] / 1e6), "failures": figures["failures"],
            "requests": figures["requests"], "client_cpu_s": client_cpu_s}


def request_bodies(data_dir: Path, distinct: int) -> tuple[list[bytes], list[bytes], list[bytes]]:
    """For the same charities on the list: their records as stored, the same with one figure
    changed, and their model inputs (feature rows) as MLflow's scoring server takes them."""
    tables = ingest_folder(data_dir)
    as_of = infer_extract_date(tables.register, tables.returns, tables.case_log)
    features = build_features(tables.register, tables.returns, tables.case_log, as_of)
    features = features.loc[~features["charity_number"].isin(open_inquiries(tables.case_log, as_of))]
    chosen = features.sample(min(distinct, len(features)), random_state=1)
    records = records_from_tables(tables.register, tables.returns, tables.case_log, chosen["charity_number"])
    stored, changed = [], []
    for number in chosen["charity_number"]:
        record = records[number]
        stored.append(json.dumps({"charities": [record]}).encode())
        record = copy.deepcopy(record)
        if record["returns"]:
            record["returns"][-1]["expenditure_gbp"] = (record["returns"][-1]["expenditure_gbp"] or 0) + 1
        else:
            record["charity_name"] += " (renamed)"
        changed.append(json.dumps({"charities": [record]}).encode())
    inputs = model_inputs(chosen)
    mlflow = [json.dumps({"dataframe_split": json.loads(inputs.iloc[[i]].to_json(orient="split"))}).encode()
              for i in range(len(inputs))]
    return stored, changed, mlflow


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--charities", type=int, default=5_000)
    parser.add_argument("--years", default="2010-2021")
    parser.add_argument("--requests", type=int, default=3_000, help="Measured requests per server.")
    parser.add_argument("--changed-requests", type=int, default=1_000, help="Measured requests, changed data.")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--distinct", type=int, default=500, help="Distinct charities the requests cycle through.")
    args = parser.parse_args()
    first, last = (int(y) for y in args.years.split("-"))

    with tempfile.TemporaryDirectory(prefix="serve-bench-") as tmp:
        work = Path(tmp)
        print(f"simulating {args.charities:,} charities, {first}-{last}, and training ...", flush=True)
        write_world(simulate(SimulationConfig(charities=args.charities, first_year=first, last_year=last)),
                    work / "data")
        (work / "experiment.yaml").write_text(yaml.safe_dump(EXPERIMENT))
        tracking_uri = f"sqlite:///{work / 'mlflow.db'}"
        subprocess.run([sys.executable, "-m", "risk_model.cli", "train", str(work / "data"), "--config",
                        str(work / "experiment.yaml"), "--tracking-uri", tracking_uri, "--store",
                        str(work / "mlruns")], check=True, cwd=work, stdout=subprocess.DEVNULL)

        ours_stored, changed_bodies, mlflow_bodies = request_bodies(work / "data", args.distinct)

        # The service's keys are configured as sha256 hashes (this script cannot import `serve`:
        # run as a file, its own name would shadow the package).
        key = secrets.token_urlsafe(32)
        ours_port, theirs_port = free_port(), free_port()
        ours_env = os.environ | {
            "RISK_SERVE_DATA_DIR": str(work / "data"), "RISK_SERVE_DATABASE_URL": f"sqlite:///{work / 'service.db'}",
            "RISK_SERVE_TRACKING_URI": tracking_uri,
            "RISK_SERVE_REGISTERED_MODEL": REGISTERED_MODEL,
            "RISK_SERVE_API_KEYS": json.dumps([{"name": "benchmark", "role": "analyst",
                                                 "sha256": hashlib.sha256(key.encode()).hexdigest()}]),
        }
        theirs_env = os.environ | {"MLFLOW_TRACKING_URI": tracking_uri, "PATH": f"{BIN}:{os.environ['PATH']}"}
        ours_log, theirs_log = work / "service.log", work / "mlflow.log"
        results: dict[str, dict[str, float]] = {}
        servers = []
        try:
            ours_command = [sys.executable, "-m", "risk_model.cli.serve", "--port", str(ours_port), "--log-level",
                            "warning"]
            servers.append(ours_server := start(ours_command, ours_env, ours_log))
            ready = wait_ready(f"http://127.0.0.1:{ours_port}/health", ours_server, ours_log)
            print(f"this service ready in {ready:.1f} s", flush=True)
            mlflow_command = [str(BIN / "mlflow"), "models", "serve", "-m", f"models:/{REGISTERED_MODEL}@champion",
                              "--env-manager", "local", "-h", HOST, "-p", str(theirs_port)]
            servers.append(mlflow_server := start(mlflow_command, theirs_env, theirs_log))
            ready = wait_ready(f"http://127.0.0.1:{theirs_port}/ping", mlflow_server, theirs_log)
            print(f"mlflow models serve ready in {ready:.1f} s", flush=True)

            version = httpx.get(f"http://127.0.0.1:{ours_port}/version", headers={"X-API-Key": key}).json()
            check = httpx.post(f"http://127.0.0.1:{ours_port}/score", content=ours_stored[0],
                               headers={"X-API-Key": key, "Content-Type": "application/json"}).json()
            mlflow_score = httpx.post(f"http://127.0.0.1:{theirs_port}/invocations", content=mlflow_bodies[0],
                                      headers={"Content-Type": "application/json"}).json()["predictions"][0]
            mlflow_score = mlflow_score[-1] if isinstance(mlflow_score, list) else mlflow_score
            result = check["results"][0]
            print(f"model: {version['model']}; same score from both: {result['score']:.6f} vs "
                  f"{float(mlflow_score):.6f}; ours from the stored list: {result['from_stored_list']}, "
                  f"with {len(result['reasons'])} reasons")

            ours_auth = {"X-API-Key": key}
            scenarios = [
                ("this service, stored", ours_port, http_requests(HOST, ours_port, "/score", ours_stored, ours_auth),
                 args.requests),
                ("this service, changed", ours_port,
                 http_requests(HOST, ours_port, "/score", changed_bodies, ours_auth), args.changed_requests),
                ("mlflow models serve", theirs_port,
                 http_requests(HOST, theirs_port, "/invocations", mlflow_bodies, {}), args.requests),
            ]
            for name, port, requests, total in scenarios:
                print(f"loading {name}: {total} requests at concurrency {args.concurrency} ...", flush=True)
                results[name] = asyncio.run(load(HOST, port, requests, total, args.concurrency,
                                                 warmup=min(200, total // 5)))
        except Exception:
            for log in (ours_log, theirs_log):
                if log.exists():
                    print(f"--- last lines of {log.name} ---\n{log.read_text()[-4000:]}", file=sys.stderr)
            raise
        finally:
            for server in servers:
                stop(server)

    print()
    print(f"single-charity scoring, concurrency {args.concurrency}, {os.cpu_count()} CPUs shared by client and server")
    print(f"{'server':<24}{'requests':>9}{'failed':>8}{'p50 ms':>9}{'p99 ms':>9}{'req/s':>9}")
    for name, r in results.items():
        print(f"{name:<24}{r['requests']:>9}{r['failures']:>8}{r['p50_ms']:>9.1f}{r['p99_ms']:>9.1f}{r['rps']:>9.0f}")
    ours, theirs = results["this service, stored"], results["mlflow models serve"]
    print()
    print(f"target: p99 < 25 ms (score with reasons)   -> {ours['p99_ms']:.1f} ms "
          f"({'met' if ours['p99_ms'] < 25 else 'missed'})")
    ratio = ours["rps"] / theirs["rps"]
    print(f"target: throughput >= 2x MLflow's           -> {ratio:.2f}x ({'met' if ratio >= 2 else 'missed'})")
    changed = results["this service, changed"]
    print(f"changed data (scored afresh): p99 {changed['p99_ms']:.0f} ms, {changed['rps'] / theirs['rps']:.2f}x "
          f"MLflow's throughput")


if __name__ == "__main__":
    main()
