from __future__ import annotations

import numpy as np
import pytest
from matplotlib.colors import to_rgb

from dance.core.plotting.palette import categorical_palette, category_colours, matched_colours, natural_key


@pytest.mark.parametrize("n", [1, 3, 20, 21, 41, 92])
def test_palette_colours_are_distinct_and_not_washed_out(n):
    colours = categorical_palette(n)
    assert len(colours) == n and len(set(colours)) == n
    luminance = [0.2126 * r + 0.7152 * g + 0.0722 * b for r, g, b in map(to_rgb, colours)]
    assert max(luminance) <= 0.85  # none vanishes on a white background


def test_palette_repeats_only_beyond_its_size():
    colours = categorical_palette(120)
    assert len(colours) == 120 and len(set(colours)) == 92


def test_natural_order_puts_numbers_in_numeric_order_and_ignores_case():
    assert sorted(["10", "2", "1"], key=natural_key) == ["1", "2", "10"]
    assert sorted(["pDC", "NK", "cDC2", "B"], key=natural_key) == ["B", "cDC2", "NK", "pDC"]


def test_category_colours_skip_missing_values():
    colours = category_colours(["b", None, "a", "b"])
    assert list(colours) == ["a", "b"] and colours["a"] != colours["b"]


def test_a_correct_partition_gets_the_annotation_colours():
    annotated = np.array(["L1", "L1", "L2", "L2", "L3", None], dtype=object)
    predicted = np.array(["7", "7", "3", "3", "5", "5"])
    names, predicted_colours, annotated_colours = matched_colours(predicted, annotated)
    assert predicted_colours == {"3": annotated_colours["L2"], "5": annotated_colours["L3"], "7": annotated_colours["L1"]}
    assert names == {"3": "3 (~L2)", "5": "5 (~L3)", "7": "7 (~L1)"}


def test_extra_predicted_groups_get_colours_of_their_own():
    annotated = np.array(["A", "A", "B", "B", "B", "B"], dtype=object)
    predicted = np.array(["0", "0", "1", "1", "2", "2"])
    names, predicted_colours, annotated_colours = matched_colours(predicted, annotated)
    unmatched = [p for p, name in names.items() if "~" not in name]
    assert len(unmatched) == 1
    assert predicted_colours[unmatched[0]] not in annotated_colours.values()
    assert len(set(predicted_colours.values())) == 3


def test_matching_without_any_annotation_colours_every_group():
    names, predicted_colours, annotated_colours = matched_colours(np.array(["0", "1"]), np.array([None, None], dtype=object))
    assert annotated_colours == {} and names == {"0": "0", "1": "1"} and len(set(predicted_colours.values())) == 2
