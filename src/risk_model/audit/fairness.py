"""Bias audit of a review list: does it treat groups of charities alike?

Selection happens per as-of date: in each temporal fold the k highest scores are selected
(k = `evaluation.capacity_k`, on that fold's own list). For each group attribute
(`features.GROUP_ATTRIBUTES`) the audit pools the folds and reports, per group:

    selection rate at k   selected / charities
    precision             selected with the outcome / selected
    false positive rate   selected without the outcome / charities without it
    false discovery rate  selected without the outcome / selected
    false negative rate   not selected with the outcome / charities with it

each also as a ratio to a reference group (by default the largest), with a bootstrap interval.
A ratio outside 0.8-1.25 (the "four-fifths" band and its reciprocal) is flagged. Groups smaller
than `min_group_size` charity-years are reported as too small, not as ratios.

Worked example, one fold, k = 2, two groups of three:

    charity  group  score  outcome  selected
    A        city   0.9    1        yes        city: selection rate 2/3, precision 1/2
    B        city   0.8    0        yes        rest: selection rate 0/3
    C        city   0.1    0        no         ratio (rest to city) = 0, flagged
    D        rest   0.3    1        no
    ...

The bootstrap resamples charities with replacement within each fold (so every resample keeps
each fold's size) and keeps each charity's selection as it was: the intervals describe how
sure the pooled rates are for the list as drawn, not how the list would change. A count of zero
stays zero in every resample, so a rate of zero has an interval of zero width: read such a ratio
with its counts (a group with no positive among few selected says little).

Rates come from counts of each group's selection x outcome cells, so that the observed values
and every resample share one vectorised computation; the tests check them against fairlearn's
`MetricFrame` on the same frames.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from risk_model.config import DEFAULT_SEED
from risk_model.domain.vocab import INCOME_BANDS_GBP
from risk_model.features import GROUP_ATTRIBUTES

METRICS: tuple[str, ...] = (
    "selection_rate", "precision", "false_positive_rate", "false_discovery_rate", "false_negative_rate",
)
AUDIT_COLUMNS: tuple[str, ...] = (
    "attribute", "group", "n", "selected", "positives", "metric", "value", "reference_group",
    "reference_value", "ratio", "ratio_low", "ratio_high", "interval_excludes_one", "status",
)
# Cells of a selection x outcome table, numbered selected + 2 * outcome.
TRUE_NEGATIVE, FALSE_POSITIVE, FALSE_NEGATIVE, TRUE_POSITIVE = 0, 1, 2, 3


class AuditSettings(BaseModel):
    """How a bias audit is computed and judged."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    min_group_size: int = Field(250, ge=1, description="Charity-years (pooled over folds) below which a "
                                "group is reported as too small.")
    n_boot: int = Field(200, ge=10, description="Bootstrap resamples.")
    confidence: float = Field(0.95, gt=0, lt=1)
    ratio_bounds: tuple[float, float] = (0.8, 1.25)
    seed: int = DEFAULT_SEED
    reference_groups: dict[str, str] = Field(
        default_factory=dict, description="Reference group per attribute; default: the largest group.")


def select_top_k(predictions: pd.DataFrame, capacity_k: int) -> pd.DataFrame:
    """Each fold's list ranked by score (ties by charity number), with `rank` and `selected` (top k)."""
    ordered = predictions.sort_values(["fold", "score", "charity_number"], ascending=[True, False, True],
                                      kind="stable")
    rank = ordered.groupby("fold", sort=False).cumcount() + 1
    ranked = ordered.assign(rank=rank.to_numpy(), selected=(rank <= capacity_k).to_numpy())
    return ranked.reset_index(drop=True)


def group_labels(values: pd.Series, attribute: str) -> pd.Series:
    """Group names as text: 'under 5 years' / '5 years or more' for age, 'Unknown' for blanks."""
    if attribute == "age_under_5":
        named = values.map({1.0: "under 5 years", 0.0: "5 years or more", 1: "under 5 years",
                            0: "5 years or more", True: "under 5 years", False: "5 years or more"})
        return named.astype(object).where(named.notna(), "Unknown")
    return values.astype("string").fillna("Unknown").astype(object)


