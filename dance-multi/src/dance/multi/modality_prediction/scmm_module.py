"""scMM's mixture-of-experts multimodal VAE (Minoura et al. 2021, "A mixture-of-experts deep
generative model for integrated analysis of single-cell multiomics data", Cell Rep Methods
1:100071; the authors' ``src/models/{vae_rna,vae_protein,vae_atac,mmvae_rna_protein}.py`` and
``src/objectives.py``). Used by the ``scmm`` prediction and matching models."""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn
from torch.distributions import Laplace, kl_divergence

from dance.nn.likelihoods import nb_log_likelihood, zinb_log_likelihood

__all__ = ["SCALE_FACTOR", "ScMMModule", "ScMMVAE"]

#: the encoders see counts per 10,000 reads; decoders produce rates per 10,000 reads
SCALE_FACTOR = 10_000.0
#: the authors' Constants.eta / eps
ETA = 1e-6
EPS = 1e-6

Kind = Literal["gex", "adt", "atac"]


def _layers(n_in: int, hidden: int, n_layers: int) -> nn.Sequential:
    modules: list[nn.Module] = []
    for i in range(n_layers):
        modules += [nn.Linear(n_in if i == 0 else hidden, hidden), nn.BatchNorm1d(hidden), nn.ReLU()]
    return nn.Sequential(*modules)


class ScMMVAE(nn.Module):
    """One modality's encoder ``q(z | x)`` (Laplace) and decoder ``p(x | z)``: negative binomial
    for expression and proteins, zero-inflated negative binomial for peaks."""

    def __init__(self, kind: Kind, n_features: int, latent: int, hidden: int, n_layers: int) -> None:
        super().__init__()
        self.kind = kind
        self.encoder = _layers(n_features, hidden, n_layers)
        self.loc = nn.Linear(hidden, latent)
        self.log_scale = nn.Linear(hidden, latent)
        self.decoder = _layers(latent, hidden, n_layers)
        self.log_r = nn.Linear(hidden, n_features)
        self.probs = nn.Linear(hidden, n_features)
        self.gate = nn.Linear(hidden, n_features) if kind == "atac" else None

    def posterior(self, counts: torch.Tensor) -> Laplace:
        """``q(z | x)`` from counts normalised to 10,000 per cell."""
        reads = counts.sum(dim=1, keepdim=True).clamp(min=1.0)
        h = self.encoder(counts / reads * SCALE_FACTOR)
        lv = self.log_scale(h).clamp(-12, 12)
        return Laplace(self.loc(h), F.softmax(lv, dim=-1) * lv.shape[-1] + ETA)

    def decode(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """``(r per 10,000 reads, p, gate)`` of the (zero-inflated) negative binomial."""
        h = self.decoder(z)
        r = torch.exp(self.log_r(h).clamp(-12, 12))
        p = torch.sigmoid(self.probs(h)).clamp(EPS, 1 - EPS)
        gate = torch.sigmoid(self.gate(h)) if self.gate is not None else None
        return r, p, gate

    def log_likelihood(self, counts: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """``log p(x | z)`` per cell, the rate scaled to the cell's reads (summed over features)."""
        r, p, gate = self.decode(z)
        reads = counts.sum(dim=1, keepdim=True).clamp(min=1.0)
        # the authors' NegativeBinomial(total_count, probs) in dance-nn's (mean, inverse dispersion)
        # form, which skips the gamma functions of zero counts (most of them for peaks)
        total_count = r / SCALE_FACTOR * reads
        mean = total_count * p / (1 - p)
        if gate is None:
            return nb_log_likelihood(counts, mean, total_count).sum(dim=-1)
        # zero-inflated: log(gate + (1 - gate) NB(0)) at zeros, log(1 - gate) + log NB(x) elsewhere
        return zinb_log_likelihood(counts, mean, total_count, pi=gate).sum(dim=-1)


class ScMMModule(nn.Module):
    """Two modality VAEs sharing a Laplace prior; the objective is the authors'
    ``m_elbo_naive_warmup``: for every encoder modality, the log-likelihood of both modalities
    decoded from its latent sample minus ``beta`` times its KL divergence to the prior, averaged
    over the two encoders."""

    def __init__(
        self,
        kinds: tuple[Kind, Kind],
        sizes: tuple[int, int],
        *,
        latent: int = 10,
        hidden: tuple[int, int] = (100, 20),
        n_layers: int = 1,
        learn_prior: bool = False,
    ) -> None:
        super().__init__()
        self.vaes = nn.ModuleList(ScMMVAE(k, n, latent, h, n_layers) for k, n, h in zip(kinds, sizes, hidden, strict=True))
        self.prior_loc = nn.Parameter(torch.zeros(1, latent), requires_grad=False)
        self.prior_log_scale = nn.Parameter(torch.zeros(1, latent), requires_grad=learn_prior)

    def prior(self) -> Laplace:
        return Laplace(self.prior_loc, F.softmax(self.prior_log_scale, dim=1) * self.prior_log_scale.shape[-1])

    def elbo_terms(self, counts: tuple[torch.Tensor, torch.Tensor], beta: float) -> dict[str, torch.Tensor]:
        """The negative objective of a minibatch (summed over its cells, as the authors) and its parts."""
        prior = self.prior()
        likelihood = torch.zeros((), device=counts[0].device)
        kl = torch.zeros((), device=counts[0].device)
        for encoder, vae in enumerate(self.vaes):
            q = vae.posterior(counts[encoder])
            z = q.rsample()
            kl = kl + kl_divergence(q, prior).sum()
            for decoder, other in enumerate(self.vaes):
                likelihood = likelihood + other.log_likelihood(counts[decoder], z).sum()
        n = len(self.vaes)
        return {"loss": -(likelihood - beta * kl) / n, "reconstruction": -likelihood / n, "kl": kl / n}

    def latent_mean(self, counts: torch.Tensor, modality: int) -> torch.Tensor:
        """The posterior mean (Laplace location) of ``z`` from one modality's counts."""
        return self.vaes[modality].posterior(counts).loc
