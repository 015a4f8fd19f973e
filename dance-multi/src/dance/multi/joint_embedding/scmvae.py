"""scMVAE-PoE: a multimodal VAE with a product-of-experts posterior and a Gaussian-mixture prior."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import scipy.sparse as sp
from pydantic import Field, model_validator

from dance.core.models.base import ModelParams
from dance.core.tasks.joint_embedding import JointEmbeddingModel

if TYPE_CHECKING:
    from typing_extensions import Self

    from dance.core.containers import Modalities

__all__ = ["ScMVAE"]


class ScMVAEParams(ModelParams):
    """scMVAE's parameters; defaults are the authors' (``MVAE_test_Adbrain.py``,
    ``scMVAE/utilities.py::parameter_setting``) unless the description says otherwise."""

    n_top_genes: int = Field(3000, ge=2, description="most variable genes (and proteins) kept, seurat_v3 on counts (DANCE: 3000)")
    n_top_peaks: int = Field(3000, ge=2, description="most variable peaks kept, seurat_v3 on counts (authors: 3,000 ATAC features)")
    latent_dim: int = Field(22, ge=2, description="width of the joint embedding (authors: 22)")
    n_centroids: int = Field(22, ge=1, description="components of the Gaussian-mixture prior (authors: 22; capped at a tenth of the cells)")
    encoder_dims: tuple[int, ...] = Field((1024, 128, 128), min_length=1, description="hidden widths of each modality's encoder (authors)")
    library_hidden: int = Field(128, ge=1, description="hidden width of each library-size encoder (authors: 128)")
    shared_dims: tuple[int, ...] = Field(
        (128, 256), min_length=1, description="shared decoder widths; the last is split between the modalities (authors)"
    )
    decoder_dims: tuple[int, ...] = Field((128, 1024), min_length=1, description="hidden widths of each modality's decoder (authors)")
    dropout: float = Field(0.1, ge=0, lt=1, description="dropout after every hidden layer (authors: 0.1)")
    atac_likelihood: Literal["zinb", "bernoulli"] = Field(
        "zinb", description="peaks: ZINB on counts (authors) or Bernoulli on binarised peaks"
    )
    adt_likelihood: Literal["nb", "zinb"] = Field("nb", description="proteins: negative binomial (DANCE's port: ZINB)")
    rna_weight: float = Field(4.0, gt=0, description="weight of the RNA negative log-likelihood (authors' scale_factor: 4)")
    learning_rate: float = Field(1e-3, gt=0, description="initial Adam learning rate (authors: 1e-3)")
    final_learning_rate: float = Field(1e-4, gt=0, description="floor of the learning rate (authors: 1e-4)")
    lr_decay: float = Field(0.9, gt=0, le=1, description="learning rate times this every lr_decay_epochs (authors: 0.9 every 10)")
    lr_decay_epochs: int = Field(10, ge=1, description="epochs between learning-rate decays (authors: 10)")
    weight_decay: float = Field(1e-6, ge=0, description="Adam weight decay (authors: 1e-6)")
    adam_eps: float = Field(0.01, gt=0, description="Adam epsilon (authors: 0.01)")
    batch_size: int = Field(64, ge=2, description="cells per minibatch (authors: 64)")
    epochs: int = Field(15, ge=1, description="most epochs (authors: 500 with early stopping; DANCE's example: 25)")
    kl_warmup: int = Field(15, ge=0, description="epochs of linear warm-up of the KL term of z (authors: 200; 0: none)")
    patience: int = Field(30, ge=1, description="epochs without a better validation loss before stopping (authors: 30)")
    validation_fraction: float = Field(0.1, gt=0, lt=0.5, description="cells held out for early stopping (authors: 10 %)")

    @model_validator(mode="after")
    def _even_split(self) -> Self:
        if self.shared_dims[-1] % 2:
            raise ValueError(f"the last shared width is split between the two modalities and must be even; got {self.shared_dims[-1]}")
        return self


class ScMVAE(JointEmbeddingModel):
    """scMVAE-PoE (Zuo & Chen 2021, "Deep-joint-learning analysis model of single cell
    transcriptome and open chromatin accessibility data", Brief Bioinform 22:bbaa287).

    The authors' ``scMVAE_POE`` with ``model=1`` (:mod:`~dance.multi.joint_embedding.scmvae_module`):
    each modality's log1p counts are encoded into a diagonal normal; the joint posterior is the
    product of these two experts and a standard normal one; a shared decoder feeds one half of
    its last layer to each modality's decoder. RNA is decoded into a zero-inflated negative
    binomial (ZINB) whose mean is a softmax over genes times the cell's library size, itself a
    latent variable with a normal prior fitted to the cells' log library sizes; peaks into a ZINB
    on counts (the authors' ``Type="ZINB"``; ``atac_likelihood="bernoulli"`` for binarised
    peaks) and proteins into a negative binomial, each with its own library size. The prior of
    the embedding is a Gaussian mixture of ``n_centroids`` components, initialised by
    ``sklearn.mixture.GaussianMixture`` (diagonal) on the untrained network's embedding of all
    cells. The loss is the authors': ``4 NLL(RNA) + NLL(other) + KL(libraries) + w KL(z, c)``
    with ``w`` warmed up linearly; Adam (lr 1e-3, weight decay 1e-6, eps 0.01) in minibatches
    of 64, the learning rate times 0.9 every 10 epochs down to 1e-4, and early stopping on 10 %
    of the cells restoring the best epoch. The embedding is the posterior mean.

    Both modalities need counts (``layers['counts']``, or integer ``X``). Features: the
    ``n_top_genes`` / ``n_top_peaks`` most variable by Seurat v3's variance-stabilising rule on
    counts (Stuart et al. 2019; :func:`~dance.multi.features.most_variable_counts`), after
    dropping features with fewer than 3 counts (DANCE's ``feature_selection``); peak matrices stay sparse and minibatches are densified one at a
    time. The model uses no labels; it embeds new cells measured on the same features.

    Deviations from the authors' code, each for a reason (docs/models/multimodal.md): a budget
    of 15 epochs with a 15-epoch KL warm-up (the authors train up to 500 epochs with a 200-epoch
    warm-up, which would take hours on a CPU); the library-size KL uses the posterior's standard
    deviation (the authors pass the log-variance as the scale); the library prior is fitted to
    the counts (the authors' to log1p-transformed values); mixture weights and variances are
    optimised as logits and logs; the mixture is fitted with the seed to posterior means, not
    samples.
    """

    name = "scmvae"
    Params = ScMVAEParams
    needs_counts = True
    #: the encoders apply to any cells measured on the same features
    transductive = False
    quick_params = {
        "epochs": 2,
        "kl_warmup": 1,
        "patience": 2,
        "batch_size": 32,
        "latent_dim": 4,
        "n_centroids": 3,
        "encoder_dims": (16,),
        "library_hidden": 8,
        "shared_dims": (16, 16),
        "decoder_dims": (16,),
    }
    min_cells = 10

    # ------------------------------------------------------------------ training
    def _fit(self, data: Modalities) -> None:
        import torch
        from sklearn.mixture import GaussianMixture

        from dance.multi.features import most_variable_counts
        from dance.multi.joint_embedding.scmvae_module import ScMVAEModule
        from dance.multi.modality_kinds import modality_kinds
        from dance.nn.data import AlignedRows, torch_generator
        from dance.nn.trainer import Batch, EarlyStopping, OptimizerStep, Stage, Trainer

        p = self.params
        device = self.device_
        # first: the trainer seeds torch, so the initial weights are the same in every fit
        trainer = Trainer(self.name, seed=self.seed, device=device, generator=torch_generator(self.seed))
        self.kinds_ = modality_kinds(data)
        counts = [self._counts(adata, role) for adata, role in zip((data.mod1, data.mod2), ("mod1", "mod2"), strict=True)]
        self.features_: list[list[str]] = []
        selected = []
        for adata, role, kind, matrix in zip((data.mod1, data.mod2), ("mod1", "mod2"), self.kinds_, counts, strict=True):
            n_top = p.n_top_peaks if kind == "atac" else p.n_top_genes
            keep = most_variable_counts(matrix, n_top, role=role)
            self.features_.append([str(n) for n in adata.var_names[keep]])
            selected.append(matrix[:, keep])
        likelihoods = tuple(self._likelihood(kind) for kind in self.kinds_)
        weights = tuple(p.rna_weight if kind == "gex" else 1.0 for kind in self.kinds_)
        n_cells = data.mod1.n_obs
        # the mixture needs several cells per component; the authors' 22 fit any real data set
        n_centroids = int(max(1, min(p.n_centroids, n_cells // 10)))
        module = ScMVAEModule(
            (selected[0].shape[1], selected[1].shape[1]),
            likelihoods,  # type: ignore[arg-type]
            latent_dim=p.latent_dim,
            encoder_dims=p.encoder_dims,
            library_hidden=p.library_hidden,
            shared_dims=p.shared_dims,
            decoder_dims=p.decoder_dims,
            n_centroids=n_centroids,
            dropout=p.dropout,
            weights=weights,  # type: ignore[arg-type]
        ).to(device)
        # the normal prior of each log library size: mean and variance over all cells
        # (utilities.py::calculate_log_library_size), on the counts of the features modelled
        log_libraries = [np.log(np.clip(np.asarray(m.sum(axis=1)).ravel(), 1.0, None)) for m in selected]
        module.set_library_prior([float(v.mean()) for v in log_libraries], [float(v.var()) for v in log_libraries])
        rows = AlignedRows(*selected, device=device)

        # the mixture prior starts from a Gaussian mixture fitted to the untrained network's
        # embedding of every cell, computed as the authors do (training mode: batch statistics)
        embedding = self._embed(module, rows, training=True)
        gmm = GaussianMixture(n_components=n_centroids, covariance_type="diag", random_state=self.seed, reg_covar=1e-6)
        gmm.fit(embedding.astype(np.float64))
        module.init_prior(gmm.means_, gmm.covariances_)

        warmup = p.kl_warmup

        def loss(batch: Batch) -> dict[str, torch.Tensor]:
            x1, x2 = rows[batch.index]
            # validation scores the objective of the epoch being trained (the authors' test loss)
            weight = batch.kl_weight if batch.training else (min(1.0, batch.epoch / warmup) if warmup else 1.0)
            return module.loss_terms(x1, x2, kl_weight=weight)

        # the fused Adam: the same update in one kernel; the default one spends more time in the
        # update of the 20 million weights (3,000 peaks) than in the forward and backward passes
        optimizer = torch.optim.Adam(
            [q for q in module.parameters() if q.requires_grad],
            lr=p.learning_rate,
            weight_decay=p.weight_decay,
            eps=p.adam_eps,
            fused=torch.device(device).type in ("cpu", "cuda"),
        )
        floor = min(1.0, p.final_learning_rate / p.learning_rate)
        # utilities.py::adjust_learning_rate at the start of the authors' (1-based) epoch e + 1
        schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda e: max(p.lr_decay ** ((e + 1) // p.lr_decay_epochs), floor))
        stage = Stage(
            "train",
            epochs=p.epochs,
            n=rows.n,
            batch_size=p.batch_size,
            min_batch_size=2,
            kl_warmup_epochs=warmup or None,
            steps=[OptimizerStep(optimizer, loss)],
            early_stopping=EarlyStopping(fraction=p.validation_fraction, monitor="loss", patience=p.patience, restore_best=True),
            epoch_schedulers=[schedule],
            average="rows",
        )
        result = trainer.fit(stage, module=module)
        module.eval()
        self.module_ = module
        self.training_history_ = trainer.history
        self.notes_ = {
            "scmvae_epochs": result.epochs,
            "scmvae_best_epoch": result.best_epoch,
            "scmvae_modalities": "/".join(self.kinds_),
            "scmvae_likelihoods": "/".join(likelihoods),
            "scmvae_features": f"{len(self.features_[0])}/{len(self.features_[1])}",
            "scmvae_centroids": n_centroids,
        }

    def _predict(self, data: Modalities) -> Any:
        from dance.nn.data import AlignedRows

        # the base class has checked that the new cells were measured on the fitted features
        selected = []
        for adata, role, names in zip((data.mod1, data.mod2), ("mod1", "mod2"), self.features_, strict=True):
            position = {str(n): i for i, n in enumerate(adata.var_names)}
            selected.append(self._counts(adata, role)[:, [position[n] for n in names]])
        rows = AlignedRows(*selected, device=self.device_)
        return self._embed(self.module_, rows, training=False).astype(np.float32)

    # ------------------------------------------------------------------ helpers
    def _likelihood(self, kind: str) -> str:
        if kind == "atac":
            return self.params.atac_likelihood
        if kind == "adt":
            return self.params.adt_likelihood
        return "zinb"

    def _counts(self, adata: Any, role: str) -> sp.csr_matrix:
        """The raw counts of one modality as float32 CSR (``layers[counts_layer]``, else an integer ``X``)."""
        from dance.core import validation as v

        # the contract checked them already (needs_counts); this names the field again for a
        # caller that bypasses fit's validation
        matrix = v.counts_matrix(adata, self.keys, role)
        return sp.csr_matrix(matrix, dtype=np.float32)

    def _embed(self, module: Any, rows: Any, *, training: bool) -> np.ndarray:
        """Posterior means of every cell, in minibatches of ``batch_size`` in cell order."""
        import torch

        from dance.nn.data import predict_in_batches

        module.train(training)
        try:
            with torch.no_grad():
                z = predict_in_batches(lambda index: module.latent_mean(*rows[index]), rows.n, batch_size=self.params.batch_size)
        finally:
            module.eval()
        return z.cpu().numpy()

    # ------------------------------------------------------------------ saving
    def _fitted_state(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """The features each encoder reads, the modalities' kinds and the network's weights."""
        from dance.nn.persistence import module_arrays

        values = {"features": [list(f) for f in self.features_], "kinds": list(self.kinds_), "n_centroids": int(self.module_.mu_c.shape[0])}
        return values, module_arrays(self.module_, "scmvae")

    def _restore_state(self, values: dict[str, Any], arrays: dict[str, Any]) -> None:
        from dance.multi.joint_embedding.scmvae_module import ScMVAEModule
        from dance.nn.persistence import load_module_arrays

        p = self.params
        self.features_ = [list(f) for f in values["features"]]
        self.kinds_ = tuple(values["kinds"])
        module = ScMVAEModule(
            (len(self.features_[0]), len(self.features_[1])),
            tuple(self._likelihood(k) for k in self.kinds_),  # type: ignore[arg-type]
            latent_dim=p.latent_dim,
            encoder_dims=p.encoder_dims,
            library_hidden=p.library_hidden,
            shared_dims=p.shared_dims,
            decoder_dims=p.decoder_dims,
            n_centroids=int(values["n_centroids"]),
            dropout=p.dropout,
            weights=tuple(p.rna_weight if k == "gex" else 1.0 for k in self.kinds_),  # type: ignore[arg-type]
        )
        self.module_ = load_module_arrays(module, arrays, "scmvae").to(self.device_).eval()
