"""scVI and scANVI variational autoencoders (torch modules and their losses).

scVI (Lopez, Regier, Cole, Jordan & Yosef 2018, Nat Methods 15:1053-1058): counts ``x`` of a cell
of batch ``s`` are generated from a latent ``z ~ N(0, I)`` and a library size ``l``:
``x_g ~ ZINB(mu = l * softmax(f(z, s))_g, theta_g, pi = g(z, s))`` (or NB). The encoder
``q(z | x)`` reads ``log(1 + x)``; the batch enters the decoder (one-hot, injected into every
hidden layer), so the latent space is freed of it. The library is the observed total count
(``use_observed_lib_size``), or latent with a log-normal prior whose mean and variance are those
of the log library sizes of the cell's batch. Layers are Linear -> BatchNorm -> ReLU -> Dropout,
as in scvi-tools (``FCLayers``); the variance of ``q`` is ``exp(.) + 1e-4``.

scANVI (Xu, Lopez, Mehlman, Regier, Jordan & Yosef 2021, Mol Syst Biol 17:e9620) puts a
semi-supervised mixture prior over ``z1`` (scVI's latent): ``y ~ Cat(pi)``,
``z2 ~ N(0, I)``, ``z1 | z2, y ~ N(h(z2, y))``, with a classifier ``q(y | z1)``, an encoder
``q(z2 | z1, y)`` and the cross-entropy of the classifier on the labelled cells weighted by
``classification_ratio``. As in scvi-tools' ``SCANVAE.loss``, the unsupervised ELBO of every
cell marginalises ``y`` under ``q(y | z1)``; labelled cells enter through the classification
term. The likelihoods are :mod:`dance.nn.likelihoods` (shared with DCA-type models).

:func:`train_vae` trains either module on :class:`dance.nn.trainer.Trainer` as scvi-tools does
(minibatch Adam with ``eps=0.01``, linear KL warm-up, a labelled minibatch with every step for
scANVI).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.distributions import Normal
from torch.distributions import kl_divergence as kl

from dance.nn.data import RowMatrix
from dance.nn.layers import FCLayers, GaussianEncoder, one_hot
from dance.nn.likelihoods import nb_log_likelihood, zinb_log_likelihood
from dance.nn.trainer import Batch, OptimizerStep, Stage, StageResult, Trainer

__all__ = ["SCANVAE", "VAE", "DecoderSCVI", "train_vae"]

VAR_EPS = 1e-4


class DecoderSCVI(nn.Module):
    """scVI's decoder: normalised expression (softmax), zero-inflation logits and the NB mean."""

    def __init__(self, n_input: int, n_output: int, n_cat_list: Sequence[int] = (), *, n_layers: int = 1, n_hidden: int = 128) -> None:
        super().__init__()
        self.px_decoder = FCLayers.scvi(n_input, n_hidden, n_cat_list, n_layers=n_layers, n_hidden=n_hidden, dropout_rate=0.0)
        self.px_scale_decoder = nn.Linear(n_hidden, n_output)
        self.px_dropout_decoder = nn.Linear(n_hidden, n_output)
        self.px_r_decoder = nn.Linear(n_hidden, n_output)  # used for dispersion='gene-cell'

    def forward(self, z: torch.Tensor, library: torch.Tensor, *cats: torch.Tensor) -> dict[str, torch.Tensor]:
        h = self.px_decoder(z, *cats)
        scale = torch.softmax(self.px_scale_decoder(h), dim=-1)
        return {
            "px_scale": scale,
            "px_rate": torch.exp(library) * scale,
            "px_dropout": self.px_dropout_decoder(h),
            "px_r_cell": self.px_r_decoder(h),
        }