def in_group_order(frame: pd.DataFrame, attribute: str) -> pd.DataFrame:
    """Rows sorted by group in reading order: income bands from smallest, others alphabetically."""
    groups = frame["group"].unique()
    if attribute == "income_band":
        known = [name for name, _, _ in INCOME_BANDS_GBP] + ["no return"]
        order = [g for g in known if g in groups] + sorted(g for g in groups if g not in known)
    else:
        order = sorted(groups)
    position = frame["group"].map({g: i for i, g in enumerate(order)})
    return frame.iloc[np.argsort(position.to_numpy(), kind="stable")]


def bootstrap_cell_counts(
    groups: pd.Series,
    indicators: pd.DataFrame,
    strata: pd.Series,
    n_boot: int,
    rng: np.random.Generator,
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Counts of rows in each (group, cell), where a cell is one combination of 0/1 indicators.

    Cell c of J indicators has indicator j set when bit j of c is set. Returns the group names,
    the counts as observed (G x 2**J) and in each bootstrap resample (B x G x 2**J); resampling
    draws rows with replacement within each stratum (a fold), vectorised over resamples.
    """
    names, group_code = np.unique(groups.to_numpy(dtype=str), return_inverse=True)
    bits = indicators.to_numpy(dtype=bool).astype(np.int64)
    n_cells = 2 ** bits.shape[1]
    code = group_code * n_cells + bits @ (2 ** np.arange(bits.shape[1]))
    size = len(names) * n_cells
    observed = np.bincount(code, minlength=size).reshape(len(names), n_cells)
    boot = np.zeros((n_boot, size), dtype=np.int64)
    offsets = (np.arange(n_boot) * size)[:, None]
    strata_rows = pd.Series(np.arange(len(code))).groupby(strata.to_numpy(), sort=True).indices if n_boot else {}
    for rows in strata_rows.values():
        picks = rng.integers(0, len(rows), size=(n_boot, len(rows)))
        boot += np.bincount((code[rows][picks] + offsets).ravel(), minlength=n_boot * size).reshape(n_boot, size)
    return list(names), observed, boot.reshape(n_boot, len(names), n_cells)


def rates_from_cells(cells: np.ndarray) -> dict[str, np.ndarray]:
    """The audit's metrics from selection x outcome cell counts (last axis; NaN where undefined)."""
    tn, fp, fn, tp = (cells[..., c].astype(float) for c in (TRUE_NEGATIVE, FALSE_POSITIVE, FALSE_NEGATIVE,
                                                              TRUE_POSITIVE))
    with np.errstate(divide="ignore", invalid="ignore"):
        return {
            "selection_rate": (tp + fp) / (tn + fp + fn + tp),
            "precision": tp / (tp + fp),
            "false_positive_rate": fp / (fp + tn),
            "false_discovery_rate": fp / (tp + fp),
            "false_negative_rate": fn / (fn + tp),
        }


def _group_table(names: list[str], observed: np.ndarray) -> pd.DataFrame:
    table = pd.DataFrame({
        "group": names, "n": observed.sum(axis=1),
        "selected": observed[:, FALSE_POSITIVE] + observed[:, TRUE_POSITIVE],
        "positives": observed[:, FALSE_NEGATIVE] + observed[:, TRUE_POSITIVE],
    })
    return table.assign(**rates_from_cells(observed))


def _outcome_indicators(selected: pd.DataFrame) -> pd.DataFrame:
    if selected["label"].isna().any():
        raise ValueError("the audit needs a 0/1 label on every row; unlabelled rows must be dropped first")
    return pd.DataFrame({"selected": selected["selected"], "label": selected["label"]})


def group_metrics(selected: pd.DataFrame, attribute: str) -> pd.DataFrame:
    """Per group of one attribute: size, selected, positives and the five metrics (NaN where undefined)."""
    names, observed, _ = bootstrap_cell_counts(group_labels(selected[attribute], attribute),
                                               _outcome_indicators(selected), selected["fold"], 0,
                                               np.random.default_rng(0))
    return _group_table(names, observed)


def bootstrap_interval(boot: np.ndarray, confidence: float) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval over resamples (axis 0), ignoring resamples where the value is undefined."""
    tail = (1 - confidence) / 2
    finite = np.where(np.isfinite(boot), boot, np.nan)
    with warnings.catch_warnings():
        # A column undefined in every resample gives NaN bounds, as it should.
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanquantile(finite, tail, axis=0), np.nanquantile(finite, 1 - tail, axis=0)


def ratio_status(ratio: float, bounds: tuple[float, float]) -> str:
    """'flagged' outside the bounds, 'within bounds' inside, 'undefined' for NaN."""
    if not np.isfinite(ratio):
        return "undefined"
    return "flagged" if ratio < bounds[0] or ratio > bounds[1] else "within bounds"


def reference_group(table: pd.DataFrame, attribute: str, settings: AuditSettings) -> str:
    """The configured reference group of an attribute, else its largest group."""
    reference = settings.reference_groups.get(attribute, table.loc[table["n"].idxmax(), "group"])
    if reference not in set(table["group"]):
        raise ValueError(f"reference group {reference!r} is not a group of {attribute}")
    return reference


def bias_audit(
    selected: pd.DataFrame,
    settings: AuditSettings = AuditSettings(),
    attributes: tuple[str, ...] = GROUP_ATTRIBUTES,
) -> pd.DataFrame:
    """Long table (AUDIT_COLUMNS): per attribute, group and metric, the value and its ratio to the reference.

    `selected` is a prediction frame after `select_top_k`: fold, label, selected and the attributes.
    """
    rng = np.random.default_rng(settings.seed)
    indicators = _outcome_indicators(selected)
    parts = []
    for attribute in attributes:
        names, observed, boot = bootstrap_cell_counts(group_labels(selected[attribute], attribute), indicators,
                                                      selected["fold"], settings.n_boot, rng)
        table = _group_table(names, observed)
        reference = reference_group(table, attribute, settings)
        ref = names.index(reference)
        is_reference = np.arange(len(names)) == ref
        too_small = (table["n"].to_numpy() < settings.min_group_size) | (table["n"].iloc[ref] < settings.min_group_size)
        boot_rates = rates_from_cells(boot)
        for metric in METRICS:
            values = table[metric].to_numpy(dtype=float)
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio = values / values[ref]
                boot_ratio = boot_rates[metric] / boot_rates[metric][:, [ref]]
            low, high = bootstrap_interval(boot_ratio, settings.confidence)
            status = np.array([
                "reference" if is_ref else "too small" if small else ratio_status(r, settings.ratio_bounds)
                for r, small, is_ref in zip(ratio, too_small, is_reference)
            ])
            hide = np.isin(status, ["too small", "undefined"])
            parts.append(in_group_order(pd.DataFrame({
                "attribute": attribute, "group": names, "n": table["n"], "selected": table["selected"],
                "positives": table["positives"], "metric": metric, "value": values,
                "reference_group": reference, "reference_value": values[ref],
                "ratio": np.where(hide, np.nan, ratio), "ratio_low": np.where(hide, np.nan, low),
                "ratio_high": np.where(hide, np.nan, high),
                "interval_excludes_one": ~hide & ~is_reference & ((low > 1) | (high < 1)),
                "status": status,
            }), attribute))
    return pd.concat(parts, ignore_index=True)[list(AUDIT_COLUMNS)]


def flagged(audit: pd.DataFrame) -> pd.DataFrame:
    """The audit rows whose ratio is outside the bounds."""
    return audit.loc[audit["status"] == "flagged"].reset_index(drop=True)
