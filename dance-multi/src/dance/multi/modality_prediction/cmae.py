"""Cross-modal autoencoders: per-modality autoencoders aligned in one latent space."""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
from pydantic import Field

from dance.core.models.base import ModelParams
from dance.core.tasks.modality_prediction import ModalityPredictionModel


class CMAEParams(ModelParams):
    """Defaults of DANCE's CMAE example (the original code was not available to read)."""

    dim: int = Field(100, ge=2, description="width before the latent layer")
    latent: int = Field(50, ge=2, description="latent dimensions")
    reconstruction_weight: float = Field(10.0, ge=0, description="weight of each modality's L1 reconstruction")
    adversarial_weight: float = Field(10.0, ge=0, description="weight of the latent discriminator loss")
    classification_weight: float = Field(10.0, ge=0, description="weight of the latent classifier of the batch (when there are batches)")
    supervision_weight: float = Field(0.1, ge=0, description="weight of the L1 distance between a cell's two latent codes")
    learning_rate: float = Field(1e-4, gt=0, description="AdamW learning rate")
    weight_decay: float = Field(1e-4, ge=0, description="AdamW weight decay")
    batch_size: int = Field(64, ge=2, description="cells per minibatch")
    epochs: int | None = Field(
        None,
        ge=1,
        description="most epochs; None: 100, or 4 when a modality is peaks (SNARE-seq: about 110 s an epoch on two CPU cores, "
        "so that a run fits in 10 minutes; on a GPU pass epochs=100)",
    )
    patience: int = Field(20, ge=1, description="epochs without a better validation translation error before stopping")
    validation_fraction: float = Field(0.15, gt=0, lt=0.5, description="training cells held out for early stopping")


def dense_rows(x: Any) -> Any:
    """``x`` as float32: CSR when sparse (densified per minibatch), else a dense array."""
    return sp.csr_matrix(x, dtype=np.float32) if sp.issparse(x) else np.asarray(x, dtype=np.float32)


def fit_cmae(model: Any, mod1: Any, mod2: Any, batch: Any | None, epochs: int) -> Any:
    """Train the cross-modal autoencoders on paired cells for at most ``epochs``: per minibatch a
    discriminator step, then an encoder/decoder step. Returns the module in evaluation mode."""
    import torch

    from dance.multi.modality_prediction.cmae_module import CrossModalAutoencoders
    from dance.nn.data import AlignedRows, torch_generator
    from dance.nn.trainer import Batch, EarlyStopping, OptimizerStep, Stage, Trainer

    p = model.params
    device = model.device_
    trainer = Trainer(model.name, seed=model.seed, device=device, generator=torch_generator(model.seed))
    codes = None
    n_classes = 0
    if batch is not None:
        names, codes = np.unique(np.asarray(batch).astype(str), return_inverse=True)
        n_classes = len(names)
    rows = AlignedRows(dense_rows(mod1.X), dense_rows(mod2.X), device=device)
    labels = None if codes is None or n_classes < 2 else torch.as_tensor(codes, device=device)
    module = CrossModalAutoencoders((mod1.n_vars, mod2.n_vars), dim=p.dim, latent=p.latent, n_classes=n_classes).to(device)
    betas = (0.5, 0.999)
    dis_optimizer = torch.optim.AdamW(module.discriminator.parameters(), lr=p.learning_rate, betas=betas, weight_decay=p.weight_decay)
    gen_optimizer = torch.optim.AdamW(module.generator_parameters(), lr=p.learning_rate, betas=betas, weight_decay=p.weight_decay)
    ae1, ae2 = module.autoencoders

    def discriminator_loss(b: Batch) -> dict[str, torch.Tensor]:
        x1, x2 = rows[b.index]
        with torch.no_grad():
            z1, z2 = ae1.encode(x1), ae2.encode(x2)
        return {"loss": p.adversarial_weight * module.discriminator.loss(z1, z2)}

    def generator_loss(b: Batch) -> dict[str, torch.Tensor]:
        x1, x2 = rows[b.index]
        z1, z2 = ae1.encode(x1), ae2.encode(x2)
        reconstruction = (ae1.decode(z1) - x1).abs().mean() + (ae2.decode(z2) - x2).abs().mean()
        adversarial = module.discriminator.fooling_loss(z1, z2)
        y = None if labels is None else labels[b.index]
        classification = module.classification_loss(z1, y) + module.classification_loss(z2, y)
        supervision = (z1 - z2).abs().mean()
        total = (
            p.reconstruction_weight * reconstruction
            + p.adversarial_weight * adversarial
            + p.classification_weight * classification
            + p.supervision_weight * supervision
        )
        translation = (ae2.decode(z1) - x2).abs().mean().detach()
        return {
            "loss": total,
            "reconstruction": reconstruction,
            "adversarial": adversarial,
            "classification": classification,
            "supervision": supervision,
            "translation": translation,
        }

    stage = Stage(
        "train",
        epochs=epochs,
        n=rows.n,
        batch_size=p.batch_size,
        min_batch_size=2,
        steps=[
            OptimizerStep(dis_optimizer, discriminator_loss, name="discriminator"),
            OptimizerStep(gen_optimizer, generator_loss, name="autoencoders"),
        ],
        early_stopping=EarlyStopping(
            fraction=p.validation_fraction, monitor="autoencoders_translation", patience=p.patience, restore_best=True
        ),
    )
    result = trainer.fit(stage, module=module)
    module.eval()
    model.training_history_ = trainer.history
    model.notes_ = {
        f"{model.name}_epochs": result.epochs,
        f"{model.name}_best_epoch": result.best_epoch,
        f"{model.name}_classes": n_classes,
        f"{model.name}_max_epochs": epochs,
    }
    return module


