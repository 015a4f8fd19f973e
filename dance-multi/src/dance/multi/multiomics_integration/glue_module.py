"""GLUE's networks (Cao & Gao 2022, "Multi-omics single-cell data integration and regulatory
inference with graph-linked embedding", Nat Biotechnol 40:1458; ``scglue.models.sc`` and
``scglue.models.glue``, 0.4.1). Used by :mod:`dance.multi.multiomics_integration.glue`.

Each modality's cells are encoded (from a PCA / LSI representation) into a Gaussian latent space;
the guidance graph's features are encoded by one propagation of a learnt vertex table into the
same space; a cell's counts are decoded by a negative binomial whose mean is a softmax over
``scale x (cell . feature embedding) + bias`` times its library size; a discriminator tries to
tell the modalities apart from the cells' latent means.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch.distributions import Normal

from dance.nn.likelihoods import nb_log_likelihood_sum_from_logs

__all__ = ["CellEncoder", "Discriminator", "FeatureDecoder", "GLUEModule", "GraphEncoder"]

EPS = 1e-7


def _mlp(n_in: int, hidden: int, depth: int, dropout: float, *, batch_norm: bool) -> tuple[nn.Sequential, int]:
    """``depth`` x [Linear -> LeakyReLU(0.2) -> (BatchNorm) -> Dropout], scglue's layer order."""
    layers: list[nn.Module] = []
    width = n_in
    for _ in range(depth):
        layers += [nn.Linear(width, hidden), nn.LeakyReLU(0.2)]
        if batch_norm:
            layers.append(nn.BatchNorm1d(hidden))
        layers.append(nn.Dropout(dropout))
        width = hidden
    return nn.Sequential(*layers), width


class CellEncoder(nn.Module):
    """A modality's cells -> ``Normal(loc, softplus(.) + eps)`` (scglue's ``DataEncoder``)."""

    def __init__(self, n_in: int, latent: int, hidden: int = 256, depth: int = 2, dropout: float = 0.2) -> None:
        super().__init__()
        self.net, width = _mlp(n_in, hidden, depth, dropout, batch_norm=True)
        self.loc = nn.Linear(width, latent)
        self.std = nn.Linear(width, latent)

    def forward(self, x: torch.Tensor) -> Normal:
        h = self.net(x)
        return Normal(self.loc(h), F.softplus(self.std(h)) + EPS)


class GraphEncoder(nn.Module):
    """Feature embeddings from the guidance graph (scglue's ``GraphEncoder``): a learnt vertex
    table (zeros at the start), one weightless propagation over every edge with ``sign x weight /
    sqrt(weighted in-degree of the target)``, then ``Normal(Linear, softplus(Linear) + eps)``."""

    def __init__(self, n_vertices: int, latent: int) -> None:
        super().__init__()
        self.vertices = nn.Parameter(torch.zeros(n_vertices, latent))
        self.loc = nn.Linear(latent, latent)
        self.std = nn.Linear(latent, latent)

    def forward(self, propagation: torch.Tensor) -> Normal:
        h = torch.sparse.mm(propagation, self.vertices)
        return Normal(self.loc(h), F.softplus(self.std(h)) + EPS)


