from __future__ import annotations

import numpy as np
import pytest
import torch

from dance.nn.clustering import (
    changed_fraction,
    estimate_n_clusters,
    kl_clustering_loss,
    kmeans_centres,
    soft_assignment,
    target_distribution,
)


def test_soft_assignment_is_the_students_t_kernel():
    z = torch.tensor([[0.0, 0.0], [3.0, 4.0]])
    centres = torch.tensor([[0.0, 0.0], [3.0, 0.0]])
    for alpha in (1.0, 2.0):
        q = soft_assignment(z, centres, alpha)
        squared = torch.cdist(z, centres) ** 2
        kernel = (1 + squared / alpha) ** (-(alpha + 1) / 2)
        assert torch.allclose(q, kernel / kernel.sum(1, keepdim=True))
        assert torch.allclose(q.sum(1), torch.ones(2))
    assert q[0, 0] > q[0, 1]  # the nearer centre gets more mass


def test_target_distribution_sharpens_and_favours_small_clusters():
    q = torch.tensor([[0.6, 0.4], [0.7, 0.3], [0.8, 0.2]])
    p = target_distribution(q)
    assert torch.allclose(p.sum(1), torch.ones(3))
    assert not p.requires_grad
    # each row is pushed away from uniform relative to q's column frequencies
    assert (p[:, 0] / p[:, 1] > 0).all()
    assert p[2, 0] > q[2, 0]
    # dividing by the cluster frequency: a uniform q gives a uniform p
    assert torch.allclose(target_distribution(torch.full((4, 2), 0.5)), torch.full((4, 2), 0.5))


def test_kl_loss_is_zero_at_the_target_and_positive_elsewhere():
    p = torch.tensor([[0.9, 0.1], [0.2, 0.8]])
    assert abs(float(kl_clustering_loss(p, p))) < 1e-5
    q = torch.tensor([[0.5, 0.5], [0.5, 0.5]], requires_grad=True)
    loss = kl_clustering_loss(p, q)
    expected = torch.mean(torch.sum(p * torch.log(p / q.detach()), dim=1))
    assert torch.isclose(loss, expected, atol=1e-4) and loss > 0
    loss.backward()
    assert q.grad is not None
    assert torch.isfinite(kl_clustering_loss(torch.tensor([[1.0, 0.0]]), torch.tensor([[0.9, 0.1]])))


def _blobs(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = np.array([[0, 0, 0], [10, 0, 0], [0, 10, 0]], dtype=float)
    labels = np.repeat(np.arange(3), 60)
    return (centres[labels] + rng.normal(0, 0.5, size=(180, 3))).astype(np.float32), labels


def test_kmeans_centres_recovers_blobs_and_is_seeded():
    from sklearn.metrics import adjusted_rand_score

    z, labels = _blobs()
    centres, found = kmeans_centres(z, 3, seed=1, n_init=5)
    assert centres.shape == (3, 3) and centres.dtype == np.float32
    assert adjusted_rand_score(labels, found) == 1.0
    again, found_again = kmeans_centres(z, 3, seed=1, n_init=5)
    assert np.array_equal(centres, again) and np.array_equal(found, found_again)


def test_estimate_n_clusters_counts_communities():
    z, _ = _blobs()
    n, labels = estimate_n_clusters(z, seed=0, n_neighbors=15, resolution=0.3)
    assert n == 3 and labels.shape == (180,)
    # higher resolutions split the Gaussian blobs further, never below two clusters
    assert estimate_n_clusters(z, seed=0, n_neighbors=15, resolution=2.0)[0] > 3
    assert estimate_n_clusters(z[:60], seed=0, n_neighbors=15, resolution=0.01)[0] == 2


@pytest.mark.parametrize("a, b, expected", [([0, 1, 1], [0, 1, 1], 0.0), ([0, 1, 1, 2], [0, 1, 2, 2], 0.25)])
def test_changed_fraction(a, b, expected):
    assert changed_fraction(np.array(a), np.array(b)) == expected
