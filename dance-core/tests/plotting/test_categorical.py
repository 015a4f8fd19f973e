from __future__ import annotations

import numpy as np

from dance.core.plotting.categorical import Colouring, legend_width, matched_panels, missing_mask, scatter_categories, values_at
from dance.core.plotting.figure import new_figure


def test_values_at_spreads_labels_over_all_cells():
    spread = values_at(5, [1, 3], ["a", "b"])
    assert spread.tolist() == [None, "a", None, "b", None]


def test_missing_mask_knows_none_and_nan():
    assert missing_mask(np.array(["a", None, float("nan"), "b"], dtype=object)).tolist() == [False, True, True, False]


def test_scatter_draws_every_point_and_one_legend_entry_per_label():
    figure = new_figure(4, 4)
    ax = figure.add_subplot()
    values = np.array(["b", "a", None, "a"], dtype=object)
    handles = scatter_categories(ax, np.arange(8).reshape(4, 2), Colouring("t", values, missing="unlabelled"), size=10)
    assert [h.get_label() for h in handles] == ["a", "b", "unlabelled"]
    assert sum(len(c.get_offsets()) for c in ax.collections) == 4


def test_given_colours_and_names_are_used():
    figure = new_figure(4, 4)
    ax = figure.add_subplot()
    colouring = Colouring("t", np.array(["x", "y"], dtype=object), colours={"x": "#000000"}, names={"x": "ex"})
    handles = scatter_categories(ax, np.zeros((2, 2)), colouring, size=10)
    assert handles[0].get_label() == "ex" and handles[0].get_color() == "#000000"


def test_legend_width_grows_with_labels():
    short = legend_width(Colouring("t", np.array(["a", "b"], dtype=object)))
    many = legend_width(Colouring("t", np.array([f"a long cell type name {i}" for i in range(40)], dtype=object)))
    assert 0 < short < 1.5 < many < 8


def test_matched_panels_without_annotation_is_one_panel():
    assert len(matched_panels([0, 1], None, predicted_title="p", annotated_title="a")) == 1
    panels = matched_panels([0, 1], np.array(["A", None], dtype=object), predicted_title="p", annotated_title="a")
    assert [p.title for p in panels] == ["p", "a"] and panels[1].missing == "not annotated"
