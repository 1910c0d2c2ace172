"""The figures logged with a run: each calibration panel is drawn on the range of its own model's points."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from risk_model.tracking.plots import calibration_figure

# Scores as the regulator's base rates give them: nine deciles under 0.005 and one at 0.03 ...
SMALL = pd.DataFrame({"mean_predicted": [0.0005, 0.0008, 0.001, 0.0012, 0.0015, 0.002, 0.0025, 0.003, 0.005, 0.03],
                      "observed_rate": [0.0, 0.001, 0.0, 0.002, 0.0015, 0.003, 0.001, 0.008, 0.012, 0.026]})
# ... beside a model whose scores are large.
LARGE = pd.DataFrame({"mean_predicted": np.linspace(0.25, 0.9, 10),
                      "observed_rate": [0.5, 0.6, 0.7, 0.5, 0.65, 0.3, 0.7, 0.75, 0.6, 0.7]})


@pytest.fixture
def figure():
    fig = calibration_figure({"small": SMALL, "large": LARGE})
    yield fig
    import matplotlib.pyplot as plt

    plt.close(fig)


def on_axes(ax, table: pd.DataFrame) -> np.ndarray:
    """The table's points in the panel's own coordinates: (0, 0) its lower left corner, (1, 1) its upper right."""
    shown = ax.transData.transform(table[["mean_predicted", "observed_rate"]].to_numpy())
    return ax.transAxes.inverted().transform(shown)


@pytest.mark.parametrize("panel, table", [(0, SMALL), (1, LARGE)], ids=["small scores", "large scores"])
def test_each_panel_holds_its_own_points_spread_across_it(figure, panel, table):
    ax = figure.axes[panel]
    points = on_axes(ax, table)
    assert ((points >= 0) & (points <= 1)).all(), "a point falls outside its panel"
    # Spread across the panel: not huddled at zero, as the small scores were on axes sized for large ones.
    assert np.ptp(points[:, 0]) > 0.6 and np.ptp(points[:, 1]) > 0.5
    assert np.median(points[:, 0]) > 0.2


def test_a_bin_with_no_positives_still_shows_on_a_log_like_panel(figure):
    points = on_axes(figure.axes[0], SMALL)
    zero = SMALL["observed_rate"].to_numpy() == 0
    assert figure.axes[0].get_yscale() == "symlog" and figure.axes[1].get_yscale() == "linear"
    assert np.allclose(points[zero, 1], 0) and (points[~zero, 1] > 0).all()
