"""Shared set-up for the hardening tests (no tests here): the service as a real process on loopback.

`ServiceProcess` runs `uvicorn serve.main:create_app_from_env --factory` in a subprocess on a free
127.0.0.1 port, configured through `RISK_SERVE_*` variables as in production, so that it can be
killed with SIGKILL and started again on the same database.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import mlflow
import mlflow.sklearn
from mlflow.tracking import MlflowClient

from serve.settings import Settings

STARTUP_TIMEOUT_S = 120.0


def free_port() -> int:
    """A port nobody listens on at the moment, on loopback."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def environment_for(settings: Settings) -> dict[str, str]:
    """The `RISK_SERVE_*` variables that configure a service process like `settings`."""
    values = settings.model_dump(mode="json", exclude_none=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("RISK_SERVE_")}
    for name, value in values.items():
        env[f"RISK_SERVE_{name.upper()}"] = value if isinstance(value, str) else json.dumps(value)
    return env


class ServiceProcess:
    """The service in its own process on 127.0.0.1; its output goes to a log file."""

    def __init__(self, settings: Settings, log_path: Path, port: int | None = None, workers: int = 1) -> None:
        self.settings = settings
        self.workers = workers
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.process: subprocess.Popen | None = None

    def start(self, wait_for: tuple[int, ...] = (200,)) -> ServiceProcess:
        """Start the process and wait until /health answers with one of `wait_for`."""
        command = [sys.executable, "-m", "uvicorn", "serve.main:create_app_from_env", "--factory",
                   "--host", "127.0.0.1", "--port", str(self.port), "--log-level", "warning",
                   "--workers", str(self.workers)]
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(command, env=environment_for(self.settings), stdout=log,
                                        stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the service exited with {self.process.returncode}:\n{self.log()}")
            try:
                if httpx.get(f"{self.url}/health", timeout=2).status_code in wait_for:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"the service did not answer /health within {STARTUP_TIMEOUT_S} s:\n{self.log()}")

    def kill(self) -> None:
        """SIGKILL: no shutdown handler runs, nothing is flushed."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        """A graceful stop (SIGTERM), or a kill if it hangs."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:] if self.log_path.exists() else ""

    def __enter__(self) -> ServiceProcess:
        return self

    def __exit__(self, *_) -> None:
        self.stop()


def register_unloadable_version(tracking_uri: str, registered_model: str, experiment: str, how: str) -> str:
    """Register a new version whose artifact cannot be loaded, and make it champion.

    `how="missing"`: the version points at a folder that does not exist. `how="corrupt"`: a real
    model is logged in a run of its own (so no other version shares its files) and its serialised
    estimator is then overwritten with garbage. `how="not review lists"`: a model that loads, but is
    a plain classifier rather than the review lists the service serves.
    """
    client = MlflowClient(tracking_uri=tracking_uri)
    if how == "missing":
        gone = Path(tracking_uri.removeprefix("sqlite:///")).parent / "no-such-model"
        version = client.create_model_version(registered_model, source=gone.as_uri())
    elif how in ("corrupt", "not review lists"):
        from sklearn.dummy import DummyClassifier

        mlflow.set_tracking_uri(tracking_uri)
        mlflow.set_experiment(experiment)
        with mlflow.start_run(run_name=f"{how} model"):
            info = mlflow.sklearn.log_model(DummyClassifier().fit([[0], [1]], [0, 1]), name="model")
        version = mlflow.register_model(info.model_uri, registered_model)
        if how == "corrupt":
            folder = _local_model_folder(client, info.model_id)
            serialised = list(folder.rglob("model.*"))  # model.pkl or model.skops, whichever format was used
            assert serialised, f"no serialised model under {folder}"
            for path in serialised:
                path.write_bytes(b"not a model")
    else:
        raise ValueError(how)
    client.set_registered_model_alias(registered_model, "champion", version.version)
    return str(version.version)


def _local_model_folder(client: MlflowClient, model_id: str) -> Path:
    """The folder a logged model's files live in (the tests' artifact store is local)."""
    uri = client.get_logged_model(model_id).artifact_location
    return Path(uri.removeprefix("file://")) if uri.startswith("file://") else Path(uri)
