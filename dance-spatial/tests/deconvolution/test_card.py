"""CARD (Ma & Zhou 2022): the Gaussian kernel of the CAR prior, the constrained fit, what the spatial
prior buys on noisy spatially smooth spots, marker selection, and CARD against NNLS on real pseudo-spots."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dance.core import run
from dance.spatial.deconvolution.card import CARD, card_fit, card_informative_genes, card_kernel


def test_kernel_is_gaussian_on_rescaled_coordinates_with_zero_diagonal():
    coords = np.array([[0.0, 0.0], [1.0, 0.0], [10.0, 0.0]])
    kernel = card_kernel(coords, sigma=0.1)
    assert np.allclose(np.diag(kernel), 0) and np.allclose(kernel, kernel.T)
    # coordinates are shifted to 0 and divided by the largest value: (0, 0.1, 1)
    assert kernel[0, 1] == pytest.approx(np.exp(-(0.1**2) / (2 * 0.1**2)))
    assert kernel[0, 2] < 1e-20
    # the same tissue in other units (pixels instead of array steps) gives the same prior
    assert np.allclose(card_kernel(coords * 137.0 + 5.0, sigma=0.1), kernel)


def _smooth_problem(noise: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Spots on a 12 x 12 grid whose 3-type proportions change smoothly left to right, expression B V^T
    plus Gaussian noise."""
    rng = np.random.default_rng(seed)
    side = 12
    xs, ys = np.meshgrid(np.arange(side), np.arange(side))
    coords = np.column_stack([xs.ravel(), ys.ravel()]).astype(float)
    t = coords[:, 0] / (side - 1)
    truth = np.column_stack([np.clip(1 - 2 * t, 0, 1), 1 - np.abs(2 * t - 1), np.clip(2 * t - 1, 0, 1)]) + 0.05
    truth /= truth.sum(axis=1, keepdims=True)
    basis = rng.gamma(0.5, 1.0, size=(60, 3))
    x = truth @ basis.T
    x = np.clip(x + noise * x.mean() * rng.standard_normal(x.shape), 0, None)
    return coords, basis, x, truth


def _proportions(v: np.ndarray) -> np.ndarray:
    return v / v.sum(axis=1, keepdims=True)


def test_noise_free_spots_are_recovered_without_the_prior():
    _, basis, x, truth = _smooth_problem(noise=0.0)
    v0 = np.full(truth.shape, x.sum() / (truth.shape[0] * basis.sum()))
    fit = card_fit(x, basis, None, 0.0, v0, max_iter=5000, epsilon=1e-9)
    assert (fit["V"] >= 0).all()
    assert np.abs(_proportions(fit["V"]) - truth).max() < 0.02


def _card_scale(x: np.ndarray, basis: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CARD's scaling (spots to unit sum, data to total 0.1, signatures to mean 0.1) and the model's start."""
    x = x / x.sum(axis=1, keepdims=True)
    x = x * 0.1 / x.sum()
    basis = basis * 0.1 / basis.mean()
    v0 = np.random.default_rng(0).dirichlet(np.full(basis.shape[1], 10.0), size=len(x))
    return x, basis, v0 * x.sum() / (v0 @ basis.T).sum()


def _roughness(p: np.ndarray, coords: np.ndarray) -> float:
    """Summed squared difference of proportions between direct neighbours on the grid."""
    i, j = np.nonzero(np.isclose(np.linalg.norm(coords[:, None] - coords[None], axis=2), 1.0))
    return float(((p[i] - p[j]) ** 2).sum())


def test_the_car_prior_smooths_noisy_spots_and_reduces_their_error():
    coords, basis, x, truth = _smooth_problem(noise=2.0)
    x, basis, v0 = _card_scale(x, basis)
    plain = _proportions(card_fit(x, basis, None, 0.0, v0, max_iter=2000)["V"])
    fit = card_fit(x, basis, card_kernel(coords, 0.1), 0.99, v0, max_iter=2000)
    spatial = _proportions(fit["V"])
    # measured: roughness 36.7 -> 17.4, MSE 0.0212 -> 0.0174
    assert _roughness(spatial, coords) < 0.6 * _roughness(plain, coords)
    assert np.mean((spatial - truth) ** 2) < 0.9 * np.mean((plain - truth) ** 2)
    assert (fit["lambda"] > 0).all() and fit["iterations"] > 5


def test_markers_exclude_mitochondrial_genes_and_need_a_fold_change():
    signature = np.array([[10.0, 1.0, 1.0, 10.0], [1.0, 10.0, 1.0, 1.0]])
    genes = pd.Index(["A", "B", "C", "mt-Co1"])
    mask = card_informative_genes(signature, genes, None, None, ["t0", "t1"], log_fc=1.25)
    # A and B are markers (log 10 > 1.25), C is flat, mt-Co1 is a marker but mitochondrial
    assert mask.tolist() == [True, True, False, False]


def test_card_on_grid_pseudospots_uses_the_prior_and_beats_a_uniform_guess(grid_data, proportion_mse):
    model = CARD(seed=0, device="cpu").fit(grid_data)
    prediction = model.predict(grid_data)
    assert np.allclose(prediction.sum(axis=1), 1) and (prediction.to_numpy() >= 0).all()
    assert model.notes_["spatial_prior"] is True and model.notes_["phi"] in (0.01, 0.1, 0.3, 0.5, 0.7, 0.9, 0.99)
    assert proportion_mse(prediction, grid_data) < 0.3 * proportion_mse(None, grid_data)


@pytest.mark.slow
def test_card_beats_nnls_on_pseudospots(shared_data_env, tmp_path):
    card = run("cell_type_deconvolution", "card", "cerebellum_pseudospots", seed=0, out=tmp_path / "card", device="cpu")
    nnls = run("cell_type_deconvolution", "nnls", "cerebellum_pseudospots", seed=0, out=tmp_path / "nnls", device="cpu")
    # measured at seed 0: CARD MSE 0.0059 (JSD 0.283), NNLS 0.0074. On cerebellum_grid_pseudospots the two tie
    # (0.0065), so the margin is asserted on the DSTG-protocol set only; see docs/models/spatial.md
    assert card.metrics["mse"] < nnls.metrics["mse"]
    assert card.metrics["mse"] < 0.0065 and card.metrics["jsd"] < 0.31
