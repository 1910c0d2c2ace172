"""What produced a run: data, configuration, code, packages, seeds, platform and the list it made.

A manifest is recorded with every training run. `reproduce` rebuilds one from the present
state of things and compares them check by check, so an auditor sees exactly which of the
data, the configuration, the code or the packages differ, and whether the predictions do.
"""

from __future__ import annotations

import hashlib
import platform
import subprocess
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import pandas as pd

from risk_model.config import ExperimentConfig
from risk_model.ingest.tables import IngestResult, table_fingerprint
from risk_model.lists.rank import ranked_lists
from risk_model.selection import champion_description
from risk_model.train import TrainingResult

MANIFEST_VERSION = 1
LOCK_FILE = "requirements.lock"


def file_sha256(path: Path) -> str:
    """sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def ranking_hash(ranked: pd.DataFrame) -> str:
    """sha256 of a ranked list's order and exact scores (charity number, rank, score bits)."""
    frame = ranked[["charity_number", "rank", "score"]].reset_index(drop=True)
    rows = pd.util.hash_pandas_object(frame.astype({"charity_number": str}), index=False).to_numpy()
    return hashlib.sha256(rows.tobytes()).hexdigest()


def installed_packages() -> dict[str, str]:
    """Every installed distribution and its exact version, names normalised to lower case."""
    found = {}
    for dist in metadata.distributions():
        name = (dist.metadata["Name"] or "").lower().replace("_", "-")
        if name:
            found[name] = dist.version
    return dict(sorted(found.items()))


def read_lock(path: Path) -> dict[str, str]:
    """Pinned versions from a `name==version` lock file (comments and options ignored)."""
    pins = {}
    for line in Path(path).read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line and not line.startswith("-"):
            name, version = line.split("==", 1)
            pins[name.strip().lower().replace("_", "-")] = version.strip()
    return pins


def code_version(repo_dir: Path | None = None) -> dict[str, object]:
    """The git commit of the project checkout and whether its tree has uncommitted changes."""
    repo_dir = repo_dir or Path(__file__).resolve().parents[3]

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(["git", "-C", str(repo_dir), *args], capture_output=True, text=True, timeout=20)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no")
    return {"commit": commit or "unknown", "dirty": bool(status) if status is not None else None}


def platform_info() -> dict[str, str]:
    """Python, operating system and machine."""
    return {"python": sys.version.split()[0], "implementation": platform.python_implementation(),
            "system": platform.system(), "release": platform.release(), "machine": platform.machine()}


def find_lock(start: Path | None = None) -> Path | None:
    """The project's lock file, looked for beside the checkout."""
    root = start or Path(__file__).resolve().parents[3]
    path = root / LOCK_FILE
    return path if path.is_file() else None


def build_manifest(
    *,
    config_json: dict,
    config_hash: str,
    file_hashes: dict[str, str],
    table_hashes: dict[str, str],
    ranking_sha256: str,
    seed: int,
    data_dir: str,
    lock_path: Path | None = None,
) -> dict:
    """The manifest of a training run."""
    lock_path = lock_path if lock_path is not None else find_lock()
    installed = installed_packages()
    lock = read_lock(lock_path) if lock_path else {}
    return {
        "manifest_version": MANIFEST_VERSION,
        "data": {"dir": data_dir, "files": dict(sorted(file_hashes.items())),
                 "tables": dict(sorted(table_hashes.items()))},
        "config": {"hash": config_hash, "content": config_json},
        "code": code_version(),
        "packages": {"lock_file": LOCK_FILE if lock_path else None,
                     "lock_sha256": file_sha256(lock_path) if lock_path else None,
                     "installed": installed,
                     "differs_from_lock": {n: {"lock": v, "installed": installed.get(n)}
                                           for n, v in lock.items() if installed.get(n) != v}},
        "seeds": {"experiment": seed},
        "platform": platform_info(),
        "ranking_sha256": ranking_sha256,
    }


@dataclass(frozen=True)
class Check:
    """One line of a reproduction report."""

    name: str
    ok: bool
    detail: str
    blocking: bool = True  # a failed blocking check makes the reproduction fail


def _diff(recorded: dict, current: dict, what: str, limit: int = 8) -> Check:
    changed = sorted(k for k in set(recorded) | set(current) if recorded.get(k) != current.get(k))
    if not changed:
        return Check(what, True, f"{len(recorded)} identical")
    shown = ", ".join(f"{k}: {recorded.get(k, 'absent')} -> {current.get(k, 'absent')}" for k in changed[:limit])
    more = f" (and {len(changed) - limit} more)" if len(changed) > limit else ""
    return Check(what, False, f"{len(changed)} differ: {shown}{more}")


def compare(recorded: dict, current: dict) -> list[Check]:
    """Check by check: data files, ingested tables, config, code, packages, predictions."""
    checks = [
        _diff(recorded["data"]["files"], current["data"]["files"], "data files"),
        _diff(recorded["data"]["tables"], current["data"]["tables"], "ingested tables"),
        Check("config", recorded["config"]["hash"] == current["config"]["hash"],
              f"hash {recorded['config']['hash'][:12]} -> {current['config']['hash'][:12]}"),
    ]
    code_ok = recorded["code"]["commit"] == current["code"]["commit"] and not current["code"]["dirty"]
    detail = f"commit {recorded['code']['commit'][:12]} -> {current['code']['commit'][:12]}"
    if recorded["code"]["dirty"]:
        detail += "; the recorded run had uncommitted changes"
    if current["code"]["dirty"]:
        detail += "; the checkout has uncommitted changes now"
    checks.append(Check("code", code_ok and not recorded["code"]["dirty"], detail))
    checks.append(_diff(recorded["packages"]["installed"], current["packages"]["installed"], "packages"))
    # Informational: the same code and packages on another machine may still reproduce exactly.
    checks.append(Check("platform", recorded["platform"] == current["platform"],
                        f"{recorded['platform']} -> {current['platform']}"
                        if recorded["platform"] != current["platform"] else "identical", blocking=False))
    checks.append(Check("predictions", recorded["ranking_sha256"] == current["ranking_sha256"],
                        f"ranked list sha256 {recorded['ranking_sha256'][:16]} -> {current['ranking_sha256'][:16]}"))
    return checks


def _file_hashes(data_dir: Path, accounts: pd.DataFrame) -> dict[str, str]:
    """sha256 of each input file ingest read, and of the simulator's answer key when present."""
    names = [Path(str(name)).name for name in accounts["file"]] + ["latent_risk.csv", "misconduct.csv"]
    return {name: file_sha256(data_dir / name) for name in names if (data_dir / name).is_file()}


def training_manifest(result: TrainingResult, tables: IngestResult, experiment: ExperimentConfig,
                      data_dir: Path) -> tuple[pd.DataFrame, dict]:
    """The champions' review lists at the extract date, and the run's manifest (which hashes them):
    what `train` records and what `reproduce` builds again to compare, by one function."""
    ranked = ranked_lists(
        result.final_model, tables.register, tables.returns, tables.case_log, result.extract_date,
        result.capacities, model_name=champion_description(result.champions), model_version="training run").ranked
    manifest = build_manifest(
        config_json=experiment.model_dump(mode="json"), config_hash=experiment.config_hash(),
        file_hashes=_file_hashes(Path(data_dir), tables.accounts),
        table_hashes={name: table_fingerprint(getattr(tables, name)) for name in ("register", "returns", "case_log")},
        ranking_sha256=ranking_hash(ranked), seed=experiment.seed, data_dir=str(Path(data_dir).resolve()))
    return ranked, manifest
