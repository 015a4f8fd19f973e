"""scTAG's network (Yu et al. 2022, AAAI 36:4671): a topology adaptive graph convolutional encoder
(TAGConv, Du et al. 2017) with two decoders, one for the graph and one for the counts (ZINB)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch_geometric.nn import TAGConv

from dance.nn.clustering import soft_assignment
from dance.nn.layers import ZINBHeads, mlp

__all__ = ["ScTAGNetwork"]


class ScTAGNetwork(nn.Module):
    """Dropout on the input, ``TAGConv(hidden, ReLU) -> TAGConv(latent)`` with ``k_hops`` hops over
    the normalised kNN graph; the adjacency decoder is a linear map to ``adj_dim`` units followed by
    a sigmoid inner product; the expression decoder is an MLP (``decoder_dims``, ReLU) with ZINB
    heads; ``centres`` are the cluster centres of the Student's t soft assignment.
    """

    def __init__(
        self,
        n_input: int,
        n_clusters: int,
        hidden_dim: int = 128,
        latent_dim: int = 15,
        decoder_dims: Sequence[int] = (128, 256, 512),
        k_hops: int = 3,
        adj_dim: int = 32,
        dropout: float = 0.2,
        alpha: float = 1.0,
    ) -> None:
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.conv1 = TAGConv(n_input, hidden_dim, K=k_hops, normalize=False)
        self.conv2 = TAGConv(hidden_dim, latent_dim, K=k_hops, normalize=False)
        self.adj_decoder = nn.Linear(latent_dim, adj_dim)
        self.x_decoder = mlp([latent_dim, *decoder_dims])
        self.heads = ZINBHeads(decoder_dims[-1], n_input)
        self.centres = nn.Parameter(torch.zeros(n_clusters, latent_dim))
        self.alpha = float(alpha)

    def encode(self, x: torch.Tensor, adjacency: torch.Tensor) -> torch.Tensor:
        """The embedding; ``adjacency`` is the normalised sparse ``adj_t``."""
        h = F.relu(self.conv1(self.dropout(x), adjacency))
        return self.conv2(h, adjacency)

    def forward(self, x: torch.Tensor, adjacency: torch.Tensor) -> dict[str, object]:
        """``z`` (embedding), ``adj_h`` (the adjacency decoder's output: the reconstructed
        adjacency is ``sigmoid(adj_h adj_h^T)``, see :meth:`reconstructed_adjacency`; the ``n x n``
        matrix itself is not built here), ``zinb`` (mean, dispersion, dropout) and ``q`` (soft
        assignments)."""
        z = self.encode(x, adjacency)
        return {
            "z": z,
            "adj_h": self.adj_decoder(z),
            "zinb": self.heads(self.x_decoder(z)),
            "q": soft_assignment(z, self.centres, self.alpha),
        }

    @staticmethod
    def reconstructed_adjacency(adj_h: torch.Tensor) -> torch.Tensor:
        """The reconstructed adjacency (edge probabilities), ``n x n``."""
        return torch.sigmoid(adj_h @ adj_h.T)
