from __future__ import annotations

import numpy as np
import pandas as pd
from figure_checks import read_png

from dance.core.plotting.proportions import dominant_type_panels, plot_proportion_maps, shown_cell_types


def proportions(n_spots: int, n_types: int, seed: int = 0) -> pd.DataFrame:
    values = np.random.default_rng(seed).dirichlet(np.linspace(3, 0.2, n_types), size=n_spots)
    return pd.DataFrame(values, columns=[f"type {i}" for i in range(n_types)])


def grid(n: int) -> np.ndarray:
    side = int(np.ceil(np.sqrt(n)))
    return np.column_stack([np.arange(n) % side, np.arange(n) // side]).astype(float)


def test_types_are_shown_most_abundant_first_and_capped():
    predicted = proportions(50, 30)
    types, total = shown_cell_types(predicted, None, 20)
    assert total == 30 and len(types) == 20
    means = predicted[types].mean().to_numpy()
    assert (np.diff(means) <= 1e-12).all() and means[-1] >= predicted.drop(columns=types).mean().max()


def test_true_types_the_model_missed_count_as_zero():
    predicted = pd.DataFrame({"A": [1.0, 0.5]})
    truth = pd.DataFrame({"A": [0.5, 0.5], "B": [0.5, 0.5]})
    assert shown_cell_types(predicted, truth, 20) == (["A", "B"], 2)


def test_maps_with_truth_have_twice_the_rows(tmp_path):
    predicted, truth = proportions(36, 4), proportions(36, 4, seed=1)
    plot_proportion_maps(grid(36), predicted, None, tmp_path / "alone.png", title="t")
    plot_proportion_maps(grid(36), predicted, truth, tmp_path / "truth.png", title="t")
    alone, both = read_png(tmp_path / "alone.png", min_height=200), read_png(tmp_path / "truth.png")
    assert both.shape[0] > 1.6 * alone.shape[0]


def test_many_types_and_a_single_type(tmp_path):
    plot_proportion_maps(grid(16), proportions(16, 22), proportions(16, 22, seed=2), tmp_path / "many.png", title="t")
    many = read_png(tmp_path / "many.png")
    # the 20 most abundant of 22 types: 4 blocks of 5 types (8 rows of ~2.1 inches at 120 dpi), not 5 blocks
    assert 7.5 * 250 < many.shape[0] < 9 * 260
    single = pd.DataFrame({"only": np.ones(10)})
    plot_proportion_maps(grid(10), single, single, tmp_path / "one.png", note="no coordinates: spots in input order")
    read_png(tmp_path / "one.png", min_width=300, min_height=300)


def test_dominant_type_panels_share_colours():
    predicted = pd.DataFrame({"A": [0.9, 0.2], "B": [0.1, 0.8]})
    truth = pd.DataFrame({"A": [0.2, 0.1], "B": [0.8, 0.9]})
    panels = dominant_type_panels(predicted, truth)
    assert panels[0].values.tolist() == ["A", "B"] and panels[1].values.tolist() == ["B", "B"]
    assert panels[0].colours == panels[1].colours
