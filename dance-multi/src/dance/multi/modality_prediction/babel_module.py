"""BABEL's networks (Wu et al. 2021, "BABEL enables cross-modality translation between
multiomic profiles at single-cell resolution", PNAS 118:e2023070118; the authors'
``babel/models/autoencoders.py``): one encoder and one decoder per modality around a shared
16-dimensional latent space. Used by :mod:`dance.multi.modality_prediction.babel`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["BabelModule", "ChromosomeDecoder", "ChromosomeEncoder", "ModalityDecoder", "ModalityEncoder"]

Kind = Literal["gex", "adt", "atac"]


def _block(n_in: int, n_out: int) -> nn.Sequential:
    """``Linear (Xavier) -> BatchNorm -> PReLU``, the authors' unit."""
    linear = nn.Linear(n_in, n_out)
    nn.init.xavier_uniform_(linear.weight)
    return nn.Sequential(linear, nn.BatchNorm1d(n_out), nn.PReLU())


def _linear(n_in: int, n_out: int) -> nn.Linear:
    linear = nn.Linear(n_in, n_out)
    nn.init.xavier_uniform_(linear.weight)
    return linear


class ModalityEncoder(nn.Module):
    """Expression or proteins: ``n -> 64 -> latent`` (the authors' ``Encoder``)."""

    def __init__(self, n_inputs: int, latent: int = 16, hidden: int = 64) -> None:
        super().__init__()
        self.net = nn.Sequential(_block(n_inputs, hidden), _block(hidden, latent))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class ChromosomeEncoder(nn.Module):
    """Peaks: each chromosome's peaks ``-> 32 -> 16`` on their own, concatenated, then ``-> latent``
    (the authors' ``ChromEncoder``)."""

    def __init__(self, chromosome_sizes: Sequence[int], latent: int = 16) -> None:
        super().__init__()
        self.sizes = [int(n) for n in chromosome_sizes]
        self.per_chromosome = nn.ModuleList(nn.Sequential(_block(n, 32), _block(32, 16)) for n in self.sizes)
        self.combine = _block(16 * len(self.sizes), latent)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        parts = torch.split(x, self.sizes, dim=1)
        return self.combine(torch.cat([net(part) for net, part in zip(self.per_chromosome, parts, strict=True)], dim=1))


class ModalityDecoder(nn.Module):
    """``latent -> 64 ->`` outputs (the authors' ``Decoder``): for expression the negative binomial
    mean (``exp``, clamped; per size factor) and inverse dispersion (clipped softplus); for
    proteins the values themselves."""

    def __init__(self, n_outputs: int, kind: Kind, latent: int = 16, hidden: int = 64) -> None:
        super().__init__()
        self.kind = kind
        self.hidden = _block(latent, hidden)
        self.mean = _linear(hidden, n_outputs)
        self.dispersion = _linear(hidden, n_outputs) if kind == "gex" else None

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        h = self.hidden(z)
        if self.kind == "gex":
            assert self.dispersion is not None
            mean = torch.clamp(torch.exp(self.mean(h)), min=1e-5, max=1e6)
            theta = torch.clamp(F.softplus(self.dispersion(h)), min=1e-4, max=1e4)
            return mean, theta
        return self.mean(h), None


class ChromosomeDecoder(nn.Module):
    """``latent -> 16 per chromosome``, each chunk ``-> 32 ->`` its peaks as logits (the authors'
    ``ChromDecoder`` with a sigmoid output, here left to the Bernoulli loss)."""

    def __init__(self, chromosome_sizes: Sequence[int], latent: int = 16) -> None:
        super().__init__()
        self.sizes = [int(n) for n in chromosome_sizes]
        self.expand = _block(latent, 16 * len(self.sizes))
        self.per_chromosome = nn.ModuleList(nn.Sequential(_block(16, 32), _linear(32, n)) for n in self.sizes)

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, None]:
        chunks = torch.chunk(self.expand(z), len(self.sizes), dim=1)
        return torch.cat([net(chunk) for net, chunk in zip(self.per_chromosome, chunks, strict=True)], dim=1), None


def _encoder(kind: Kind, n: int, chromosomes: Sequence[int] | None, latent: int) -> nn.Module:
    return ChromosomeEncoder(chromosomes or [n], latent) if kind == "atac" else ModalityEncoder(n, latent)


def _decoder(kind: Kind, n: int, chromosomes: Sequence[int] | None, latent: int) -> nn.Module:
    return ChromosomeDecoder(chromosomes or [n], latent) if kind == "atac" else ModalityDecoder(n, kind, latent)


class BabelModule(nn.Module):
    """Two encoders into one latent space and two decoders out of it: each modality is
    reconstructed from itself and translated from the other (BABEL's ``AssymSplicedAutoEncoder``)."""

    def __init__(
        self,
        kinds: tuple[Kind, Kind],
        sizes: tuple[int, int],
        chromosomes: tuple[Sequence[int] | None, Sequence[int] | None] = (None, None),
        latent: int = 16,
    ) -> None:
        super().__init__()
        self.kinds = kinds
        self.encoders = nn.ModuleList(_encoder(k, n, c, latent) for k, n, c in zip(kinds, sizes, chromosomes, strict=True))
        self.decoders = nn.ModuleList(_decoder(k, n, c, latent) for k, n, c in zip(kinds, sizes, chromosomes, strict=True))

    def encode(self, x: torch.Tensor, modality: int) -> torch.Tensor:
        return self.encoders[modality](x)

    def decode(self, z: torch.Tensor, modality: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        return self.decoders[modality](z)
