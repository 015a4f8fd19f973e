"""Likelihoods of single-cell data: negative binomial (NB) and zero-inflated NB for counts,
Poisson, Bernoulli for binarised peaks (ATAC), Gaussian and Laplace for continuous values.

Each ``*_log_likelihood`` is elementwise (sum or average it as the model's loss needs).

Parameterised by the mean ``mu`` and the inverse dispersion ``theta`` (variance
``mu + mu**2 / theta``), as in DCA (Eraslan et al. 2019, Nat Commun 10:390), scDeepCluster
(Tian et al. 2019) and scVI (Lopez et al. 2018, Nat Methods 15:1053). The zero-inflation is given
either as a probability ``pi`` (DCA / scDeepCluster heads end in a sigmoid) or as logits
(scVI), the numerically stable form.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F

__all__ = [
    "bernoulli_log_likelihood",
    "expected_log1p_nb",
    "gaussian_log_likelihood",
    "laplace_log_likelihood",
    "nb_log_likelihood",
    "nb_log_likelihood_sum_from_logs",
    "poisson_log_likelihood",
    "row_chunked_sum",
    "zinb_log_likelihood",
    "zinb_loss",
]

EPS = 1e-8


def nb_log_likelihood(x: torch.Tensor, mu: torch.Tensor, theta: torch.Tensor, eps: float = EPS) -> torch.Tensor:
    """Elementwise log NB(x; mu, theta).

    The gamma-function terms ``lgamma(x + theta) - lgamma(theta) - lgamma(x + 1)`` are exactly 0
    (with a 0 gradient) where ``x`` is 0, so they are computed on the non-zero entries only: the
    values and gradients are those of the dense formula, and sparse data (ATAC peaks, 1 % non-zero)
    skip most of the lgamma / digamma work that dominates the cost.
    """
    x, mu, theta = torch.broadcast_tensors(x, mu, theta)
    log_theta_mu = torch.log(theta + mu + eps)
    log_likelihood = theta * (torch.log(theta + eps) - log_theta_mu) + x * (torch.log(mu + eps) - log_theta_mu)
    index = _nonzero_index(x)
    k, t = _take(x, index), _take(theta, index)
    gamma_terms = torch.lgamma(k + t) - torch.lgamma(t) - torch.lgamma(k + 1)
    return log_likelihood.reshape(-1).index_add(0, index, gamma_terms).view(log_likelihood.shape)


def nb_log_likelihood_sum_from_logs(x: torch.Tensor, log_mu: torch.Tensor, log_theta: torch.Tensor) -> torch.Tensor:
    """``sum log NB(x; exp(log_mu), exp(log_theta))`` over every entry, for decoders that produce
    log means (a ``log_softmax`` times the library, as scVI's and GLUE's), with hand-written
    gradients.

    The same value and gradients as ``nb_log_likelihood(x, exp(log_mu), exp(log_theta)).sum()``
    without its ``eps``, in fewer passes over the matrices: the terms that vanish where ``x`` is 0
    are computed on the non-zero entries only, and the backward pass is two elementwise products
    instead of autograd's chain through ``log(theta + mu)`` (on GLUE's 128 cells x 24,905 peaks
    a step's likelihood took 147 ms with autograd and about half with this).

    Parameters
    ----------
    x
        Counts (dense; mostly zeros is where this pays).
    log_mu, log_theta
        Log mean and log inverse dispersion, the shape of ``x``.
    """
    return _NBSumFromLogs.apply(x, log_mu, log_theta)


class _NBSumFromLogs(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, log_mu: torch.Tensor, log_theta: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        theta = torch.exp(log_theta)
        total = theta + torch.exp(log_mu)
        log_total = torch.log(total)
        gap = log_theta - log_total  # log(theta / (theta + mu))
        dense = (theta * gap).sum()
        index = _nonzero_index(x)
        k, t = _take(x, index), _take(theta, index)
        sparse = k * (_take(log_mu, index) - _take(log_total, index)) + torch.lgamma(k + t) - torch.lgamma(t) - torch.lgamma(k + 1)
        # mu / (theta + mu), the one quantity both gradients need
        share = -torch.expm1(gap)
        ctx.save_for_backward(index, k, theta, gap, share)
        return dense + sparse.sum()

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[None, torch.Tensor, torch.Tensor]:  # type: ignore[override]
        index, k, theta, gap, share = ctx.saved_tensors
        # d/dlog_mu: -theta * share everywhere, + x (1 - share) where x > 0
        grad_log_mu = (-theta * share).reshape(-1)
        s, t = _take(share, index), _take(theta, index)
        grad_log_mu = grad_log_mu.index_add(0, index, k * (1 - s))
        # d/dlog_theta: theta (gap + share) everywhere, + theta (digamma(x + theta) - digamma(theta)) - x (1 - share)
        grad_log_theta = (theta * (gap + share)).reshape(-1)
        grad_log_theta = grad_log_theta.index_add(0, index, t * (torch.digamma(k + t) - torch.digamma(t)) - k * (1 - s))
        shape = theta.shape
        return None, grad * grad_log_mu.view(shape), grad * grad_log_theta.view(shape)


def _nonzero_index(x: torch.Tensor) -> torch.Tensor:
    """Flat positions of the non-zero entries (one search, then cheap gathers, instead of a
    boolean mask applied to every tensor)."""
    return torch.nonzero(x.reshape(-1)).squeeze(1)


def _take(t: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    return t.reshape(-1).index_select(0, index)


def expected_log1p_nb(
    mu: torch.Tensor, theta: torch.Tensor, *, max_counts: tuple[int, ...] = (16, 64, 1024), chunk_elements: int = 2**16
) -> torch.Tensor:
    """``E[log(1 + X)]`` for ``X ~ NB(mu, theta)``, elementwise: the prediction that minimises the
    squared error on the ``log1p`` scale that expression is scored on, which ``log1p(mu)`` is not
    (by Jensen's inequality it lies above it: on SNARE-seq's genes the training cells'
    ``log1p(mean)`` scores RMSE 0.2147 against 0.2074 for the mean of ``log1p``).

    Exact where ``X`` almost surely stays below a bound (``mu`` plus 6 standard deviations below
    the first of ``max_counts`` that holds it): the sum of ``log(1 + k) P(X = k)`` over the counts
    below the bound. Elsewhere (very large means) the second-order delta method,
    ``log1p(mu) - var / (2 (1 + mu)^2)`` with ``var = mu + mu^2 / theta``. Computed in chunks of
    ``chunk_elements`` entries. BABEL and scMM offer it (``expression_prediction="expected_log1p"``);
    with their fitted dispersions it was not uniformly better (docs/models/multimodal.md).
    """
    mu, theta = torch.broadcast_tensors(mu, theta)
    flat_mu, flat_theta = mu.reshape(-1), theta.reshape(-1).clamp_min(EPS)
    variance = flat_mu + flat_mu**2 / flat_theta
    result = torch.log1p(flat_mu) - variance / (2 * (1 + flat_mu) ** 2)
    reach = flat_mu + 6 * variance.sqrt()
    lower = 0.0
    for bound in max_counts:
        index = ((reach >= lower) & (reach < bound)).nonzero().squeeze(1)
        lower = float(bound)
        k = torch.arange(bound, dtype=mu.dtype, device=mu.device)
        log1p_k = torch.log1p(k)
        step = max(1, chunk_elements * 64 // bound)
        for start in range(0, index.numel(), step):
            rows = index[start : start + step]
            m, t = flat_mu[rows, None], flat_theta[rows, None]
            log_pmf = (
                torch.lgamma(k + t)
                - torch.lgamma(t)
                - torch.lgamma(k + 1)
                + t * (torch.log(t) - torch.log(t + m + EPS))
                + k * (torch.log(m + EPS) - torch.log(t + m + EPS))
            )
            result[rows] = (torch.exp(log_pmf) * log1p_k).sum(dim=1)
    return result.reshape(mu.shape)


def poisson_log_likelihood(x: torch.Tensor, rate: torch.Tensor, eps: float = EPS) -> torch.Tensor:
    """Elementwise log Poisson(x; rate)."""
    return x * torch.log(rate + eps) - rate - torch.lgamma(x + 1)


def bernoulli_log_likelihood(x: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """Elementwise log Bernoulli(x; sigmoid(logits)) for x in {0, 1} (binarised ATAC peaks, as
    BABEL and GLUE model them), in the stable ``-softplus`` form of the cross-entropy."""
    return -F.binary_cross_entropy_with_logits(logits, x, reduction="none")


def gaussian_log_likelihood(x: torch.Tensor, mean: torch.Tensor, std: torch.Tensor | float = 1.0) -> torch.Tensor:
    """Elementwise log N(x; mean, std**2); with ``std=1`` the negative is half the squared error plus a constant."""
    std = torch.as_tensor(std, dtype=x.dtype, device=x.device)
    return -0.5 * ((x - mean) / std) ** 2 - torch.log(std) - 0.5 * math.log(2 * math.pi)


def laplace_log_likelihood(x: torch.Tensor, loc: torch.Tensor, scale: torch.Tensor | float = 1.0) -> torch.Tensor:
    """Elementwise log Laplace(x; loc, scale) (scMM's latent and protein likelihood)."""
    scale = torch.as_tensor(scale, dtype=x.dtype, device=x.device)
    return -torch.abs(x - loc) / scale - torch.log(2 * scale)


def zinb_log_likelihood(
    x: torch.Tensor,
    mu: torch.Tensor,
    theta: torch.Tensor,
    *,
    pi: torch.Tensor | None = None,
    pi_logits: torch.Tensor | None = None,
    eps: float = EPS,
) -> torch.Tensor:
    """Elementwise log ZINB(x; mu, theta, pi): pi + (1 - pi) NB(0) at zero, (1 - pi) NB(x) elsewhere.

    Give exactly one of ``pi`` (a probability) or ``pi_logits``.
    """
    if (pi is None) == (pi_logits is None):
        raise ValueError("give exactly one of pi or pi_logits")
    if pi_logits is None:
        # 1 - 1e-8 rounds to 1 in float32, so a saturated sigmoid would give an infinite logit:
        # clip at no less than the dtype's resolution
        clip = max(eps, float(torch.finfo(pi.dtype).eps))
        pi = pi.clamp(clip, 1 - clip)
        pi_logits = torch.log(pi) - torch.log1p(-pi)
    x, mu, theta, pi_logits = torch.broadcast_tensors(x, mu, theta, pi_logits)
    softplus_neg = F.softplus(-pi_logits)  # -log(1 - pi)
    log_theta_eps = torch.log(theta + eps)
    log_theta_mu = torch.log(theta + mu + eps)
    pi_theta_log = -pi_logits + theta * (log_theta_eps - log_theta_mu)
    log_likelihood = F.softplus(pi_theta_log) - softplus_neg  # the zero case, kept where x < eps
    # the non-zero case, log(1 - pi) + log NB, only where it is used: single-cell counts are mostly
    # zeros, and its three lgamma terms (and their digamma gradients) dominate the cost when
    # computed for every entry
    index = _nonzero_index(x >= eps)
    t, m, lt, ltm, k = (_take(a, index) for a in (theta, mu, log_theta_eps, log_theta_mu, x))
    nb = t * (lt - ltm) + k * (torch.log(m + eps) - ltm) + torch.lgamma(k + t) - torch.lgamma(t) - torch.lgamma(k + 1)
    nonzero_case = -_take(softplus_neg, index) - _take(pi_logits, index) + nb
    return log_likelihood.reshape(-1).index_copy(0, index, nonzero_case).view(log_likelihood.shape)


def zinb_loss(
    x: torch.Tensor,
    mu: torch.Tensor,
    theta: torch.Tensor,
    pi: torch.Tensor,
    *,
    scale_factor: torch.Tensor | None = None,
    ridge_lambda: float = 0.0,
    reduction: Literal["mean", "cell"] = "mean",
) -> torch.Tensor:
    """ZINB negative log-likelihood of DCA / scDeepCluster, with size factors and ridge on pi.

    ``mu`` is the decoder's normalised mean; multiplied by the cells' ``scale_factor`` (library size
    over median) it is the expected count. ``ridge_lambda * pi**2`` penalises zero inflation.
    ``reduction="mean"`` averages over every (cell, gene) entry, as DCA, scDeepCluster, scDCC,
    scDSC and scTAG do -- their loss weights (e.g. scDSC's 0.1 on ZINB, scDeepCluster's
    ``gamma``) are calibrated to that scale; ``"cell"`` sums over genes and averages over cells.
    """
    if reduction not in ("mean", "cell"):
        raise ValueError(f"reduction must be 'mean' or 'cell', got {reduction!r}")
    factor = torch.ones_like(x[:, :1]) if scale_factor is None else scale_factor.reshape(-1, 1).to(x.dtype)

    def entry_nll(x: torch.Tensor, mu: torch.Tensor, theta: torch.Tensor, pi: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
        nll = -zinb_log_likelihood(x, mu * factor, theta, pi=pi)
        return nll + ridge_lambda * pi.pow(2) if ridge_lambda > 0 else nll

    x, mu, theta, pi = torch.broadcast_tensors(x, mu, theta, pi)
    total = row_chunked_sum(entry_nll, x, mu, theta, pi, factor)
    return total / x.numel() if reduction == "mean" else total / x.shape[0]


class _RowChunkedSum(torch.autograd.Function):
    # the loss of each block of rows and its gradient are computed together while the block's
    # intermediates are still in cache; backward only scales the stored gradients
    @staticmethod
    def forward(ctx, fn, rows_per_chunk, *tensors):  # type: ignore[no-untyped-def, override]
        needs = ctx.needs_input_grad[2:]
        differentiated = [i for i, need in enumerate(needs) if need]
        grads = [torch.zeros_like(t) if need else None for t, need in zip(tensors, needs, strict=True)]
        total = tensors[0].new_zeros(())
        for start in range(0, tensors[0].shape[0], rows_per_chunk):
            rows = slice(start, start + rows_per_chunk)
            block = [t[rows].detach().requires_grad_(need) for t, need in zip(tensors, needs, strict=True)]
            with torch.enable_grad():
                value = fn(*block).sum()
            if differentiated:
                for i, part in zip(differentiated, torch.autograd.grad(value, [block[i] for i in differentiated]), strict=True):
                    grads[i][rows] = part
            total += value.detach()
        ctx.grads = grads
        return total

    @staticmethod
    def backward(ctx, grad_output):  # type: ignore[no-untyped-def, override]
        grads, ctx.grads = ctx.grads, None
        return (None, None, *[None if g is None else g * grad_output for g in grads])


def row_chunked_sum(fn, *tensors: torch.Tensor, chunk_elements: int | None = None) -> torch.Tensor:  # type: ignore[no-untyped-def]
    """``fn(*tensors).sum()`` for an elementwise ``fn`` over row-aligned tensors (each ``n x ...``),
    evaluated in blocks of rows, each block's gradient taken at once.

    Same value and gradient as the direct expression. On the CPU the blocks (about
    ``chunk_elements`` entries, default 2**18) stay in cache, which makes a long chain of
    elementwise operations such as the ZINB likelihood several times faster on large inputs; on a
    GPU the whole input is one block. The gradient is computed in the forward pass, so call
    ``backward`` on a graph holding the result at most once.
    """
    width = max(1, tensors[0][:1].numel())
    if chunk_elements is None:
        chunk_elements = 2**18 if tensors[0].device.type == "cpu" else tensors[0].numel()
    rows = max(1, int(chunk_elements) // width)
    return _RowChunkedSum.apply(fn, rows, *tensors)