class VAE(nn.Module):
    """scVI's variational autoencoder (see the module docstring).

    Parameters
    ----------
    n_input
        Genes.
    n_batch
        Batches (the decoder's covariate).
    n_hidden, n_latent, n_layers, dropout_rate
        Network sizes and the encoder's dropout (scvi-tools: 128, 10, 1, 0.1).
    dispersion
        ``"gene"`` (one ``theta`` per gene), ``"gene-batch"`` (per gene and batch) or
        ``"gene-cell"`` (decoded per cell).
    gene_likelihood
        ``"zinb"`` or ``"nb"``.
    use_observed_lib_size
        Observed log total counts as the library (else a latent library with a batch-wise prior,
        which needs ``library_log_means`` and ``library_log_vars``: one value per batch).
    log_variational
        Encode ``log(1 + x)``.
    """

    def __init__(
        self,
        n_input: int,
        n_batch: int = 1,
        *,
        n_hidden: int = 128,
        n_latent: int = 10,
        n_layers: int = 1,
        dropout_rate: float = 0.1,
        dispersion: Literal["gene", "gene-batch", "gene-cell"] = "gene",
        gene_likelihood: Literal["zinb", "nb"] = "zinb",
        use_observed_lib_size: bool = True,
        library_log_means: torch.Tensor | None = None,
        library_log_vars: torch.Tensor | None = None,
        log_variational: bool = True,
    ) -> None:
        super().__init__()
        self.n_input, self.n_batch, self.n_latent = n_input, n_batch, n_latent
        self.dispersion, self.gene_likelihood = dispersion, gene_likelihood
        self.use_observed_lib_size, self.log_variational = use_observed_lib_size, log_variational
        if dispersion == "gene":
            self.px_r = nn.Parameter(torch.randn(n_input))
        elif dispersion == "gene-batch":
            self.px_r = nn.Parameter(torch.randn(n_input, n_batch))
        elif dispersion != "gene-cell":
            raise ValueError(f"dispersion must be 'gene', 'gene-batch' or 'gene-cell'; got {dispersion!r}")
        if gene_likelihood not in ("zinb", "nb"):
            raise ValueError(f"gene_likelihood must be 'zinb' or 'nb'; got {gene_likelihood!r}")
        if not use_observed_lib_size:
            if library_log_means is None or library_log_vars is None:
                raise ValueError("a latent library needs library_log_means and library_log_vars (one per batch)")
            self.register_buffer("library_log_means", torch.as_tensor(library_log_means, dtype=torch.float32).reshape(1, -1))
            self.register_buffer("library_log_vars", torch.as_tensor(library_log_vars, dtype=torch.float32).reshape(1, -1))
            self.l_encoder = GaussianEncoder(n_input, 1, n_layers=1, n_hidden=n_hidden, dropout_rate=dropout_rate)
        self.z_encoder = GaussianEncoder(n_input, n_latent, n_layers=n_layers, n_hidden=n_hidden, dropout_rate=dropout_rate)
        self.decoder = DecoderSCVI(n_latent, n_input, [n_batch], n_layers=n_layers, n_hidden=n_hidden)

    # ---------------------------------------------------------------- model
    def inference(self, x: torch.Tensor) -> dict[str, object]:
        """``q(z | x)`` (and ``q(l | x)``): distributions, samples and the library used."""
        x_in = torch.log1p(x) if self.log_variational else x
        qz, z = self.z_encoder(x_in)
        out: dict[str, object] = {"qz": qz, "z": z}
        if self.use_observed_lib_size:
            out["library"] = torch.log(x.sum(dim=1, keepdim=True).clamp_min(1.0))
        else:
            ql, library = self.l_encoder(x_in)
            out["ql"], out["library"] = ql, library
        return out

    def generative(self, z: torch.Tensor, library: torch.Tensor, batch: torch.Tensor) -> dict[str, torch.Tensor]:
        """Parameters of ``p(x | z, l, s)``."""
        out = self.decoder(z, library, batch)
        if self.dispersion == "gene":
            out["px_r"] = torch.exp(self.px_r).expand_as(out["px_rate"])
        elif self.dispersion == "gene-batch":
            out["px_r"] = torch.exp(one_hot(batch, self.n_batch) @ self.px_r.T)
        else:
            out["px_r"] = torch.exp(out["px_r_cell"])
        return out

    def reconstruction_loss(self, x: torch.Tensor, gen: dict[str, torch.Tensor]) -> torch.Tensor:
        """``-log p(x | z, l, s)`` summed over genes (one value per cell)."""
        if self.gene_likelihood == "zinb":
            ll = zinb_log_likelihood(x, gen["px_rate"], gen["px_r"], pi_logits=gen["px_dropout"])
        else:
            ll = nb_log_likelihood(x, gen["px_rate"], gen["px_r"])
        return -ll.sum(dim=-1)

    def kl_library(self, inf: dict[str, object], batch: torch.Tensor) -> torch.Tensor:
        if self.use_observed_lib_size:
            return torch.zeros((), device=batch.device)
        onehot = one_hot(batch, self.n_batch)
        means = (onehot * self.library_log_means).sum(1, keepdim=True)
        variances = (onehot * self.library_log_vars).sum(1, keepdim=True)
        return kl(inf["ql"], Normal(means, variances.sqrt())).sum(dim=1)  # type: ignore[arg-type]

    def loss(self, x: torch.Tensor, batch: torch.Tensor, kl_weight: float = 1.0) -> dict[str, torch.Tensor]:
        """Negative ELBO (mean over cells) with ``kl_weight`` on the KL of ``z`` (warm-up)."""
        inf = self.inference(x)
        gen = self.generative(inf["z"], inf["library"], batch)  # type: ignore[arg-type]
        reconstruction = self.reconstruction_loss(x, gen)
        qz: Normal = inf["qz"]  # type: ignore[assignment]
        kl_z = kl(qz, Normal(torch.zeros_like(qz.loc), torch.ones_like(qz.scale))).sum(dim=1)
        kl_l = self.kl_library(inf, batch)
        loss = torch.mean(reconstruction + kl_weight * kl_z + kl_l)
        return {"loss": loss, "reconstruction": reconstruction.mean(), "kl_z": kl_z.mean()}

    @torch.no_grad()
    def latent(self, x: torch.Tensor) -> torch.Tensor:
        """Posterior means of ``z`` (the integrated embedding)."""
        x_in = torch.log1p(x) if self.log_variational else x
        return self.z_encoder(x_in)[0].loc


