"""The command line explains itself: an error the user can fix is a line or two naming the file, column,
URI or store looked in, with exit code 2 (`--debug` shows the traceback); a tracking store is checked
before any work; tables printed to a pipe are not wrapped; libraries' INFO lines stay out of the output."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from mlflow.tracking import MlflowClient
from typer.testing import CliRunner

from risk_model.cli import lists as cli_lists
from risk_model.cli.main import app
from tests.support.files import RETURNS, tiny_folder


@pytest.fixture(scope="module")
def empty_store(tmp_path_factory) -> str:
    """A tracking store that exists and holds no model and no run."""
    uri = f"sqlite:///{tmp_path_factory.mktemp('empty_store') / 'mlflow.db'}"
    MlflowClient(tracking_uri=uri).search_experiments()
    return uri


@pytest.fixture
def places(tmp_path, empty_store) -> dict[str, str]:
    """What the cases below name: a good folder, one with a misspelt header, bad config files, the empty store."""
    tiny_folder(tmp_path / "good")
    tiny_folder(tmp_path / "misspelt", returns=[*RETURNS[:2], "Recieved Date", *RETURNS[3:]])
    (tmp_path / "typo.yaml").write_text(
        "config_version: 2\nmodels:\n  - {name: lightgbm, kind: lightgbm, params: {num_leaf: 5}}\n")
    (tmp_path / "bad.yaml").write_text("x: [1\n")
    (tmp_path / "readable").mkdir()
    return {"tmp": str(tmp_path), "good": str(tmp_path / "good"), "misspelt": str(tmp_path / "misspelt"),
            "empty": empty_store}


# Set by a command for its own process (MLflow sets the URI's when it is pointed at a store), and put back
# after each command run in this one; the URI is unset while it runs, as in a fresh shell.
_OWN_ENVIRONMENT = ("MLFLOW_LOGGING_LEVEL", "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "MLFLOW_TRACKING_URI")


def _run(arguments: list[str], places: dict[str, str]):
    environment = {name: os.environ.get(name) for name in _OWN_ENVIRONMENT} | {"MLFLOW_TRACKING_URI": None}
    return CliRunner().invoke(app, [a.format(**places) for a in arguments], env=environment)


CASES = {
    "missing folder": (["features", "{tmp}/nowhere"], ["nowhere: data folder not found"]),
    "misspelt column": (["ingest", "{misspelt}", "--out", "{tmp}/out"],
                        ["returns.csv", "Date Received", "did you mean 'Date Received'?"]),
    "bad experiment file": (["train", "{good}", "--config", "{tmp}/typo.yaml"],
                            ["typo.yaml", "unknown parameter 'num_leaf' (did you mean 'num_leaves'?)"]),
    "bad snapshot file": (["train", "{good}", "--dataset", "ccni", "--config", "{tmp}/bad.yaml"],
                          ["bad.yaml: not valid YAML"]),
    "sqlite folder missing": (["train", "{good}", "--tracking-uri", "sqlite:///{tmp}/no/such/mlflow.db"],
                              ["sqlite:///{tmp}/no/such/mlflow.db", "{tmp}/no/such does not exist"]),
    "store is a file": (["train", "{good}", "--store", "{good}/register.csv"],
                        ["--store {good}/register.csv", "register.csv is a file, not a folder"]),
    "no champion": (["rank", "{good}", "--tracking-uri", "{empty}"],
                    ["registered model 'charity-risk'", "alias 'champion'", "{empty}", "--tracking-uri"]),
    "no store to read": (["explain", "{good}", "SC000001", "--tracking-uri", "sqlite:///{tmp}/readable/mlflow.db"],
                         ["no tracking store at {tmp}/readable/mlflow.db", "--tracking-uri the training used"]),
    "unknown run to audit": (["audit", "0" * 32, "--tracking-uri", "{empty}", "--no-log"],
                             [f"no run '{'0' * 32}' in the tracking store {{empty}}"]),
    "unknown run to reproduce": (["reproduce", "abc", "--tracking-uri", "{empty}"],
                                 ["no run 'abc' in the tracking store {empty}"]),
    "no snapshot champion": (["score-ccni", "{good}/register.csv", "--tracking-uri", "{empty}"],
                             ["registered model 'ccni-risk'", "{empty}", "risk-model train-ccni"]),
    "missing extract": (["exits", "{tmp}/none.zip"], ["none.zip: file not found"]),
}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_an_expected_error_is_a_short_message_naming_it(case, places):
    arguments, named = CASES[case]
    result = _run(arguments, places)
    assert result.exit_code == 2, result.output + repr(result.exception)
    message = result.stderr.strip()
    assert message.startswith("error: ") and len(message.splitlines()) <= 2, message
    assert "Traceback" not in result.output
    for expected in named:
        assert expected.format(**places) in message, message


def test_a_bad_sqlite_uri_creates_nothing(tmp_path):
    for command in (["train", str(tiny_folder(tmp_path / "data"))], ["rank", str(tmp_path / "data")]):
        result = _run([*command, "--tracking-uri", f"sqlite:///{tmp_path}/a/b/mlflow.db"], {})
        assert result.exit_code == 2, result.output
        assert not (tmp_path / "a").exists()


def test_rank_with_the_wrong_tracking_uri_names_where_it_looked_and_ingests_nothing(places, monkeypatch):
    def no_ingest(*args, **kwargs):
        raise AssertionError("rank ingested before it had a model")

    monkeypatch.setattr(cli_lists, "ingest_tables", no_ingest)
    result = _run(["rank", "{good}", "--tracking-uri", "{empty}"], places)
    assert result.exit_code == 2, repr(result.exception)
    assert f"in the tracking store {places['empty']}" in result.stderr
    assert "pass the --tracking-uri (or --config) the training used" in result.stderr


def test_debug_shows_the_traceback(tmp_path):
    command = [sys.executable, "-m", "risk_model.cli", "--debug", "features", str(tmp_path / "nowhere")]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0 and done.returncode != 2
    assert "Traceback" in done.stderr and "InputFileError" in done.stderr
    quiet = subprocess.run(command[:3] + command[4:], capture_output=True, text=True, timeout=120)
    assert quiet.returncode == 2 and "Traceback" not in quiet.stderr


def test_the_debug_environment_variable_does_the_same(places, monkeypatch):
    monkeypatch.setenv("RISK_MODEL_DEBUG", "1")
    result = _run(["features", "{tmp}/nowhere"], places)
    assert result.exit_code == 1 and type(result.exception).__name__ == "InputFileError"


def test_explain_takes_the_data_folder_first(places):
    usage = _run(["explain", "--help"], places)
    assert "explain [OPTIONS] {data_dir} [charity_number]" in " ".join(usage.output.split())
    missing = _run(["explain", "{good}"], places)
    assert missing.exit_code == 2 and "CHARITY_NUMBER: missing" in " ".join(missing.output.split())
    # The older form still reaches the command (which then finds no model), saying it is deprecated.
    older = _run(["explain", "SC000001", "--data", "{good}", "--tracking-uri", "{empty}"], places)
    assert older.exit_code == 2 and "--data is deprecated" in older.output
    assert "registered model 'charity-risk'" in older.stderr


def _environment() -> dict[str, str]:
    """This process's environment as a fresh shell in CI has it: no COLUMNS, none of the command's own."""
    return {k: v for k, v in os.environ.items() if k not in ("COLUMNS", *_OWN_ENVIRONMENT)}


def test_a_table_printed_to_a_pipe_is_not_wrapped_at_80_columns(tmp_path):
    folder = tiny_folder(tmp_path / "data", returns=[*RETURNS[:2], "date received", *RETURNS[3:]])
    command = [sys.executable, "-m", "risk_model.cli", "ingest", str(folder), "--out", str(tmp_path / "out")]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, env=_environment())
    assert done.returncode == 0, done.stderr
    rows = [line for line in done.stdout.splitlines() if line.startswith("│ returns.csv")]
    assert len(rows) == 1 and len(rows[0]) > 80
    assert "headers matched loosely: 'date received' as 'Date Received'" in rows[0]


def test_library_info_lines_stay_out_of_the_output_unless_asked(tmp_path):
    # The store is created (MLflow logs that at INFO) before the misspelt header stops the command.
    folder = tiny_folder(tmp_path / "data", returns=[*RETURNS[:2], "Recieved Date", *RETURNS[3:]])

    def train(*options: str) -> subprocess.CompletedProcess:
        store = tmp_path / f"store{len(options)}"
        store.mkdir()
        command = [sys.executable, "-m", "risk_model.cli", *options, "train", str(folder),
                   "--tracking-uri", f"sqlite:///{store / 'mlflow.db'}"]
        done = subprocess.run(command, capture_output=True, text=True, timeout=180, env=_environment())
        assert done.returncode == 2 and (store / "mlflow.db").is_file(), done.stderr
        return done

    quiet = train()
    assert " INFO " not in quiet.stdout + quiet.stderr
    assert len(quiet.stderr.strip().splitlines()) == 1 and "did you mean 'Date Received'?" in quiet.stderr
    assert " INFO mlflow" in train("--verbose").stderr


def test_training_prints_no_mlflow_info_line(trained):
    _, _, _, output = trained
    assert not [line for line in output.splitlines() if " INFO " in line and "mlflow" in line]
    # MLflow's registration prints its progress itself, outside logging: kept out too.
    assert "Created version" not in output and "Successfully registered model" not in output
