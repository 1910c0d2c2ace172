"""Benchmark: how fast the service refuses a 200 MB request body, and what it costs the process.

Starts the service as a real process on 127.0.0.1 (one worker, a small simulated world, no model
registered: refusing a body needs none), then sends `POST /score` bodies of 200 MB over raw sockets,
one at a time and four at once:

- declared: a Content-Length of 200 MB, without a key (refused on the length, 413) and with one;
- streamed: chunked, without a length or a key (refused on the key, 401, before the body is read).

For each it prints the time from the request's headers to the answer's status line, how much of the
body the client had sent by then, and the server's resident memory before and after (and its peak).

Run: python benchmarks/limits.py [--megabytes 200]
Targets: refused in under 50 ms; resident memory unchanged.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from risk_model.simulate.world import SimulationConfig, simulate, write_world

CHUNK = b"x" * (1024 * 1024)
# `serve` here would be benchmarks/serve.py, so the key and its hash are made as serve.keys makes them.


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def rss_mib(pid: int) -> tuple[float, float]:
    """The process's resident memory now and at its peak, in MiB."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def start_service(work: Path, key: str) -> tuple[subprocess.Popen, int]:
    write_world(simulate(SimulationConfig(charities=300, first_year=2016, last_year=2021, seed=1)), work / "data")
    port = free_port()
    env = os.environ | {
        "RISK_SERVE_DATA_DIR": str(work / "data"), "RISK_SERVE_DATABASE_URL": f"sqlite:///{work / 'service.db'}",
        "RISK_SERVE_TRACKING_URI": f"sqlite:///{work / 'mlflow.db'}", "RISK_SERVE_STORE_DIR": str(work / "mlruns"),
        "RISK_SERVE_API_KEYS": json.dumps([{"name": "benchmark", "role": "analyst", "sha256": hashlib.sha256(key.encode()).hexdigest()}]),
    }
    process = subprocess.Popen([sys.executable, "-m", "uvicorn", "serve.main:create_app_from_env", "--factory",
                                "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
                               env=env, stdout=subprocess.DEVNULL, stderr=open(work / "service.log", "w"))
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code in (200, 503):
                return process, port
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"the service did not start:\n{(work / 'service.log').read_text()}")


def refuse(port: int, total: int, chunked: bool, key: str | None) -> tuple[str, float, int]:
    """Send a `total`-byte body and wait for the answer: its status line, seconds to it, bytes sent by then."""
    head = ["POST /score HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json",
            "Transfer-Encoding: chunked" if chunked else f"Content-Length: {total}"]
    head += [f"X-API-Key: {key}"] if key else []
    sent = 0
    answered = threading.Event()
    with socket.create_connection(("127.0.0.1", port)) as sock:
        def send_body() -> None:
            nonlocal sent
            frame = f"{len(CHUNK):x}\r\n".encode() + CHUNK + b"\r\n" if chunked else CHUNK
            try:
                while sent < total and not answered.is_set():
                    sock.sendall(frame)
                    sent += len(CHUNK)
            except OSError:
                pass  # the server closed the connection after answering

        started = time.perf_counter()
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
        sender = threading.Thread(target=send_body)
        sender.start()
        answer = b""
        while b"\r\n" not in answer:
            data = sock.recv(4096)
            if not data:
                break
            answer += data
        elapsed = time.perf_counter() - started
        sent_by_then = sent
        answered.set()
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass  # already closed by the server
        sender.join()
    return answer.split(b"\r\n", 1)[0].decode(errors="replace"), elapsed, sent_by_then


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=int, default=200)
    args = parser.parse_args()
    total = args.megabytes * 1024 * 1024
    key = secrets.token_urlsafe(32)
    with tempfile.TemporaryDirectory() as folder:
        process, port = start_service(Path(folder), key)
        try:
            cases = [("declared, no key", False, None), ("declared, with a key", False, key),
                     ("streamed, no key", True, None)]
            print(f"{args.megabytes} MB bodies to POST /score, one worker; resident memory in MiB")
            print(f"{'body':<24} {'at once':>7} {'answer':<38} {'slowest ms':>10} {'sent MB':>8} "
                  f"{'RSS before':>10} {'after':>7} {'peak':>7}")
            for name, chunked, sent_key in cases:
                for at_once in (1, 4):
                    before, _ = rss_mib(process.pid)
                    with ThreadPoolExecutor(at_once) as pool:
                        results = list(pool.map(lambda _: refuse(port, total, chunked, sent_key), range(at_once)))
                    time.sleep(0.5)  # let the server finish with the connections
                    after, peak = rss_mib(process.pid)
                    status = results[0][0]
                    slowest = max(seconds for _, seconds, _ in results) * 1000
                    sent = max(sent for _, _, sent in results) / 1e6
                    print(f"{name:<24} {at_once:>7} {status:<38} {slowest:>10.1f} {sent:>8.1f} "
                          f"{before:>10.0f} {after:>7.0f} {peak:>7.0f}")
            print("targets: refused in under 50 ms; resident memory unchanged")
        finally:
            process.terminate()
            process.wait(timeout=30)


if __name__ == "__main__":
    main()
