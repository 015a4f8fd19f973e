"""ACTINN's network: a fully connected ReLU network with a softmax output (Ma & Pellegrini 2020)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import torch
from torch import nn

__all__ = ["ACTINNNet"]


class ACTINNNet(nn.Module):
    """``genes -> 100 -> 50 -> 25 -> classes`` (by default) with ReLU between layers.

    Weights start Xavier-uniform (TensorFlow's ``xavier_initializer``), biases at zero, as in
    ACTINN's code. The forward pass returns logits; the softmax is in the loss.
    """

    def __init__(self, n_genes: int, n_classes: int, hidden: Sequence[int] = (100, 50, 25)) -> None:
        super().__init__()
        dims = [n_genes, *hidden, n_classes]
        layers: list[nn.Module] = []
        for i, (d_in, d_out) in enumerate(itertools.pairwise(dims)):
            linear = nn.Linear(d_in, d_out)
            nn.init.xavier_uniform_(linear.weight)
            nn.init.zeros_(linear.bias)
            layers.append(linear)
            if i < len(dims) - 2:
                layers.append(nn.ReLU())
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)

    def weight_penalty(self) -> torch.Tensor:
        """``sum(W ** 2) / 2`` over every weight matrix (TensorFlow's ``l2_loss``; biases excluded)."""
        return sum((m.weight**2).sum() / 2 for m in self.layers if isinstance(m, nn.Linear))
