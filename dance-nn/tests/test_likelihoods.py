from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import stats

from dance.nn.likelihoods import nb_log_likelihood, zinb_log_likelihood, zinb_loss


def test_nb_matches_scipy():
    x = torch.tensor([0.0, 1.0, 5.0, 30.0], dtype=torch.float64)
    mu = torch.tensor([0.5, 2.0, 5.0, 20.0], dtype=torch.float64)
    theta = torch.tensor([1.0, 3.0, 0.5, 10.0], dtype=torch.float64)
    p = (theta / (theta + mu)).numpy()
    expected = stats.nbinom.logpmf(x.numpy(), theta.numpy(), p)
    assert np.allclose(nb_log_likelihood(x, mu, theta, eps=0).numpy(), expected, atol=1e-6)


@pytest.mark.parametrize("pi", [0.0, 0.3, 0.9])
def test_zinb_is_a_mixture_with_a_point_mass_at_zero(pi):
    x = torch.arange(0, 40, dtype=torch.float64)
    mu, theta = torch.full_like(x, 4.0), torch.full_like(x, 2.0)
    p = torch.full_like(x, pi)
    log_p = zinb_log_likelihood(x, mu, theta, pi=p, eps=1e-12)
    nb = torch.exp(nb_log_likelihood(x, mu, theta, eps=0))
    expected = (1 - pi) * nb
    expected[0] += pi
    assert torch.allclose(torch.exp(log_p), expected, atol=1e-6)
    logits = torch.logit(p.clamp(1e-12, 1 - 1e-12))
    assert torch.allclose(zinb_log_likelihood(x, mu, theta, pi_logits=logits, eps=1e-12), log_p, atol=1e-6)


def test_zinb_loss_uses_size_factors():
    x = torch.tensor([[0.0, 4.0], [2.0, 8.0]])
    mu = torch.tensor([[0.5, 2.0], [0.5, 2.0]])
    theta = torch.ones(2, 2)
    pi = torch.full((2, 2), 0.1)
    scaled = zinb_loss(x, mu, theta, pi, scale_factor=torch.tensor([2.0, 4.0]))
    direct = zinb_loss(x, mu * torch.tensor([[2.0], [4.0]]), theta, pi)
    assert torch.isclose(scaled, direct)
    assert zinb_loss(x, mu, theta, pi, ridge_lambda=1.0) > zinb_loss(x, mu, theta, pi)


def test_zinb_matches_the_two_case_formula_in_value_and_gradient():
    """The non-zero case is evaluated on the non-zero entries only; value and gradients must equal
    the plain formula that evaluates both cases everywhere and selects with ``torch.where``."""
    import torch.nn.functional as F

    from dance.nn.likelihoods import nb_log_likelihood, zinb_log_likelihood

    torch.manual_seed(0)
    x = torch.poisson(torch.rand(40, 30) * 0.7)
    assert 0.2 < float((x > 0).float().mean()) < 0.8
    params = [torch.randn(40, 30, requires_grad=True) for _ in range(3)]

    def parts(raw):
        return torch.exp(raw[0].clamp(max=4)), F.softplus(raw[1]) + 1e-4, torch.sigmoid(raw[2])

    mu, theta, pi = parts(params)
    fast = zinb_log_likelihood(x, mu, theta, pi=pi)
    fast.sum().backward()
    fast_grads = [p.grad.clone() for p in params]
    for p in params:
        p.grad = None
    mu, theta, pi = parts(params)
    logits = torch.log(pi) - torch.log1p(-pi)
    eps = 1e-8
    zero_case = F.softplus(-logits + theta * (torch.log(theta + eps) - torch.log(theta + mu + eps))) - F.softplus(-logits)
    plain = torch.where(x < eps, zero_case, -F.softplus(-logits) - logits + nb_log_likelihood(x, mu, theta, eps))
    plain.sum().backward()
    assert torch.allclose(fast, plain, atol=1e-5)
    for fast_grad, p in zip(fast_grads, params, strict=True):
        assert torch.allclose(fast_grad, p.grad, atol=1e-5)


def test_the_simple_likelihoods_equal_torch_distributions():
    from torch.distributions import Bernoulli, Laplace, Normal, Poisson

    from dance.nn.likelihoods import bernoulli_log_likelihood, gaussian_log_likelihood, laplace_log_likelihood, poisson_log_likelihood

    g = torch.Generator().manual_seed(0)
    counts = torch.poisson(torch.rand(4, 5, generator=g) * 6, generator=g)
    rate = torch.rand(4, 5, generator=g) * 5 + 0.1
    assert torch.allclose(poisson_log_likelihood(counts, rate), Poisson(rate).log_prob(counts), atol=1e-5)
    peaks = (torch.rand(4, 5, generator=g) > 0.7).float()
    logits = torch.randn(4, 5, generator=g) * 3
    assert torch.allclose(bernoulli_log_likelihood(peaks, logits), Bernoulli(logits=logits).log_prob(peaks), atol=1e-6)
    x, loc, scale = torch.randn(4, 5, generator=g), torch.randn(4, 5, generator=g), torch.rand(4, 5, generator=g) + 0.2
    assert torch.allclose(gaussian_log_likelihood(x, loc, scale), Normal(loc, scale).log_prob(x), atol=1e-6)
    assert torch.allclose(laplace_log_likelihood(x, loc, scale), Laplace(loc, scale).log_prob(x), atol=1e-6)
    assert torch.allclose(gaussian_log_likelihood(x, loc), Normal(loc, 1.0).log_prob(x), atol=1e-6)


def test_expected_log1p_nb_matches_the_distributions_mean_of_log1p():
    from scipy import stats

    from dance.nn.likelihoods import expected_log1p_nb

    mu = torch.tensor([0.01, 0.3, 2.0, 15.0, 40.0, 500.0], dtype=torch.float64)
    theta = torch.tensor([0.5, 2.0, 10.0, 1.0, 5.0, 20.0], dtype=torch.float64)
    got = expected_log1p_nb(mu, theta)
    for m, t, value in zip(mu.tolist(), theta.tolist(), got.tolist(), strict=True):
        k = np.arange(0, 20_000)
        expected = float((np.log1p(k) * stats.nbinom.pmf(k, t, t / (t + m))).sum())
        assert abs(value - expected) < 2e-3 * max(1.0, expected), (m, t, value, expected)
    # below log1p of the mean (Jensen), as the scored scale needs
    assert torch.all(got < torch.log1p(mu))


def test_nb_sum_from_logs_matches_the_elementwise_nb_in_value_and_gradient():
    from dance.nn.likelihoods import nb_log_likelihood_sum_from_logs

    torch.manual_seed(0)
    x = torch.poisson(torch.full((6, 9), 0.7, dtype=torch.float64))
    log_mu = torch.randn(6, 9, dtype=torch.float64, requires_grad=True)
    log_theta = torch.randn(6, 9, dtype=torch.float64, requires_grad=True)
    assert (x == 0).any() and (x > 0).any()
    value = nb_log_likelihood_sum_from_logs(x, log_mu, log_theta)
    expected = nb_log_likelihood(x, log_mu.exp(), log_theta.exp(), eps=0.0).sum()
    assert torch.isclose(value, expected, rtol=1e-12)
    assert torch.autograd.gradcheck(lambda m, t: nb_log_likelihood_sum_from_logs(x, m, t), (log_mu, log_theta))
