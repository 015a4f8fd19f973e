"""The imputation hold-out: DANCE's cell-wise masking of non-zero entries, and an honest view."""

from __future__ import annotations

import math

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from scipy import stats

from dance.core import registry
from dance.core.errors import DanceInputError
from dance.core.keys import DataKeys
from dance.core.tasks.imputation import HeldOutEntries, Imputation, cellwise_mask
from dance.core.testing import synthetic_data

KEYS = DataKeys()


def contract() -> Imputation:
    return registry.contract("imputation")


def _rows_with(nnz_per_row: list[int], value: float = 3.0) -> sp.csr_matrix:
    """A CSR matrix whose row i has ``nnz_per_row[i]`` non-zero entries of ``value``."""
    n_genes = max(nnz_per_row) + 1
    rows = np.repeat(np.arange(len(nnz_per_row)), nnz_per_row)
    cols = np.concatenate([np.arange(n) for n in nnz_per_row])
    return sp.csr_matrix((np.full(len(rows), value, dtype=np.float32), (rows, cols)), shape=(len(nnz_per_row), n_genes))


def test_each_cell_with_more_than_five_non_zeros_holds_out_a_tenth_rounded_down_at_least_one():
    nnz = [0, 1, 5, 6, 9, 10, 11, 19, 20, 29, 30, 99, 100, 101, 157]
    counts = _rows_with(nnz)
    chosen = cellwise_mask(counts, seed=0)
    rows = np.repeat(np.arange(len(nnz)), nnz)[chosen]
    per_row = np.bincount(rows, minlength=len(nnz))
    expected = [0 if n <= 5 else max(1, math.floor(0.1 * n)) for n in nnz]
    assert per_row.tolist() == expected
    assert expected[:4] == [0, 0, 0, 1] and expected[-3:] == [10, 10, 15]
    assert len(np.unique(chosen)) == len(chosen)  # without replacement


def test_holdout_masks_exactly_the_chosen_entries_and_the_view_keeps_the_rest():
    data = synthetic_data("imputation")
    data.X[:5] = 0
    data.X[:5, :4] = 2  # five cells with 4 non-zeros: nothing held out there
    view, truth = contract().holdout(data, KEYS, seed=0)
    x = sp.csr_matrix(data.X)
    nnz = np.diff(x.indptr)
    per_cell = np.bincount(truth.rows, minlength=data.n_obs)
    assert (per_cell == np.where(nnz > 5, np.maximum(1, np.floor(0.1 * nnz)), 0)).all()
    assert (per_cell[:5] == 0).all()
    assert (data.X[truth.rows, truth.cols] == truth.values).all() and (truth.values > 0).all()
    assert view.X.nnz == x.nnz - len(truth)
    assert (x - view.X).sum() == pytest.approx(truth.values.sum())
    assert truth.protocol["entries_held_out"] == len(truth) and truth.protocol["cells_masked"] == data.n_obs - 5


def test_exponential_sampling_follows_the_density_of_log1p_values():
    # 20,000 cells, each with 5 entries of count 1 and 5 of count 1000: one is held out per cell,
    # a small one with probability w(1) / (w(1) + w(1000)), w(v) = expon.pdf(log1p(v), 0, 20)
    n_cells = 20_000
    values = np.tile(np.array([1.0] * 5 + [1000.0] * 5, dtype=np.float32), n_cells)
    counts = sp.csr_matrix((values, np.tile(np.arange(10), n_cells), np.arange(0, 10 * n_cells + 1, 10)), shape=(n_cells, 10))
    small = counts.data[cellwise_mask(counts, seed=0)] == 1
    w = stats.expon.pdf(np.log1p([1.0, 1000.0]), 0, scale=20)
    expected = w[0] / w.sum()  # 0.577
    assert len(small) == n_cells
    assert abs(small.mean() - expected) < 4 * math.sqrt(expected * (1 - expected) / n_cells)  # measured 0.576 (uniform: 0.492)
    assert stats.binomtest(int(small.sum()), n_cells, 0.5, alternative="greater").pvalue < 1e-20
    uniform = counts.data[cellwise_mask(counts, seed=0, distribution="uniform")] == 1
    assert abs(uniform.mean() - 0.5) < 4 * math.sqrt(0.25 / n_cells)
    # on the count scale the preference is far stronger (w(1000) is e^-50 of w(1))
    assert (counts.data[cellwise_mask(counts, seed=0, value_scale="counts")] == 1).all()


