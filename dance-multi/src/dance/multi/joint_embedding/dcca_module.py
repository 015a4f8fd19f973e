"""DCCA's two variational autoencoders (Zuo, Dai & Chen 2021, "Deep cross-omics cycle attention
model for joint analysis of single-cell multi-omics data", Bioinformatics 37:4091-4099; the
authors' ``DCCA/MVAE_cycleVAE.py``, ``layers.py`` and ``loss_function.py``). Used by the ``dcca``
joint-embedding model, which trains them in turn on dance's trainer.

Each modality has its own VAE: a Gaussian encoder ``q(z | x)`` (fully connected layers with batch
norm, ReLU and dropout, then linear heads for the mean and the log-variance) and a decoder

* ``"nb"``: negative binomial on counts, for expression (the authors' ``Decoder_logNorm_NB``) and
  for proteins: mean = library size x softmax over features, one inverse dispersion per cell and
  feature (``exp`` of a linear head);
* ``"bernoulli"``: Bernoulli on binarised peaks (the authors' ``Decoder`` with ``Type="Bernoulli"``),
  linear from the latent code by default.

The two latent spaces are tied by the *cycle attention* loss: while one VAE trains, the other
(the teacher, frozen and in evaluation mode) encodes the same cells, and the squared Euclidean
distance between the student's latent sample and the teacher's latent mean is added to the
student's loss (the authors' ``Eucli_dis``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from dance.nn.layers import FCLayers
from dance.nn.likelihoods import bernoulli_log_likelihood, nb_log_likelihood

__all__ = ["DCCAModule", "ModalityVAE"]

Likelihood = Literal["nb", "bernoulli"]

#: the authors' batch-norm settings (``build_multi_layers``: momentum 0.01, eps 0.001)
BN_MOMENTUM = 0.01
BN_EPS = 0.001
#: log-variance clamp: exp(+-15) keeps the sample and the KL finite when a head runs away at the
#: authors' high learning rates (0.01); inside it the values are untouched
LOGVAR_CLAMP = 15.0


def _stack(dims: Sequence[int], dropout: float) -> FCLayers:
    """``Linear -> BatchNorm1d -> ReLU -> Dropout`` per layer (the authors' ``build_multi_layers``)."""
    return FCLayers(dims, batch_norm=True, batch_norm_momentum=BN_MOMENTUM, batch_norm_eps=BN_EPS, dropout=dropout)


class ModalityVAE(nn.Module):
    """One modality's VAE.

    Parameters
    ----------
    n_features
        Input (and reconstructed) features.
    latent
        Latent dimensions.
    encoder_hidden
        Widths of the encoder's hidden layers (the authors: ``(128,)`` for expression,
        ``(1500, 128)`` for peaks).
    decoder_hidden
        Widths of the decoder's hidden layers (the authors: ``(128,)`` for expression, none for peaks).
    likelihood
        ``"nb"`` (counts with the cell's library size) or ``"bernoulli"`` (binary values).
    dropout
        Dropout after every hidden layer (the authors: 0.1).
    """

    def __init__(
        self,
        n_features: int,
        latent: int,
        *,
        encoder_hidden: Sequence[int],
        decoder_hidden: Sequence[int],
        likelihood: Likelihood,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        if likelihood not in ("nb", "bernoulli"):
            raise ValueError(f"likelihood must be 'nb' or 'bernoulli', got {likelihood!r}")
        self.likelihood = likelihood
        self.encoder = _stack([n_features, *encoder_hidden], dropout) if encoder_hidden else nn.Identity()
        width = encoder_hidden[-1] if encoder_hidden else n_features
        self.mean_head = nn.Linear(width, latent)
        self.logvar_head = nn.Linear(width, latent)
        self.decoder = _stack([latent, *decoder_hidden], dropout) if decoder_hidden else nn.Identity()
        out = decoder_hidden[-1] if decoder_hidden else latent
        # nb: the features' shares of the library (softmax); bernoulli: the peaks' logits
        self.scale_head = nn.Linear(out, n_features)
        self.dispersion_head = nn.Linear(out, n_features) if likelihood == "nb" else None

    @staticmethod
    def encoder_input(counts: torch.Tensor, likelihood: Likelihood) -> torch.Tensor:
        """What the encoder reads: ``log1p`` of the counts (the authors' ``logtrans_input``) for
        count modalities, the binary values themselves for peaks."""
        return torch.log1p(counts) if likelihood == "nb" else counts

    def encode(self, counts: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(mean, log-variance)`` of ``q(z | x)``."""
        h = self.encoder(self.encoder_input(counts, self.likelihood))
        return self.mean_head(h), self.logvar_head(h).clamp(-LOGVAR_CLAMP, LOGVAR_CLAMP)

    def latent(self, mean: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        """A reparameterised sample while training, the mean in evaluation (the authors' ``reparametrize``)."""
        if not self.training:
            return mean
        return mean + torch.randn_like(mean) * torch.exp(0.5 * logvar)

    def reconstruction_nll(self, z: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
        """Negative log-likelihood of each cell's values (summed over features)."""
        h = self.decoder(z)
        if self.likelihood == "bernoulli":
            return -bernoulli_log_likelihood(counts, self.scale_head(h)).sum(dim=1)
        assert self.dispersion_head is not None
        # the expected count is the cell's library size times the feature's share (the authors
        # pass log(library) as the "size factor" and multiply by its exp)
        library = counts.sum(dim=1, keepdim=True).clamp(min=1.0)
        mu = library * F.softmax(self.scale_head(h), dim=1)
        theta = torch.exp(self.dispersion_head(h).clamp(max=LOGVAR_CLAMP))
        return -nb_log_likelihood(counts, mu, theta).sum(dim=1)

    def loss_terms(
        self,
        counts: torch.Tensor,
        *,
        kl_weight: float = 1.0,
        teacher_z: torch.Tensor | None = None,
        attention_weight: float = 0.0,
    ) -> dict[str, torch.Tensor]:
        """The minibatch's loss and its parts, each a mean over cells: reconstruction + ``kl_weight``
        x KL(q(z | x) || N(0, I)) + ``attention_weight`` x ``||z - teacher_z||^2`` (the cycle
        attention; omitted without a teacher)."""
        mean, logvar = self.encode(counts)
        z = self.latent(mean, logvar)
        reconstruction = self.reconstruction_nll(z, counts)
        kl = 0.5 * (torch.exp(logvar) + mean.pow(2) - 1.0 - logvar).sum(dim=1)
        loss = reconstruction + kl_weight * kl
        terms = {"reconstruction": reconstruction.mean(), "kl": kl.mean()}
        if teacher_z is not None:
            attention = (z - teacher_z).pow(2).sum(dim=1)
            loss = loss + attention_weight * attention
            terms["attention"] = attention.mean()
        return {"loss": loss.mean(), **terms}


class DCCAModule(nn.Module):
    """The two modality VAEs; the joint embedding is their latent means side by side."""

    def __init__(self, first: ModalityVAE, second: ModalityVAE) -> None:
        super().__init__()
        self.vaes = nn.ModuleList([first, second])

    @torch.no_grad()
    def latent_mean(self, counts: torch.Tensor, modality: int) -> torch.Tensor:
        """The posterior mean of one modality's latent code (the teacher's signal, and half of the embedding)."""
        return self.vaes[modality].encode(counts)[0]

    @torch.no_grad()
    def embed(self, counts1: torch.Tensor, counts2: torch.Tensor) -> torch.Tensor:
        """``[mean_1, mean_2]``: the concatenated posterior means of both modalities."""
        return torch.cat([self.latent_mean(counts1, 0), self.latent_mean(counts2, 1)], dim=1)
