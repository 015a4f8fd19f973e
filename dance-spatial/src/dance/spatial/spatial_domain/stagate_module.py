"""STAGATE's graph attention auto-encoder (Dong & Zhang 2022, Nat Commun 13:1739).

Encoder: ``H1 = ELU(C X W1)``, latent ``Z = H1 W2``; decoder with tied weights and the same
attention: ``H3 = ELU(C Z W2^T)``, reconstruction ``X^ = H3 W1^T``. The attention of spot ``i``
to neighbour ``j`` (self included) is ``softmax_j(sigmoid(v_s^T W h_i + v_r^T W h_j))``. With the
cell type-aware module, ``C`` is ``(1 - alpha) C_spatial + alpha C_pruned`` where the pruned graph
keeps only edges between spots of the same pre-cluster and has its own attention vectors.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from dance.nn.graphs import EdgeAggregation

__all__ = ["GraphAttention", "STAGATEModule"]


def _xavier(shape: tuple[int, ...], generator: torch.Generator) -> nn.Parameter:
    fan_in, fan_out = shape[0], shape[-1]
    std = (2.0 / (fan_in + fan_out)) ** 0.5
    return nn.Parameter(torch.randn(*shape, generator=generator) * std)


class GraphAttention(nn.Module):
    """Attention coefficients of one graph: ``alpha_ij`` for every edge ``j -> i`` (self loops included)."""

    def __init__(self, dim: int, generator: torch.Generator) -> None:
        super().__init__()
        self.v_target = _xavier((dim, 1), generator)
        self.v_source = _xavier((dim, 1), generator)

    def forward(self, h: torch.Tensor, graph: EdgeAggregation) -> torch.Tensor:
        from torch_geometric.utils import softmax

        logits = (h @ self.v_target).squeeze(1)[graph.target] + (h @ self.v_source).squeeze(1)[graph.source]
        return softmax(torch.sigmoid(logits), graph.target, num_nodes=h.shape[0])


class STAGATEModule(nn.Module):
    """Two-layer graph attention auto-encoder with tied weights.

    Parameters
    ----------
    n_genes
        Input features (highly variable genes).
    hidden
        Width of the hidden layer (512 in the paper).
    latent
        Latent dimension (30).
    alpha
        Weight of the cell type-aware (pruned) graph; 0 disables it.
    """

    def __init__(self, n_genes: int, hidden: int = 512, latent: int = 30, *, alpha: float = 0.0, seed: int = 0) -> None:
        super().__init__()
        generator = torch.Generator().manual_seed(seed)
        self.W1 = _xavier((n_genes, hidden), generator)
        self.W2 = _xavier((hidden, latent), generator)
        self.attention = GraphAttention(hidden, generator)
        self.alpha = alpha
        self.pruned_attention = GraphAttention(hidden, generator) if alpha > 0 else None

    def forward(self, x: torch.Tensor, graph: EdgeAggregation, pruned: EdgeAggregation | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        h = x @ self.W1
        weights = self.attention(h, graph)
        pruned_weights = self.pruned_attention(h, pruned) if self.pruned_attention is not None and pruned is not None else None

        def attend(values: torch.Tensor) -> torch.Tensor:
            out = graph(weights, values)
            if pruned_weights is not None and pruned is not None:
                out = (1 - self.alpha) * out + self.alpha * pruned(pruned_weights, values)
            return out

        z = F.elu(attend(h)) @ self.W2
        # decoder: the encoder's attention and transposed weights; C (Z W2^T) = (C Z) W2^T
        h3 = F.elu(attend(z) @ self.W2.T)
        return z, h3 @ self.W1.T
