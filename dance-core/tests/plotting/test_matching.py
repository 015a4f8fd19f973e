from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from figure_checks import read_png

from dance.core.plotting.matching import matching_sample, plot_matching_scores


def shuffled_identity(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    partner = np.random.default_rng(seed).permutation(n)
    scores = np.full((n, n), 0.01)
    scores[np.arange(n), partner] = 1.0
    return scores, partner


def test_true_partners_land_on_the_diagonal_of_a_row_normalised_sample():
    scores, partner = shuffled_identity(150)
    rows, columns, block = matching_sample(sp.csr_matrix(scores), partner, max_cells=100, seed=1)
    assert len(rows) == 100 and (np.diff(rows) > 0).all() and (columns == partner[rows]).all()
    assert np.allclose(np.diag(block), 1.0 / (1.0 + 0.01 * 149))
    assert (block[~np.eye(100, dtype=bool)] < np.diag(block).min()).all()


def test_without_truth_the_block_is_shown_as_given():
    scores = np.arange(12.0).reshape(3, 4) + 1
    rows, columns, block = matching_sample(scores, None, max_cells=2)
    assert rows.tolist() == [0, 1] and columns.tolist() == [0, 1]
    np.testing.assert_allclose(block[0], [1 / 10, 2 / 10])


def test_matching_figures_with_and_without_truth(tmp_path):
    scores, partner = shuffled_identity(40)
    plot_matching_scores(scores, partner, tmp_path / "truth.png", title="matching score 0.7")
    plot_matching_scores(scores, None, tmp_path / "given.png", names=("rna", "adt"))
    read_png(tmp_path / "truth.png")
    read_png(tmp_path / "given.png")


def test_all_zero_rows_and_an_empty_matrix(tmp_path):
    plot_matching_scores(np.zeros((5, 5)), np.arange(5), tmp_path / "zeros.png")
    plot_matching_scores(np.zeros((0, 0)), None, tmp_path / "empty.png")
    assert (tmp_path / "zeros.png").is_file() and (tmp_path / "empty.png").is_file()