class SCANVAE(VAE):
    """scANVI: scVI with the semi-supervised mixture prior over its latent space (see the module
    docstring). Extra parameters: ``n_labels``, ``y_prior`` (class probabilities, uniform when
    None) and ``linear_classifier``."""

    def __init__(
        self,
        n_input: int,
        n_batch: int = 1,
        n_labels: int = 2,
        *,
        y_prior: torch.Tensor | None = None,
        linear_classifier: bool = False,
        **kwargs: object,
    ) -> None:
        super().__init__(n_input, n_batch, **kwargs)  # type: ignore[arg-type]
        n_latent = self.n_latent
        n_hidden = self.z_encoder.mean_encoder.in_features
        n_layers = len(self.z_encoder.encoder.layers)
        dropout_rate = float(kwargs.get("dropout_rate", 0.1))  # type: ignore[arg-type]
        self.n_labels = n_labels
        if linear_classifier:
            self.classifier: nn.Module = nn.Linear(n_latent, n_labels)
        else:
            self.classifier = nn.Sequential(
                FCLayers.scvi(n_latent, n_hidden, n_layers=n_layers, n_hidden=n_hidden, dropout_rate=dropout_rate),
                nn.Linear(n_hidden, n_labels),
            )
        self.encoder_z2_z1 = GaussianEncoder(
            n_latent, n_latent, [n_labels], n_layers=n_layers, n_hidden=n_hidden, dropout_rate=dropout_rate
        )
        self.decoder_z1_z2 = FCLayers.scvi(n_latent, n_hidden, [n_labels], n_layers=n_layers, n_hidden=n_hidden, dropout_rate=0.0)
        self.z1_mean = nn.Linear(n_hidden, n_latent)
        self.z1_var = nn.Linear(n_hidden, n_latent)
        prior = torch.full((n_labels,), 1.0 / n_labels) if y_prior is None else torch.as_tensor(y_prior, dtype=torch.float32)
        self.register_buffer("y_prior", prior / prior.sum())

    def classify(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of ``q(y | z1)`` at the posterior mean of ``z1``."""
        x_in = torch.log1p(x) if self.log_variational else x
        return self.classifier(self.z_encoder(x_in)[0].loc)

    def loss(  # type: ignore[override]
        self,
        x: torch.Tensor,
        batch: torch.Tensor,
        kl_weight: float = 1.0,
        *,
        labelled_x: torch.Tensor | None = None,
        labelled_y: torch.Tensor | None = None,
        classification_ratio: float = 50.0,
    ) -> dict[str, torch.Tensor]:
        """Unsupervised ELBO of every cell, ``y`` marginalised under ``q(y | z1)``, plus
        ``classification_ratio`` times the cross-entropy on ``(labelled_x, labelled_y)``."""
        inf = self.inference(x)
        z1: torch.Tensor = inf["z"]  # type: ignore[assignment]
        qz1: Normal = inf["qz"]  # type: ignore[assignment]
        gen = self.generative(z1, inf["library"], batch)  # type: ignore[arg-type]
        reconstruction = self.reconstruction_loss(x, gen)

        n, k = z1.shape[0], self.n_labels
        ys = torch.arange(k, device=z1.device).repeat_interleave(n)  # label-major, as scvi-tools' broadcast_labels
        z1s = z1.repeat(k, 1)
        qz2, z2 = self.encoder_z2_z1(z1s, ys)
        h = self.decoder_z1_z2(z2, ys)
        pz1 = Normal(self.z1_mean(h), torch.exp(self.z1_var(h)).sqrt())
        loss_z1_unweighted = -pz1.log_prob(z1s).sum(dim=-1).view(k, n).t()  # -log p(z1 | z2, y)
        loss_z1_weight = qz1.log_prob(z1).sum(dim=-1)  # log q(z1 | x)
        kl_z2 = kl(qz2, Normal(torch.zeros_like(qz2.loc), torch.ones_like(qz2.scale))).sum(dim=-1).view(k, n).t()

        probs = torch.softmax(self.classifier(z1), dim=-1)
        reconstruction = reconstruction + loss_z1_weight + (loss_z1_unweighted * probs).sum(dim=1)
        kl_y = (probs * (torch.log(probs.clamp_min(1e-12)) - torch.log(self.y_prior))).sum(dim=1)
        kl_total = (kl_z2 * probs).sum(dim=1) + kl_y + self.kl_library(inf, batch)
        loss = torch.mean(reconstruction + kl_weight * kl_total)
        out = {"loss": loss, "reconstruction": reconstruction.mean(), "kl": kl_total.mean()}
        if labelled_x is not None and labelled_y is not None and len(labelled_y):
            ce = F.cross_entropy(self.classify(labelled_x), labelled_y.long())
            out["classification"] = ce
            out["loss"] = loss + classification_ratio * ce
        return out


def train_vae(
    trainer: Trainer,
    module: VAE,
    counts: Any,
    batch: Any,
    *,
    stage: str = "train",
    epochs: int,
    batch_size: int = 128,
    lr: float = 1e-3,
    weight_decay: float = 1e-6,
    n_epochs_kl_warmup: int | None = 400,
    labels: Any | None = None,
    classification_ratio: float = 50.0,
) -> StageResult:
    """Train an scVI / scANVI module for one stage of ``trainer`` (scvi-tools' training plan).

    Adam with scvi-tools' ``eps=0.01`` and weight decay, shuffled minibatches drawn from
    ``trainer.generator``, linear KL warm-up over ``n_epochs_kl_warmup`` epochs (``None``: none).
    Minibatches of fewer than 3 cells are skipped: batch normalisation needs several. The history
    is the mean over the epoch's optimiser steps of every loss term (scvi-tools logs per-step
    means), in ``trainer.history[stage]``; a term that stops being finite raises
    :class:`~dance.nn.trainer.TrainingDivergedError`.

    On the CPU, torch runs on one thread during training: minibatches of 128 cells gain nothing
    from more, and on a busy machine OpenMP threads waiting for each other made training several
    times slower (measured 8x on 2 cores). The thread count is restored afterwards.

    Parameters
    ----------
    trainer
        The model's trainer (its device, generator and history).
    module
        A :class:`VAE` or :class:`SCANVAE`; moved to the trainer's device, left in evaluation mode.
    counts
        Cells x genes counts: a :class:`~dance.nn.data.RowMatrix`, or a dense or scipy-sparse
        matrix (wrapped in one).
    batch
        Batch code (``0 .. n_batch - 1``) of every cell.
    stage
        Name of the stage in the trainer's history.
    epochs, batch_size, lr, weight_decay, n_epochs_kl_warmup
        scvi-tools' ``max_epochs``, ``batch_size`` (128), learning rate (1e-3), weight decay
        (1e-6) and ``n_epochs_kl_warmup`` (400).
    labels
        Label codes with ``-1`` for unlabelled cells: scANVI's classification term. With every
        step ``batch_size`` labelled cells are drawn (with replacement) from ``trainer.generator``
        for the cross-entropy, as scvi-tools' semi-supervised data loader does.
    classification_ratio
        Weight of the cross-entropy.

    Returns
    -------
    StageResult
        Epochs and steps run; ``final`` holds the last epoch's mean of every term.
    """
    device = trainer.device
    generator = trainer.generator
    rows = counts if isinstance(counts, RowMatrix) else RowMatrix(counts, device)
    batch_t = torch.as_tensor(np.asarray(batch), dtype=torch.long, device=device)
    labelled: torch.Tensor | None = None
    if labels is not None:
        codes = np.asarray(labels)
        labelled = torch.as_tensor(np.flatnonzero(codes >= 0), device=generator.device)
        labels_t = torch.as_tensor(codes, dtype=torch.long, device=device)
        if not len(labelled):
            labelled = None
    module.to(device)
    optimiser = torch.optim.Adam(module.parameters(), lr=lr, eps=0.01, weight_decay=weight_decay)

    def loss(step: Batch) -> dict[str, torch.Tensor]:
        index: torch.Tensor = step.index  # type: ignore[assignment]  # always shuffled minibatches
        x = rows[index]
        b = batch_t[index.to(device)]
        if labelled is None:
            return module.loss(x, b, step.kl_weight)
        # drawn after the minibatch order, from the same generator: one seeded stream per stage
        draw = torch.randint(len(labelled), (min(batch_size, len(labelled)),), generator=generator, device=generator.device)
        pick = labelled[draw]
        return module.loss(  # type: ignore[call-arg]
            x,
            b,
            step.kl_weight,
            labelled_x=rows[pick],
            labelled_y=labels_t[pick.to(device)],
            classification_ratio=classification_ratio,
        )

    plan = Stage(
        stage,
        epochs=epochs,
        n=rows.n,
        batch_size=batch_size,
        min_batch_size=3,
        kl_warmup_epochs=n_epochs_kl_warmup,
        average="steps",
        steps=[OptimizerStep(optimiser, loss)],
    )
    threads = torch.get_num_threads()
    if device.type != "cuda":
        torch.set_num_threads(1)
    try:
        return trainer.fit(plan, module=module)
    finally:
        torch.set_num_threads(threads)
        module.eval()
