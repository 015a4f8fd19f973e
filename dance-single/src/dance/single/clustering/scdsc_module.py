"""scDSC's network (Gan et al. 2022, Brief Bioinform 23:bbac018): a ZINB autoencoder and a GCN
whose layers mix in the autoencoder's layer representations (SDCN's delivery operator, Bo et al.
2020, WWW)."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

import torch
import torch.nn.functional as F
from torch import nn
from torch_geometric.nn import GCNConv

from dance.nn.clustering import soft_assignment
from dance.nn.layers import ZINBHeads, mlp

__all__ = ["ScDSCAutoencoder", "ScDSCNetwork"]


class ScDSCAutoencoder(nn.Module):
    """scDSC's autoencoder: an encoder of ``encoder_dims`` (linear, batch norm, ReLU), three
    linear + batch-norm layers to the embedding (``latent_dims``, no activation), a decoder
    mirroring the encoder, a linear reconstruction of the input and ZINB heads on the last
    decoder layer. ``forward`` returns every representation the GCN mixes in.
    """

    def __init__(self, n_input: int, encoder_dims: Sequence[int] = (512, 256, 256), latent_dims: Sequence[int] = (256, 128, 32)) -> None:
        super().__init__()
        self.encoder = nn.ModuleList(mlp([a, b], batch_norm=True) for a, b in zip([n_input, *encoder_dims[:-1]], encoder_dims, strict=True))
        self.latent = nn.ModuleList(
            mlp([a, b], batch_norm=True, activation="none") for a, b in zip([encoder_dims[-1], *latent_dims[:-1]], latent_dims, strict=True)
        )
        decoder_dims = list(reversed(encoder_dims))
        self.decoder = mlp([latent_dims[-1], *decoder_dims], batch_norm=True)
        self.reconstruction = nn.Linear(decoder_dims[-1], n_input)
        self.heads = ZINBHeads(decoder_dims[-1], n_input)

    def forward(self, x: torch.Tensor, *, zinb: bool = True) -> dict[str, object]:
        """``hidden`` (encoder and latent layer outputs, in order; the last is the embedding ``z``),
        ``x_bar`` (reconstruction) and, unless ``zinb=False``, ``zinb`` (mean, dispersion, dropout)."""
        hidden = []
        h = x
        for layer in [*self.encoder, *self.latent]:
            h = layer(h)
            hidden.append(h)
        decoded = self.decoder(h)
        out: dict[str, object] = {"hidden": hidden, "z": h, "x_bar": self.reconstruction(decoded)}
        if zinb:  # pretraining fits x_bar only; the three gene-wide heads are most of the decoder's work
            out["zinb"] = self.heads(decoded)
        return out


class ScDSCNetwork(nn.Module):
    """Autoencoder + GCN + cluster centres.

    GCN layer ``l`` takes ``(1 - sigma) * H_(l-1) + sigma * A_(l-1)``, where ``A`` are the
    autoencoder's layer outputs, and propagates with the row-normalised kNN adjacency (GCN layers
    without bias, ReLU except the last, whose softmax is the cluster prediction).
    """

    def __init__(
        self,
        n_input: int,
        n_clusters: int,
        encoder_dims: Sequence[int] = (512, 256, 256),
        latent_dims: Sequence[int] = (256, 128, 32),
        sigma: float = 0.5,
        alpha: float = 1.0,
    ) -> None:
        super().__init__()
        self.ae = ScDSCAutoencoder(n_input, encoder_dims, latent_dims)
        widths = [n_input, *encoder_dims, *latent_dims, n_clusters]
        self.gnn = nn.ModuleList(GCNConv(a, b, normalize=False, add_self_loops=False, bias=False) for a, b in pairwise(widths))
        self.centres = nn.Parameter(torch.zeros(n_clusters, latent_dims[-1]))
        self.sigma = float(sigma)
        self.alpha = float(alpha)

    def forward(self, x: torch.Tensor, adjacency: torch.Tensor) -> dict[str, object]:
        """The autoencoder's outputs plus ``q`` (Student's t soft assignment of ``z``) and
        ``predict`` (the GCN's softmax); ``adjacency`` is the normalised sparse ``adj_t``."""
        out = self.ae(x)
        h = F.relu(self.gnn[0](x, adjacency))
        hidden = out["hidden"]
        for i, layer in enumerate(self.gnn[1:]):
            mixed = (1 - self.sigma) * h + self.sigma * hidden[i]
            h = layer(mixed, adjacency)
            if i < len(self.gnn) - 2:
                h = F.relu(h)
        out["predict"] = F.softmax(h, dim=1)
        out["q"] = soft_assignment(out["z"], self.centres, self.alpha)
        return out
