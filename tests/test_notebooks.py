"""Both notebooks run top to bottom on a small simulated world, importing the package."""

import json
from pathlib import Path

import mlflow
import nbformat
import pytest
from mlflow.tracking import MlflowClient
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def _run(name: str, env: dict[str, str], monkeypatch) -> nbformat.NotebookNode:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    NotebookClient(notebook, timeout=300, kernel_name="python3").execute()
    return notebook


def _outputs(notebook) -> str:
    return json.dumps([cell.get("outputs", []) for cell in notebook.cells])


def test_notebook_cells_hold_no_definitions():
    for path in NOTEBOOKS.glob("*.ipynb"):
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type == "code":
                assert "def " not in cell.source and "class " not in cell.source, (path.name, cell.source)


@pytest.mark.slow  # executes a notebook in a kernel
def test_exploration_notebook_runs(small_world_dir, monkeypatch):
    notebook = _run("01_explore_register.ipynb", {"RISK_MODEL_DATA": str(small_world_dir)}, monkeypatch)
    text = _outputs(notebook)
    assert "register.csv" in text and "Unincorporated association" in text and "late_or_missing_share" in text


def test_model_report_notebook_runs(trained, monkeypatch):
    _, _, uri, _ = trained
    mlflow.set_tracking_uri(uri)
    experiment = MlflowClient().get_experiment_by_name("e2e")
    notebook = _run("02_model_report.ipynb", {"MLFLOW_TRACKING_URI": uri, "RISK_MODEL_EXPERIMENT": "e2e"},
                    monkeypatch)
    text = _outputs(notebook)
    assert experiment is not None
    assert "precision_at_k_mean" in text and "Model card: e2e-risk" in text
    assert "hits_not_reached" in text and "holdout_precision_at_k" in text
