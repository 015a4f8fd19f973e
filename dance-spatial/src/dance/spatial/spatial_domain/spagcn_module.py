"""SpaGCN's network: one graph convolution on PCA features and a Student's t soft assignment to
cluster centres, trained by DEC's self-training (Hu et al. 2021, Nat Methods 18:1342-1351).

The self-training's target distribution and KL loss are :mod:`dance.nn.clustering`'s
(``target_distribution``, ``kl_clustering_loss``): SpaGCN's ``target_distribution`` and
``loss_function`` compute the same ``q^2 / f`` target and mean KL(P || Q) with ``q + 1e-6``.
The soft assignment stays here, because SpaGCN's differs from DEC's (see
:meth:`SpaGCNModule.soft_assign`).
"""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["GraphConvolution", "SpaGCNModule"]


class GraphConvolution(nn.Module):
    """``adj @ (x @ W) + b`` with SpaGCN's dense, unnormalised Gaussian adjacency.

    Weights and bias start uniform in ``+-1/sqrt(out_features)`` (Kipf & Welling's GCN code,
    which SpaGCN uses).
    """

    def __init__(self, in_features: int, out_features: int, *, generator: torch.Generator | None = None) -> None:
        super().__init__()
        bound = 1.0 / math.sqrt(out_features)
        self.weight = nn.Parameter(torch.empty(in_features, out_features).uniform_(-bound, bound, generator=generator))
        self.bias = nn.Parameter(torch.empty(out_features).uniform_(-bound, bound, generator=generator))

    def forward(self, x: torch.Tensor, adj: torch.Tensor) -> torch.Tensor:
        return adj @ (x @ self.weight) + self.bias


class SpaGCNModule(nn.Module):
    """Graph convolution followed by the soft assignment of each spot to fixed cluster centres.

    ``q_ij`` is proportional to ``(1 + |z_i - mu_j|^2 / alpha)^-(alpha + 1)`` with SpaGCN's
    ``alpha = 0.2``. As in SpaGCN, the centres are set once from the initial clustering and are
    not optimised (the optimiser is created before they exist); training moves the embedding.
    """

    def __init__(self, n_features: int, n_hidden: int, *, alpha: float = 0.2, generator: torch.Generator | None = None) -> None:
        super().__init__()
        self.gc = GraphConvolution(n_features, n_hidden, generator=generator)
        self.alpha = alpha
        self.register_buffer("mu", torch.zeros(0, n_hidden))

    def set_centres(self, centres: torch.Tensor) -> None:
        self.mu = centres.detach().clone()

    def soft_assign(self, z: torch.Tensor) -> torch.Tensor:
        """Soft assignment of each row of ``z`` to the centres (rows sum to 1).

        SpaGCN's kernel, kept as its code has it: ``(1 + d^2 / alpha + 1e-8)^-(alpha + 1) / 2``,
        the exponent without DEC's halving (:func:`dance.nn.clustering.soft_assignment` uses
        ``-(alpha + 1) / 2``; the ``/ 2`` here is a constant that the normalisation removes).
        """
        squared = ((z.unsqueeze(1) - self.mu) ** 2).sum(dim=2)
        q = 1.0 / (1.0 + squared / self.alpha + 1e-8)
        q = q ** (self.alpha + 1.0) / 2.0
        return q / q.sum(dim=1, keepdim=True)

    def forward(self, x: torch.Tensor, adj: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        z = self.gc(x, adj)
        return z, self.soft_assign(z)