class CMAE(ModalityPredictionModel):
    """Cross-modal autoencoders (Yang et al. 2021, "Multi-domain translation between single-cell
    imaging and sequencing data using autoencoders", Nat Commun 12:31): an autoencoder per
    modality (:mod:`~dance.multi.modality_prediction.cmae_module`) whose latent spaces are made one
    by a least-squares latent discriminator (trained in turn with the autoencoders), a linear
    classifier of the batch on the latent codes, and the paired cells' codes pulled together (L1).
    Losses and weights follow DANCE's port: L1 reconstruction x 10, adversarial x 10, batch
    classification x 10, pairing x 0.1; AdamW (lr 1e-4, betas 0.5 / 0.999, weight decay 1e-4),
    minibatches of 64, at most 100 epochs (4 when a modality is peaks: an epoch of SNARE-seq's
    25,734 peaks through ``25,734 -> 1,000 -> 1,000 -> 1,000`` layers takes about 110 s on two CPU
    cores; the run is then far from converged, on a GPU pass ``epochs=100``). Inputs and targets are ``X`` on the challenge's scale.

    Prediction decodes the target from the source's code. Deviations: DANCE trains a fixed 100
    epochs (and only on a GPU); here training stops when the L1 translation error of a seeded
    15 % of the training cells has not improved for ``patience`` epochs and keeps the best
    weights. The original authors' code (uhlerlab/cross-modal-autoencoders) was not available to
    compare.
    """

    name = "cmae"
    Params = CMAEParams
    quick_params = {"epochs": 2, "patience": 2, "batch_size": 32}

    def _fit(self, data: Any) -> None:
        mod1, mod2 = self.training_pairs(data)
        batch = mod1.obs[self.keys.batch_key].to_numpy() if self.keys.batch_key in mod1.obs.columns else None
        from dance.multi.modality_kinds import default_epochs, modality_kinds

        epochs = default_epochs(self.params.epochs, modality_kinds(data), usual=100, with_peaks=4)
        self.module_ = fit_cmae(self, mod1, mod2, batch, epochs)

    def _predict(self, data: Any) -> Any:
        from dance.nn.data import RowMatrix, predict_in_batches

        source = RowMatrix(dense_rows(data.mod1.X), self.device_)
        translated = predict_in_batches(lambda index: self.module_.translate(source[index]), source.n, batch_size=2048)
        return translated.cpu().numpy().astype(np.float32)
