from __future__ import annotations

import numpy as np
import pytest
from figure_checks import read_png

from dance.core.plotting.regression import plot_predicted_vs_observed


def test_hexbin_of_many_entries(tmp_path):
    rng = np.random.default_rng(0)
    observed = rng.gamma(2.0, 1.0, size=(300, 40))
    plot_predicted_vs_observed(observed, observed + rng.normal(0, 0.3, observed.shape), tmp_path / "p.png", title="RMSE 0.3")
    read_png(tmp_path / "p.png")


def test_a_single_or_constant_entry_still_draws(tmp_path):
    plot_predicted_vs_observed([1.0], [1.0], tmp_path / "one.png")
    plot_predicted_vs_observed([2.0, 2.0, 2.0], [0.0, 0.0, 0.0], tmp_path / "const.png")
    assert (tmp_path / "one.png").is_file() and (tmp_path / "const.png").is_file()


def test_no_finite_entries_says_so(tmp_path):
    plot_predicted_vs_observed([np.nan], [1.0], tmp_path / "none.png")
    assert (tmp_path / "none.png").is_file()


def test_mismatched_values_are_refused(tmp_path):
    with pytest.raises(ValueError, match="same number of values"):
        plot_predicted_vs_observed([1.0, 2.0], [1.0], tmp_path / "bad.png")