def test_exponential_sampling_holds_out_smaller_values_than_uniform_on_real_counts():
    # on log1p values the preference is mild (DANCE's setting): a count of 20 weighs 0.89 of a count of 1
    data = synthetic_data("imputation", n_cells=2000, n_genes=200)
    _, exp_truth = contract().holdout(data, KEYS, seed=3)
    _, uniform_truth = contract().holdout(data, KEYS, seed=3, distribution="uniform")
    assert len(exp_truth) == len(uniform_truth) == 27396
    result = stats.mannwhitneyu(exp_truth.values.astype(float), uniform_truth.values.astype(float), alternative="less")
    assert result.pvalue < 1e-3, result  # measured p = 2.7e-5 (mean log1p 1.489 against 1.519)


def test_same_seed_same_entries_other_seed_other_entries():
    data = synthetic_data("imputation")
    _, first = contract().holdout(data, KEYS, seed=4)
    _, again = contract().holdout(data, KEYS, seed=4)
    _, other = contract().holdout(data, KEYS, seed=5)
    assert np.array_equal(first.rows, again.rows) and np.array_equal(first.cols, again.cols)
    assert not (np.array_equal(first.rows, other.rows) and np.array_equal(first.cols, other.cols))


def test_the_view_holds_nothing_derived_from_the_unmasked_data():
    data = synthetic_data("imputation")
    counts = data.X.copy()
    data.layers["counts"] = sp.csr_matrix(counts)
    data.X = np.log1p(counts / counts.sum(axis=1, keepdims=True) * 1e4)
    data.layers["normalised"] = data.X.copy()
    data.obsm["X_pca"] = data.X[:, :5].copy()
    data.varm["PCs"] = np.ones((data.n_vars, 2))
    data.obsp["connectivities"] = sp.identity(data.n_obs, format="csr")
    data.uns["hvg"] = {"flavor": "seurat"}
    data.obs["n_counts"] = counts.sum(axis=1)
    data.obs["donor"] = pd.Categorical(["a", "b"] * (data.n_obs // 2))
    data.var["highly_variable"] = True
    data.var["means"] = counts.mean(axis=0)
    data.var["gene_symbol"] = [f"G{i}" for i in range(data.n_vars)]
    view, truth = contract().holdout(data, KEYS, seed=0)
    assert set(view.layers.keys()) == {"counts"}
    assert not view.obsm and not view.varm and not view.obsp and not view.uns
    assert list(view.obs.columns) == ["donor"] and list(view.var.columns) == ["gene_symbol"]
    for matrix in (view.X, view.layers["counts"]):
        dense = matrix.toarray()
        assert (dense[truth.rows, truth.cols] == 0).all()
        assert np.array_equal(dense != 0, (counts != 0) & ~_mask(truth, counts.shape))  # the masked counts, nothing else
        assert np.array_equal(dense[dense != 0], counts[dense != 0])
    assert view.layers["counts"] is not view.X
    assert list(truth.labels) == list(data.obs["cell_type"].astype(str))


def _mask(truth: HeldOutEntries, shape: tuple[int, int]) -> np.ndarray:
    mask = np.zeros(shape, dtype=bool)
    mask[truth.rows, truth.cols] = True
    return mask


def test_the_protocol_is_a_setting_recorded_in_the_run_result(monkeypatch, make_registry):
    from helpers import imputation_plugin

    from dance.core import run

    isolated = make_registry({"imputation_test": imputation_plugin()})
    data = synthetic_data("imputation")
    result = run("imputation", "observed_test", data, write=False, plots=False, registry=isolated)
    record = result.notes["holdout"]
    assert record["distribution"] == "exp" and record["value_scale"] == "log1p" and record["fraction"] == 0.1
    assert record["min_nonzero"] == 5 and record["entries_held_out"] > 0
    assert {"mse", "rmse", "pearson", "median_l1", "cosine", "ari_imputed", "ari_masked", "ari_gain"} <= set(result.metrics)
    monkeypatch.setattr(isolated.contract("imputation"), "mask_distribution", "uniform")
    uniform = run("imputation", "observed_test", data, write=False, plots=False, registry=isolated)
    assert uniform.notes["holdout"]["distribution"] == "uniform" and "value_scale" not in uniform.notes["holdout"]
    assert uniform.notes["holdout"]["entries_held_out"] == record["entries_held_out"]
    # another draw of the same number of entries: the baseline's error differs
    assert uniform.metrics["median_l1"] != result.metrics["median_l1"] or uniform.metrics["mse"] != result.metrics["mse"]


def test_a_truth_without_masked_matrix_or_labels_still_scores_the_entries():
    data = synthetic_data("imputation")
    _, truth = contract().holdout(data, KEYS, seed=0)
    bare = HeldOutEntries(truth.rows, truth.cols, truth.values)  # the old three-array form
    metrics, absent = contract().evaluate_with_reasons(data.X, bare, KEYS)
    assert metrics["mse"] == 0 and metrics["pearson"] == pytest.approx(1.0) and metrics["cosine"] == pytest.approx(1.0)
    assert {"ari_imputed", "ari_masked", "ari_gain"} <= set(absent) and "labels" in absent["ari_imputed"]


def test_unlabelled_input_scores_everything_but_the_clustering_check():
    data = synthetic_data("imputation")
    del data.obs["cell_type"]
    view, truth = contract().holdout(data, KEYS, seed=0)
    assert truth.labels is None
    metrics, absent = contract().evaluate_with_reasons(view.X, truth, KEYS)
    assert metrics["mse"] > 0 and set(absent) == {"ari_imputed", "ari_masked", "ari_gain"}


@pytest.mark.parametrize(
    ("change", "fragments"),
    [
        (lambda a: setattr(a, "X", np.log1p(a.X)), ("X holds non-integer values", "raw counts")),
        (lambda a: a.X.__setitem__((0, 0), -3.0), ("X has negative values", "raw counts")),
        (lambda a: a.X.__setitem__((slice(None), 7), 0.0), ("X has 1 gene(s) with no counts in any cell (e.g. 'gene_7')", "filter_genes")),
        (lambda a: a.X.__setitem__((slice(None), slice(5, None)), 0.0), ("no cell with more than 5 non-zero counts (the most is 5)",)),
    ],
)
def test_bad_input_is_refused_in_one_line_naming_the_field(change, fragments):
    data = synthetic_data("imputation")
    data.X = data.X.copy()
    change(data)
    with pytest.raises(DanceInputError) as error:
        contract().holdout(data, KEYS, seed=0)
    assert error.value.field == "X" and "\n" not in str(error.value)
    for fragment in fragments:
        assert fragment in str(error.value)


def test_genes_without_counts_are_refused_only_in_data_to_hold_out_from():
    # a view may lose every count of a gene to the hold-out: fitting on it is fine
    data = synthetic_data("imputation")
    data.X[:, 3] = 0
    contract().validate(data, KEYS, stage="fit", needs_counts=True)
    with pytest.raises(DanceInputError, match="1 gene"):
        contract().validate(data, KEYS, stage="evaluate", needs_counts=True)


@pytest.mark.slow
def test_holdout_is_fast_on_ten_thousand_cells_by_twenty_thousand_genes():
    import time

    rng = np.random.default_rng(0)
    x = sp.random(10_000, 20_000, density=0.08, format="csr", random_state=0, dtype=np.float32)
    x.data = rng.geometric(0.5, size=x.nnz).astype(np.float32)
    started = time.perf_counter()
    view, truth = contract().holdout(ad.AnnData(X=x), KEYS, seed=0)
    seconds = time.perf_counter() - started
    assert len(truth) == truth.protocol["entries_held_out"] and view.X.nnz == x.nnz - len(truth)
    assert seconds < 30, seconds  # measured 3.4 s on 2 cores for 16 M non-zeros
