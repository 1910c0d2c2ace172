"""Tables for notebooks and reports: a register's make-up, filing punctuality, case-log activity,
and a training run read back from MLflow. Notebooks call these; they hold no logic of their own."""

from __future__ import annotations

import io
from dataclasses import dataclass

import pandas as pd

from risk_model.features import build_features, due_dates


def register_profile(register: pd.DataFrame, returns: pd.DataFrame, case_log: pd.DataFrame,
                     as_of: pd.Timestamp | str) -> dict[str, pd.DataFrame]:
    """Counts and shares of the charities on the register at `as_of` by form, area, spread,
    income band and main purpose."""
    features = build_features(register, returns, case_log, as_of)
    tables = {}
    for column in ("constitutional_form", "main_operating_location", "geographical_spread", "income_band",
                   "main_purpose"):
        counts = features[column].value_counts()
        tables[column] = pd.DataFrame({"charities": counts, "share": counts / counts.sum()})
    return tables


def filing_punctuality(returns: pd.DataFrame, extract_date: pd.Timestamp | str) -> pd.DataFrame:
    """Per year end: returns due by the extract date, on time, late, and never received."""
    due = due_dates(returns["year_end"])
    frame = returns.loc[due <= pd.Timestamp(extract_date)].assign(due_date=due)
    year = frame["year_end"].dt.year.rename("year_end")
    on_time = frame["date_received"] <= frame["due_date"]
    late = frame["date_received"] > frame["due_date"]
    missing = frame["date_received"].isna()
    table = pd.DataFrame({"due": year.groupby(year).size(), "on_time": on_time.groupby(year).sum(),
                          "late": late.groupby(year).sum(), "not_received": missing.groupby(year).sum()})
    table["late_or_missing_share"] = (table["late"] + table["not_received"]) / table["due"]
    return table


def case_log_by_year(case_log: pd.DataFrame) -> pd.DataFrame:
    """Events per calendar year: concerns, inquiries opened and closed, and each closing outcome."""
    year = case_log["date"].dt.year.rename("year")
    events = pd.crosstab(year, case_log["event"])
    closed = case_log.loc[case_log["event"] == "inquiry_closed"]
    outcomes = pd.crosstab(closed["date"].dt.year.rename("year"), closed["outcome"].fillna("not recorded"))
    return events.join(outcomes, how="left").fillna(0).astype(int)


@dataclass(frozen=True)
class RunReport:
    """A training run as recorded: its tags, each list's comparison, fold metrics, the findings
    against the truth (simulated worlds only) and the card."""

    run_id: str
    tags: dict[str, str]
    comparison: pd.DataFrame
    fold_metrics: pd.DataFrame
    panel_counts: pd.DataFrame
    findings: pd.DataFrame | None
    model_card_markdown: str


def load_run_report(run_id: str) -> RunReport:
    """Read a training run back from the active MLflow tracking store."""
    import mlflow  # deferred on purpose: the register tables above are used without MLflow

    def text(path: str) -> str:
        return mlflow.artifacts.load_text(f"runs:/{run_id}/{path}")

    run = mlflow.get_run(run_id)
    try:
        findings = pd.read_csv(io.StringIO(text("truth/findings.csv")))
    except Exception:  # a real regulator's data: no truth to judge by
        findings = None
    return RunReport(
        run_id=run_id, tags=dict(run.data.tags),
        comparison=pd.read_csv(io.StringIO(text("model_comparison.csv"))),
        fold_metrics=pd.read_csv(io.StringIO(text("fold_metrics.csv"))),
        panel_counts=pd.read_csv(io.StringIO(text("panel_counts.csv"))),
        findings=findings, model_card_markdown=text("model_card.md"),
    )


def latest_training_run(experiment: str) -> str:
    """The most recent training (parent) run of an experiment."""
    import mlflow

    found = mlflow.search_runs(experiment_names=[experiment], filter_string="tags.job = 'train'",
                               order_by=["attributes.start_time DESC"], output_format="list")
    parents = [r for r in found if "mlflow.parentRunId" not in r.data.tags]
    if not parents:
        raise LookupError(f"no training run in experiment {experiment!r}")
    return parents[0].info.run_id
