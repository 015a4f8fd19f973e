"""scGNN's networks (Wang et al. 2021, Nat Commun 12:1882): the feature autoencoder that imputes,
the variational graph autoencoder over the cell graph whose embedding is clustered, and the
losses of both, computed from sparse graphs (nothing cells x cells is ever dense)."""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F
from torch import nn
from torch_geometric.nn import GCNConv

__all__ = [
    "FeatureAutoencoder",
    "GraphAutoencoder",
    "batch_cell_weights",
    "gae_loss",
    "l1_penalty",
    "weighted_reconstruction_loss",
]


class FeatureAutoencoder(nn.Module):
    """scGNN's feature autoencoder (the authors' ``model.AE``): ``genes -> 512 -> 128 -> 512 ->
    genes``, ReLU after every layer (the output too, as log expression is non-negative); the
    128-wide code is the embedding the cell graph is built on, the output the imputed values.

    Parameters
    ----------
    n_genes
        Input (and output) width.
    hidden
        Width of the hidden layers of encoder and decoder.
    latent
        Width of the code.
    """

    def __init__(self, n_genes: int, hidden: int = 512, latent: int = 128) -> None:
        super().__init__()
        self.fc1 = nn.Linear(n_genes, hidden)
        self.fc2 = nn.Linear(hidden, latent)
        self.fc3 = nn.Linear(latent, hidden)
        self.fc4 = nn.Linear(hidden, n_genes)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.fc2(F.relu(self.fc1(x))))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return F.relu(self.fc4(F.relu(self.fc3(z))))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(reconstruction, code)``."""
        z = self.encode(x)
        return self.decode(z), z


def l1_penalty(module: nn.Module) -> torch.Tensor:
    """``sum |w|`` over every parameter (weights and biases), the authors' ``L1Para`` term."""
    return sum(p.abs().sum() for p in module.parameters())  # type: ignore[return-value]


def batch_cell_weights(
    adjacency_block: Any, cell_types: np.ndarray, *, gamma: float, graph_weight: float, celltype_weight: float
) -> np.ndarray:
    """Weight of each cell's squared reconstruction error in scGNN's imputation loss, for one minibatch.

    The authors' loss (``util_function.loss_function_graph_celltype``, regulariser ``Celltype``)
    on a minibatch ``B`` with residuals ``R[j, g] = (x̂[j, g] - x[j, g])²`` is
    ``gamma * sum(R) + graph_weight * sum(A_B @ R) + celltype_weight * sum(C_B @ R)``, with
    ``A_B`` the cell graph and ``C_B`` the same-cell-type indicator (diagonal included) among the
    cells of ``B``. Since ``sum(M @ R) = sum_j (sum_i M[i, j]) * sum_g R[j, g]``, that is
    ``sum_j w_j * sum_g R[j, g]`` with ``w_j = gamma + graph_weight * (column sum of A_B)_j +
    celltype_weight * (number of cells of B with j's type)``: computed here from the sparse block
    and the type labels, never forming ``C``.

    Parameters
    ----------
    adjacency_block
        The cell graph restricted to the minibatch's cells (``|B| x |B|``, scipy sparse or dense).
    cell_types
        Integer cell type of each cell of the minibatch.
    """
    block = sp.csr_matrix(adjacency_block)
    degree = np.asarray(block.sum(axis=0)).ravel()
    types = np.asarray(cell_types, dtype=np.int64)
    same_type = np.bincount(types)[types] if types.size else np.zeros(0)
    return (gamma + graph_weight * degree + celltype_weight * same_type).astype(np.float32)


def weighted_reconstruction_loss(recon: torch.Tensor, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """``sum_j weights_j * sum_g (recon[j, g] - x[j, g])²`` (see :func:`batch_cell_weights`)."""
    return (weights * (recon - x).pow(2).sum(dim=1)).sum()


class GraphAutoencoder(nn.Module):
    """scGNN's graph autoencoder (the authors' default ``gcn_vae``, after Kipf & Welling 2016): a
    two-layer GCN encoder (``in -> hidden1`` with ReLU, then two ``hidden1 -> hidden2`` heads for
    the mean and the log standard deviation, no biases, dropout on each layer's input) and an
    inner-product decoder of the adjacency.

    ``adjacency`` in :meth:`encode` is the symmetric-normalised ``D^-1/2 (A + I) D^-1/2`` as a
    torch sparse tensor (``dance.nn.graphs.sparse_adjacency``): the GCN layers then aggregate with
    one sparse-dense product.
    """

    def __init__(self, in_features: int, hidden1: int = 32, hidden2: int = 16, dropout: float = 0.0) -> None:
        super().__init__()
        self.dropout = float(dropout)
        self.gc1 = GCNConv(in_features, hidden1, normalize=False, add_self_loops=False, bias=False)
        self.gc_mu = GCNConv(hidden1, hidden2, normalize=False, add_self_loops=False, bias=False)
        self.gc_logstd = GCNConv(hidden1, hidden2, normalize=False, add_self_loops=False, bias=False)
        for layer in (self.gc1, self.gc_mu, self.gc_logstd):  # the authors' Glorot-uniform weights
            nn.init.xavier_uniform_(layer.lin.weight)

    def encode(self, x: torch.Tensor, adjacency: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(mu, logstd)`` of every node."""
        h = F.relu(self.gc1(F.dropout(x, self.dropout, self.training), adjacency))
        h = F.dropout(h, self.dropout, self.training)
        return self.gc_mu(h, adjacency), self.gc_logstd(h, adjacency)

    def forward(
        self, x: torch.Tensor, adjacency: torch.Tensor, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(z, mu, logstd)``; ``z = mu + eps * exp(logstd)`` while training, ``mu`` otherwise."""
        mu, logstd = self.encode(x, adjacency)
        if not self.training:
            return mu, mu, logstd
        eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
        return mu + eps * torch.exp(logstd), mu, logstd


def gae_loss(
    z: torch.Tensor, mu: torch.Tensor, logstd: torch.Tensor, positive: torch.Tensor, negative: torch.Tensor
) -> dict[str, torch.Tensor]:
    """The authors' graph autoencoder loss from sampled node pairs.

    The authors compute ``norm * BCE_with_logits(z zᵀ, A + I, pos_weight)`` over all ``n²`` pairs,
    with ``pos_weight = #negatives / #positives`` and ``norm = n² / (2 #negatives)``: that is
    ``(mean over edges of -log σ(z_i·z_j) + mean over non-edges of -log(1 - σ(z_i·z_j))) / 2``.
    The first mean is computed over every edge (``positive``, ``2 x E`` with self loops), the
    second estimated without bias from uniformly drawn non-edges (``negative``), so no ``n x n``
    matrix exists. The KL term is the authors' ``-0.5 / n * mean_i sum_d (1 + 2 logstd - mu² -
    std²)``.
    """
    n = mu.shape[0]
    # index_select: its backward (index_add) is several times faster on CPUs than advanced indexing's
    pos_logits = (z.index_select(0, positive[0]) * z.index_select(0, positive[1])).sum(dim=1)
    neg_logits = (z.index_select(0, negative[0]) * z.index_select(0, negative[1])).sum(dim=1)
    reconstruction = 0.5 * (F.softplus(-pos_logits).mean() + (F.softplus(neg_logits).mean() if neg_logits.numel() else 0.0))
    kl = -0.5 / n * torch.mean(torch.sum(1 + 2 * logstd - mu.pow(2) - torch.exp(logstd).pow(2), dim=1))
    return {"loss": reconstruction + kl, "reconstruction": reconstruction, "kl": kl}
