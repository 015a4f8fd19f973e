"""DSTG's network: a two-layer graph convolutional network (Kipf & Welling 2017) predicting each
spot's cell-type proportions (Song & Su 2021, Brief Bioinform 22:bbaa414)."""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["DSTGModule", "soft_cross_entropy"]


def _glorot(rows: int, cols: int, generator: torch.Generator) -> nn.Parameter:
    bound = math.sqrt(6.0 / (rows + cols))
    return nn.Parameter(torch.empty(rows, cols).uniform_(-bound, bound, generator=generator))


class DSTGModule(nn.Module):
    """``softmax(A relu(A X W1) W2)`` with the normalised adjacency ``A`` (Glorot initialisation, no bias)."""

    def __init__(self, n_features: int, n_hidden: int, n_types: int, *, dropout: float = 0.0, seed: int = 0) -> None:
        super().__init__()
        generator = torch.Generator().manual_seed(seed)
        self.W1 = _glorot(n_features, n_hidden, generator)
        self.W2 = _glorot(n_hidden, n_types, generator)
        self.dropout = dropout

    def forward(self, x: torch.Tensor, adj: torch.Tensor) -> torch.Tensor:
        """Logits (apply softmax for proportions)."""
        h = F.dropout(x, self.dropout, self.training)
        h = F.relu(torch.sparse.mm(adj, h @ self.W1))
        h = F.dropout(h, self.dropout, self.training)
        return torch.sparse.mm(adj, h @ self.W2)


def soft_cross_entropy(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy between softmax(logits) and target proportions (DSTG's masked loss)."""
    return -(target * F.log_softmax(logits, dim=1)).sum(dim=1).mean()
