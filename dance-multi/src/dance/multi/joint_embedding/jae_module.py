"""JAE's autoencoder (team Amateur, NeurIPS 2021 joint-embedding winner; ``kimmo1019/JAE``,
``2_ae_pretrain_*.py``): residual dense blocks into a partitioned latent space."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

import torch
from torch import nn

__all__ = ["JAEAutoencoder", "ResidualBlock"]


class ResidualBlock(nn.Module):
    """``h = relu(W1 x)``, then ``relu(W2 batchnorm(dropout(h)) + h)`` (the authors' encoder block)."""

    def __init__(self, n_in: int, n_out: int, dropout: float) -> None:
        super().__init__()
        self.inner = nn.Linear(n_in, n_out)
        self.dropout = nn.Dropout(dropout)
        self.norm = nn.BatchNorm1d(n_out)
        self.outer = nn.Linear(n_out, n_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.inner(x))
        return torch.relu(self.outer(self.norm(self.dropout(h))) + h)


class JAEAutoencoder(nn.Module):
    """Encoder: a residual block per hidden width (150, 120, 100), then a ReLU dense layer into
    the latent space; decoder: ReLU dense layers back through 100, 120, 150 to the input width,
    ReLU output (the authors' Keras model)."""

    def __init__(self, n_inputs: int, latent: int, hidden: Sequence[int] = (150, 120, 100), *, dropout: float = 0.1) -> None:
        super().__init__()
        widths = [n_inputs, *hidden]
        self.encoder = nn.Sequential(
            *[ResidualBlock(a, b, dropout) for a, b in pairwise(widths)],
            nn.Linear(widths[-1], latent),
            nn.ReLU(),
        )
        decoder: list[nn.Module] = []
        for a, b in zip([latent, *hidden[::-1]], [*hidden[::-1], n_inputs], strict=True):
            decoder += [nn.Linear(a, b), nn.ReLU()]
        self.decoder = nn.Sequential(*decoder)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        z = self.encoder(x)
        return z, self.decoder(z)
