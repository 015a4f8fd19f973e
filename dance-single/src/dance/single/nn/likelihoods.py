"""Count likelihoods of single-cell expression: negative binomial (NB) and zero-inflated NB.

Parameterised by the mean ``mu`` and the inverse dispersion ``theta`` (variance
``mu + mu**2 / theta``), as in DCA (Eraslan et al. 2019, Nat Commun 10:390), scDeepCluster
(Tian et al. 2019) and scVI (Lopez et al. 2018, Nat Methods 15:1053). The zero-inflation is given
either as a probability ``pi`` (DCA / scDeepCluster heads end in a sigmoid) or as logits
(scVI), the numerically stable form.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F

__all__ = ["nb_log_likelihood", "zinb_log_likelihood", "zinb_loss"]

EPS = 1e-8


def nb_log_likelihood(x: torch.Tensor, mu: torch.Tensor, theta: torch.Tensor, eps: float = EPS) -> torch.Tensor:
    """Elementwise log NB(x; mu, theta)."""
    log_theta_mu = torch.log(theta + mu + eps)
    return (
        theta * (torch.log(theta + eps) - log_theta_mu)
        + x * (torch.log(mu + eps) - log_theta_mu)
        + torch.lgamma(x + theta)
        - torch.lgamma(theta)
        - torch.lgamma(x + 1)
    )


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
    softplus_neg = F.softplus(-pi_logits)  # -log(1 - pi)
    log_theta_eps = torch.log(theta + eps)
    log_theta_mu = torch.log(theta + mu + eps)
    pi_theta_log = -pi_logits + theta * (log_theta_eps - log_theta_mu)
    case_zero = F.softplus(pi_theta_log) - softplus_neg
    case_nonzero = -softplus_neg - pi_logits + nb_log_likelihood(x, mu, theta, eps)  # log(1 - pi) + log NB
    return torch.where(x < eps, case_zero, case_nonzero)


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
    if scale_factor is not None:
        mu = mu * scale_factor.reshape(-1, 1)
    nll = -zinb_log_likelihood(x, mu, theta, pi=pi)
    if ridge_lambda > 0:
        nll = nll + ridge_lambda * pi.pow(2)
    if reduction == "mean":
        return nll.mean()
    if reduction == "cell":
        return nll.sum(dim=1).mean()
    raise ValueError(f"reduction must be 'mean' or 'cell', got {reduction!r}")
