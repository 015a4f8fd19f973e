"""graph-sc's graph autoencoder (Ciortan & Defrance 2022, Bioinformatics 38:1037): one weighted
graph convolution over the cell-gene graph, a linear layer, and an inner-product decoder."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch_geometric.nn import GCNConv

__all__ = ["GraphSCAutoencoder", "inner_product_loss"]


class GraphSCAutoencoder(nn.Module):
    """GCN encoder (dropout on the node features, a weighted graph convolution with ReLU, then a
    linear layer without activation, as graph-sc's defaults ``n_hidden=1``, ``hidden_relu=False``,
    ``hidden_bn=False``) and an inner-product decoder with dropout.

    The edge weights passed in are already normalised (graph-sc's per-cell edge normalisation and
    the GCN's symmetric degree normalisation), so the convolution only sums weighted messages.
    """

    def __init__(
        self, in_feats: int = 50, hidden_dim: int = 200, out_dim: int = 300, dropout: float = 0.1, decoder_dropout: float = 0.1
    ) -> None:
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.conv = GCNConv(in_feats, hidden_dim, normalize=False, add_self_loops=False, bias=True)
        self.linear = nn.Linear(hidden_dim, out_dim)
        self.decoder_dropout = decoder_dropout

    def encode(self, x: torch.Tensor, adjacency: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Embeddings of the ``targets`` nodes (cells) after one convolution and the linear layer;
        ``adjacency`` is the sparse ``adj_t`` (row = receiving node) with normalised weights."""
        h = F.relu(self.conv(self.dropout(x), adjacency))
        return self.linear(h[targets])

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Logits of the adjacency among the given cells: ``z zᵀ`` (with dropout on ``z`` while training)."""
        z = F.dropout(z, self.decoder_dropout, training=self.training)
        return z @ z.T


def inner_product_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The graph autoencoder loss of GAE (Kipf & Welling 2016) as graph-sc weights it: binary cross
    entropy with the positive class up-weighted by ``#negatives / #positives`` and the whole scaled
    by ``n² / (2 #negatives)``.
    """
    n_all = float(target.numel())
    n_positive = float(target.sum())
    n_negative = max(n_all - n_positive, 1.0)
    pos_weight = torch.tensor(n_negative / max(n_positive, 1.0), device=logits.device)
    norm = n_all / (2.0 * n_negative)
    return norm * F.binary_cross_entropy_with_logits(logits, target, pos_weight=pos_weight)
