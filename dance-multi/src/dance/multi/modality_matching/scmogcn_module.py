"""scMoGNN for modality matching (Wen et al. 2022, KDD; DANCE's ``match_modality/scmogcn.py``):
parameter-free propagation on each modality's cell-component graph, and a contrastive matching
head. Used by :mod:`dance.multi.modality_matching.scmogcn`."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

__all__ = ["MatchingHead", "cell_feature_propagation"]


def _zscore(x: np.ndarray) -> np.ndarray:
    """The authors' normalisation: over every entry of the matrix, skipped (only centred) when
    the mean is exactly 0."""
    mean = x.mean()
    std = x.std() if mean != 0 else 1.0
    return (x - mean) / (std if std > 0 else 1.0)


def cell_feature_propagation(features: np.ndarray, *, layers: int = 4, alpha: float = 0.5, beta: float = 0.5) -> list[np.ndarray]:
    """Cells' representations after ``layers`` rounds of propagation on the bipartite graph of
    cells and feature columns with the values of ``features`` (cells x components) as edge
    weights; the first round is dropped (``layers - 1`` matrices, cells x components).

    Feature nodes start as one-hot vectors and cells at zero; each round sums the edge-weighted
    neighbours (DGL ``GraphConv(norm="none", weight=False)``), normalises, keeps ``alpha`` (features)
    / ``beta`` (cells) of the previous state and normalises again.
    """
    a = np.asarray(features, dtype=np.float64)
    h_feature = np.eye(a.shape[1])
    h_cell = np.zeros((a.shape[0], a.shape[1]))
    cells = []
    for _ in range(layers):
        new_feature = _zscore(a.T @ h_cell)
        new_cell = _zscore(a @ h_feature)
        h_feature = _zscore(alpha * h_feature + (1 - alpha) * new_feature)
        h_cell = _zscore(beta * h_cell + (1 - beta) * new_cell)
        cells.append(h_cell.astype(np.float32))
    return cells[1:]


def _mlp(spec: Sequence[tuple[int, int, float]]) -> nn.Sequential:
    """Linear layers of ``(in, out, dropout)``, GELU and dropout between them (not after the last)."""
    modules: list[nn.Module] = []
    for i, (n_in, n_out, dropout) in enumerate(spec):
        modules.append(nn.Linear(n_in, n_out))
        if i < len(spec) - 1:
            modules.append(nn.GELU())
            if dropout > 0:
                modules.append(nn.Dropout(dropout))
    return nn.Sequential(*modules)


class MatchingHead(nn.Module):
    """Two encoders into a shared, L2-normalised space, ``logits = e1 e2^T exp(temperature)`` (a
    CLIP-style contrastive head), and two decoders for the auxiliary reconstructions; the layer
    mixing weights of each modality's propagated representations are learnt with it."""

    def __init__(
        self,
        encoder1: Sequence[tuple[int, int, float]],
        encoder2: Sequence[tuple[int, int, float]],
        decoder1: Sequence[tuple[int, int, float]],
        decoder2: Sequence[tuple[int, int, float]],
        *,
        n_layers: int,
        temperature: float,
    ) -> None:
        super().__init__()
        self.encoders = nn.ModuleList([_mlp(encoder1), _mlp(encoder2)])
        self.decoders = nn.ModuleList([_mlp(decoder1), _mlp(decoder2)])
        self.layer_weights = nn.Parameter(torch.zeros(2, n_layers))
        self.temperature = temperature

    def combine(self, layers: torch.Tensor, modality: int) -> torch.Tensor:
        """Softmax-weighted sum of one modality's propagated layers (layers x cells x dims)."""
        weights = torch.softmax(self.layer_weights[modality], dim=0)
        return (weights[:, None, None] * layers).sum(dim=0)

    def encode(self, x: torch.Tensor, modality: int) -> torch.Tensor:
        e = self.encoders[modality](x)
        return e / torch.linalg.norm(e, dim=-1, keepdim=True).clamp(min=1e-12)

    def logits(self, e1: torch.Tensor, e2: torch.Tensor) -> torch.Tensor:
        return e1 @ e2.T * math.exp(self.temperature)