class _RowGather(torch.autograd.Function):
    """``parameter[rows]`` whose gradient is summed with ``index_add_`` along the rows: on a CPU
    several times faster than indexing's backward (an accumulating ``index_put``) and than a
    one-hot matrix product."""

    @staticmethod
    def forward(ctx, parameter: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        ctx.save_for_backward(rows)
        ctx.n_rows = parameter.shape[0]
        return parameter.index_select(0, rows)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:  # type: ignore[override]
        (rows,) = ctx.saved_tensors
        return grad.new_zeros((ctx.n_rows, grad.shape[1])).index_add_(0, rows, grad), None


class FeatureDecoder(nn.Module):
    """A modality's negative binomial through feature embeddings (scglue's ``NBDataDecoder``): per
    batch ``b``, ``mu = softmax(softplus(scale_b) * (u v^T) + bias_b) * library`` and inverse
    dispersion ``exp(log_theta_b)``."""

    def __init__(self, n_features: int, n_batches: int = 1) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.zeros(n_batches, n_features))
        self.bias = nn.Parameter(torch.zeros(n_batches, n_features))
        self.log_theta = nn.Parameter(torch.zeros(n_batches, n_features))

    def _per_cell(self, parameter: torch.Tensor, batch: torch.Tensor) -> torch.Tensor:
        """``parameter[batch]``, or the one row broadcast when there is one batch."""
        if parameter.shape[0] == 1:
            return parameter
        return _RowGather.apply(parameter, batch)

    def forward(self, u: torch.Tensor, v: torch.Tensor, batch: torch.Tensor, library: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits = self._per_cell(F.softplus(self.scale), batch) * (u @ v.t()) + self._per_cell(self.bias, batch)
        mu = torch.softmax(logits, dim=1) * library
        return mu, torch.exp(self._per_cell(self.log_theta, batch)).expand_as(mu)

    def log_likelihood(self, x: torch.Tensor, u: torch.Tensor, v: torch.Tensor, batch: torch.Tensor) -> torch.Tensor:
        """``sum log NB(x | mu, theta)`` over the cells and features of ``x`` (counts), the library
        being each cell's total: the same value as the negative binomial of :meth:`forward`'s mean,
        in log space (``log mu`` from ``log_softmax``) through
        :func:`dance.nn.likelihoods.nb_log_likelihood_sum_from_logs`, which skips the zero
        counts' vanishing terms and autograd's long chain: the cells x features likelihood is
        where GLUE's time goes."""
        per_cell_scale = self._per_cell(F.softplus(self.scale), batch)
        logits = torch.addcmul(self._per_cell(self.bias, batch), per_cell_scale, u @ v.t())
        log_mu = torch.log_softmax(logits, dim=1) + torch.log(x.sum(dim=1, keepdim=True).clamp_min(EPS))
        log_theta = self._per_cell(self.log_theta, batch).expand_as(log_mu)
        return nb_log_likelihood_sum_from_logs(x, log_mu, log_theta)


class Discriminator(nn.Module):
    """Which modality a latent vector comes from (scglue's ``Discriminator``: 2 x [Linear(256),
    LeakyReLU(0.2), Dropout(0.2)] -> logits)."""

    def __init__(self, latent: int, n_modalities: int, hidden: int = 256, depth: int = 2, dropout: float = 0.2) -> None:
        super().__init__()
        self.net, width = _mlp(latent, hidden, depth, dropout, batch_norm=False)
        self.out = nn.Linear(width, n_modalities)

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        return self.out(self.net(u))


class GLUEModule(nn.Module):
    """Every network of one GLUE model.

    Parameters
    ----------
    representation_widths
        Width of each modality's encoder input (PCA / LSI components).
    feature_slices
        Each modality's features as a slice of the graph's vertices (the graph's feature order).
    n_vertices
        Vertices of the guidance graph.
    n_batches
        Batches of each modality (1: none).
    latent, hidden, depth, dropout
        scglue's ``latent_dim`` (50), ``h_dim`` (256), ``h_depth`` (2), ``dropout`` (0.2).
    """

    def __init__(
        self,
        representation_widths: Sequence[int],
        feature_slices: Sequence[slice],
        n_vertices: int,
        n_batches: Sequence[int],
        *,
        latent: int = 50,
        hidden: int = 256,
        depth: int = 2,
        dropout: float = 0.2,
    ) -> None:
        super().__init__()
        self.feature_slices = list(feature_slices)
        self.encoders = nn.ModuleList(CellEncoder(n, latent, hidden, depth, dropout) for n in representation_widths)
        self.decoders = nn.ModuleList(FeatureDecoder(s.stop - s.start, b) for s, b in zip(self.feature_slices, n_batches, strict=True))
        self.graph_encoder = GraphEncoder(n_vertices, latent)
        self.discriminator = Discriminator(latent, len(self.encoders), hidden, depth, dropout)

    def vae_parameters(self) -> list[nn.Parameter]:
        """Everything but the discriminator (the VAE optimiser's parameters)."""
        return [p for name, p in self.named_parameters() if not name.startswith("discriminator.")]
