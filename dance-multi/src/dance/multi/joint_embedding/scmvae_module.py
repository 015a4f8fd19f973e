"""scMVAE-PoE's network (Zuo & Chen 2021, "Deep-joint-learning analysis model of single cell
transcriptome and open chromatin accessibility data", Brief Bioinform 22:bbaa287; the authors'
``scMVAE/MVAE_model.py::scMVAE_POE`` with ``model=1``, ``layers.py`` and ``loss_function.py``).

Each modality has a Gaussian encoder of its log1p counts; the joint posterior ``q(z | x1, x2)``
is the product of the two experts and a standard normal prior expert (Wu & Goodman 2018). A
shared decoder maps ``z`` to one layer whose two halves feed one decoder per modality
(``model=1``). Count modalities are decoded into a (zero-inflated) negative binomial whose mean
is a softmax over features times ``exp(l)``, ``l`` the cell's log library size drawn from a
second, one-layer encoder with a normal prior fitted to the data (as scVI, Lopez et al. 2018).
The prior of ``z`` is a Gaussian mixture (VaDE, Jiang et al. 2017; SCALE, Xiong et al. 2019):
its KL term uses the mixture responsibilities of the sampled ``z``.

Tested on plain tensors; the ``scmvae`` model (:mod:`dance.multi.joint_embedding.scmvae`) trains
it with dance's trainer.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.distributions import Normal, kl_divergence

from dance.nn.layers import FCLayers
from dance.nn.likelihoods import bernoulli_log_likelihood, nb_log_likelihood, row_chunked_sum, zinb_log_likelihood

__all__ = ["Likelihood", "ModalityDecoder", "ScMVAEModule", "product_of_experts"]

Likelihood = Literal["zinb", "nb", "bernoulli"]

#: ``log`` of the inverse dispersion and of the library size are clamped here: ``exp`` of a
#: larger value overflows float32 on a diverging step, and no real cell or gene comes near it
LOG_CLAMP = 20.0
#: added to each expert's variance before the product (the authors' ``eps``)
EXPERT_EPS = 1e-8


def _stack(dims: Sequence[int], dropout: float) -> FCLayers:
    """The authors' ``build_multi_layers``: ``Linear -> BatchNorm1d(momentum 0.01, eps 1e-3) ->
    ReLU -> Dropout`` for every layer, the last included."""
    return FCLayers(dims, batch_norm=True, batch_norm_momentum=0.01, batch_norm_eps=0.001, dropout=dropout)


class _Gaussian(nn.Module):
    """The authors' ``Encoder``: an :class:`FCLayers` stack and linear heads for the mean and the
    log-variance of a diagonal normal."""

    def __init__(self, dims: Sequence[int], n_out: int, dropout: float) -> None:
        super().__init__()
        self.body = _stack(dims, dropout)
        self.mean = nn.Linear(dims[-1], n_out)
        self.logvar = nn.Linear(dims[-1], n_out)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.body(x)
        return self.mean(h), self.logvar(h)


class ModalityDecoder(nn.Module):
    """One modality's decoder: an :class:`FCLayers` stack, then the likelihood's heads.

    ``zinb`` / ``nb``: the normalised mean (softmax over features; times ``exp(library)`` it is
    the expected count), the inverse dispersion ``theta`` (``exp``, one per cell and feature as
    the authors' ``Decoder_ZINB``) and, for ``zinb``, the logits of the dropout probability.
    ``bernoulli``: the logits of detection (the authors' ``Decoder`` with ``Type="Bernoulli"``).
    """

    def __init__(self, dims: Sequence[int], n_features: int, likelihood: Likelihood, dropout: float) -> None:
        super().__init__()
        self.likelihood = likelihood
        self.body = _stack(dims, dropout)
        self.scale = nn.Linear(dims[-1], n_features)
        self.log_theta = nn.Linear(dims[-1], n_features) if likelihood != "bernoulli" else None
        self.dropout_logits = nn.Linear(dims[-1], n_features) if likelihood == "zinb" else None

    def forward(self, h: torch.Tensor) -> dict[str, torch.Tensor]:
        h = self.body(h)
        if self.likelihood == "bernoulli":
            return {"logits": self.scale(h)}
        assert self.log_theta is not None
        out = {"normalized": F.softmax(self.scale(h), dim=-1), "theta": torch.exp(self.log_theta(h).clamp(max=LOG_CLAMP))}
        if self.dropout_logits is not None:
            out["dropout_logits"] = self.dropout_logits(h)
        return out

    def log_likelihood(self, x: torch.Tensor, out: dict[str, torch.Tensor], log_library: torch.Tensor | None) -> torch.Tensor:
        """``sum over cells and features of log p(x | z, l)`` (a scalar; divide by the cells for the mean)."""
        if self.likelihood == "bernoulli":
            return row_chunked_sum(bernoulli_log_likelihood, (x > 0).to(x.dtype), out["logits"])
        assert log_library is not None
        mu = torch.exp(log_library.clamp(max=LOG_CLAMP)) * out["normalized"]
        if self.likelihood == "nb":
            return row_chunked_sum(nb_log_likelihood, x, mu, out["theta"])
        # row_chunked_sum evaluates the sum and its gradient block by block, which on the CPU is
        # several times faster than one pass over a minibatch of thousands of features
        return row_chunked_sum(_zinb, x, mu, out["theta"], out["dropout_logits"])


def _zinb(x: torch.Tensor, mu: torch.Tensor, theta: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    return zinb_log_likelihood(x, mu, theta, pi_logits=logits)


def product_of_experts(means: Sequence[torch.Tensor], logvars: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and log-variance of the product of diagonal normal experts and a standard normal
    prior expert (the authors' ``ProductOfExperts`` with ``prior_expert``; Wu & Goodman 2018,
    NeurIPS): precisions add, the mean is the precision-weighted mean."""
    precision = torch.ones_like(means[0])  # the prior expert N(0, 1)
    weighted = torch.zeros_like(means[0])
    for mean, logvar in zip(means, logvars, strict=True):
        t = 1.0 / (torch.exp(logvar) + EXPERT_EPS)
        precision = precision + t
        weighted = weighted + mean * t
    return weighted / precision, -torch.log(precision)


class ScMVAEModule(nn.Module):
    """scMVAE-PoE for two modalities.

    Parameters
    ----------
    n_features
        Features of each modality.
    likelihoods
        Each modality's likelihood: ``zinb`` (the authors' for RNA and for ATAC counts), ``nb``
        or ``bernoulli`` (binarised peaks; no library size).
    latent_dim
        Width of ``z`` (the authors' ``Z_DIMS`` = 22).
    encoder_dims
        Hidden widths of each modality's encoder (the authors' ``[n, 1024, 128, 128]``).
    library_hidden
        Hidden width of each library-size encoder (the authors' ``[n, 128]``).
    shared_dims
        Widths of the shared decoder (the authors' ``[22, 128, 256]``); its last layer is split in
        two halves, the first decoded into modality 1, the second into modality 2 (``model=1``).
    decoder_dims
        Hidden widths of each modality's decoder after its half (the authors' ``[128, 128, 1024]``).
    n_centroids
        Components of the Gaussian-mixture prior (the authors' 22).
    dropout
        Dropout after every hidden layer (the authors' 0.1).
    weights
        Weight of each modality's negative log-likelihood (the authors' ``scale_factor`` 4 on
        RNA, 1 on the other).
    """

    def __init__(
        self,
        n_features: tuple[int, int],
        likelihoods: tuple[Likelihood, Likelihood],
        *,
        latent_dim: int = 22,
        encoder_dims: Sequence[int] = (1024, 128, 128),
        library_hidden: int = 128,
        shared_dims: Sequence[int] = (128, 256),
        decoder_dims: Sequence[int] = (128, 1024),
        n_centroids: int = 22,
        dropout: float = 0.1,
        weights: tuple[float, float] = (1.0, 1.0),
    ) -> None:
        super().__init__()
        if shared_dims[-1] % 2:
            raise ValueError(f"the shared decoder's last width is split between the two modalities and must be even; got {shared_dims[-1]}")
        half = shared_dims[-1] // 2
        self.likelihoods = tuple(likelihoods)
        self.weights = tuple(float(w) for w in weights)
        self.encoders = nn.ModuleList(_Gaussian([n, *encoder_dims], latent_dim, dropout) for n in n_features)
        # a library-size encoder only where the likelihood has a library size (count models)
        self.library_encoders = nn.ModuleList(
            _Gaussian([n, library_hidden], 1, dropout) if lik != "bernoulli" else nn.Identity()
            for n, lik in zip(n_features, likelihoods, strict=True)
        )
        self.shared = _stack([latent_dim, *shared_dims], dropout)
        self.decoders = nn.ModuleList(
            ModalityDecoder([half, *decoder_dims], n, lik, dropout) for n, lik in zip(n_features, likelihoods, strict=True)
        )
        self.half = half
        # Gaussian-mixture prior p(c) p(z | c). Mixture weights as logits and variances as logs,
        # so no optimiser step can make them invalid (the authors optimise pi and var directly)
        self.pi_logits = nn.Parameter(torch.zeros(n_centroids))
        self.mu_c = nn.Parameter(torch.zeros(n_centroids, latent_dim))
        self.log_var_c = nn.Parameter(torch.zeros(n_centroids, latent_dim))
        # the normal prior of each modality's log library size: mean and variance over the cells
        self.register_buffer("library_mean", torch.zeros(2))
        self.register_buffer("library_var", torch.ones(2))

    # ------------------------------------------------------------------ encoding
    def _inputs(self, x: torch.Tensor, modality: int) -> torch.Tensor:
        # log1p of the counts (the authors' log_variational); binarised peaks are seen as they are
        if self.likelihoods[modality] == "bernoulli":
            return (x > 0).to(x.dtype)
        return torch.log1p(x)

    def posterior(self, xs: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and log-variance of the joint posterior ``q(z | x1, x2)`` from the counts."""
        means, logvars = [], []
        for modality, (encoder, x) in enumerate(zip(self.encoders, xs, strict=True)):
            mean, logvar = encoder(self._inputs(x, modality))
            means.append(mean)
            logvars.append(logvar)
        return product_of_experts(means, logvars)

    def latent_mean(self, x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
        """The joint embedding: the mean of ``q(z | x1, x2)``."""
        return self.posterior((x1, x2))[0]

    # ------------------------------------------------------------------ prior
    def init_prior(self, means: np.ndarray, covariances: np.ndarray) -> None:
        """Set the mixture's components (``n_centroids x latent_dim`` means and diagonal
        variances, from a Gaussian mixture fitted to the embedding); weights stay uniform, as the
        authors' ``init_gmm_params`` leaves them."""
        with torch.no_grad():
            self.mu_c.copy_(torch.as_tensor(means, dtype=self.mu_c.dtype))
            self.log_var_c.copy_(torch.log(torch.as_tensor(covariances, dtype=self.log_var_c.dtype).clamp(min=1e-6)))
            self.pi_logits.zero_()

    def set_library_prior(self, means: Sequence[float], variances: Sequence[float]) -> None:
        """The normal prior of each modality's log library size (mean and variance of the cells')."""
        with torch.no_grad():
            self.library_mean.copy_(torch.as_tensor(means, dtype=self.library_mean.dtype))
            self.library_var.copy_(torch.as_tensor(variances, dtype=self.library_var.dtype).clamp(min=1e-4))

    def gmm_kl(self, z: torch.Tensor, mean: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        """Per cell, ``KL(q(z, c | x) || p(z, c))`` with ``q(c | x)`` the responsibilities of the
        sampled ``z`` (the authors' ``GMM_loss`` after VaDE, Jiang et al. 2017, eq. 11),
        responsibilities computed in log space (the authors add 1e-10 to probabilities that
        underflow)."""
        var_c = torch.exp(self.log_var_c)  # K x D
        log_pi = F.log_softmax(self.pi_logits, dim=0)  # K
        diff = z.unsqueeze(1) - self.mu_c.unsqueeze(0)  # N x K x D
        log_pzc = -0.5 * (math.log(2 * math.pi) + self.log_var_c.unsqueeze(0) + diff**2 / var_c.unsqueeze(0)).sum(-1)
        log_gamma = F.log_softmax(log_pi.unsqueeze(0) + log_pzc, dim=1)  # N x K
        gamma = log_gamma.exp()
        expected = (
            math.log(2 * math.pi)
            + self.log_var_c.unsqueeze(0)
            + torch.exp(logvar).unsqueeze(1) / var_c.unsqueeze(0)
            + (mean.unsqueeze(1) - self.mu_c.unsqueeze(0)) ** 2 / var_c.unsqueeze(0)
        ).sum(-1)  # N x K: -2 E_q[log p(z | c)]
        log_p_z_given_c = -0.5 * (gamma * expected).sum(1)
        log_p_c = (gamma * log_pi.unsqueeze(0)).sum(1)
        entropy_term = -0.5 * (1 + logvar + math.log(2 * math.pi)).sum(1)  # E_q[log q(z | x)]
        log_q_c = (gamma * log_gamma).sum(1)
        return -log_p_z_given_c - log_p_c + entropy_term + log_q_c

    # ------------------------------------------------------------------ objective
    def loss_terms(self, x1: torch.Tensor, x2: torch.Tensor, *, kl_weight: float = 1.0) -> dict[str, torch.Tensor]:
        """The authors' objective of a minibatch, averaged over its cells:
        ``w1 NLL1 + w2 NLL2 + KL(l1) + KL(l2) + kl_weight KL(z, c)``, and its parts."""
        xs = (x1, x2)
        n = x1.shape[0]
        mean, logvar = self.posterior(xs)
        z = mean + torch.exp(0.5 * logvar) * torch.randn_like(mean) if self.training else mean
        hidden = self.shared(z)
        halves = (hidden[:, : self.half], hidden[:, self.half :])
        terms: dict[str, torch.Tensor] = {}
        total = torch.zeros((), device=x1.device)
        kl_library = torch.zeros((), device=x1.device)
        for m in range(2):
            log_library = None
            if self.likelihoods[m] != "bernoulli":
                l_mean, l_logvar = self.library_encoders[m](self._inputs(xs[m], m))
                l_std = torch.exp(0.5 * l_logvar)
                log_library = l_mean + l_std * torch.randn_like(l_mean) if self.training else l_mean
                prior = Normal(self.library_mean[m], self.library_var[m].sqrt())
                kl_library = kl_library + kl_divergence(Normal(l_mean, l_std), prior).sum() / n
            nll = -self.decoders[m].log_likelihood(xs[m], self.decoders[m](halves[m]), log_library) / n
            terms[f"nll_mod{m + 1}"] = nll
            total = total + self.weights[m] * nll
        kl_z = self.gmm_kl(z, mean, logvar).mean()
        terms["kl_library"] = kl_library
        terms["kl_z"] = kl_z
        terms["loss"] = total + kl_library + kl_weight * kl_z
        return terms
