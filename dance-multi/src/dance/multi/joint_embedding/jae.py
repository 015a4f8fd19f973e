"""JAE: an autoencoder on both modalities' SVDs whose latent parts predict cell type, batch and cell cycle."""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
from pydantic import Field

from dance.core.errors import DanceInputError
from dance.core.models.base import ModelParams
from dance.core.tasks.joint_embedding import JointEmbeddingModel


def log10_normalised(adata: Any, counts_layer: str) -> sp.csr_matrix:
    """``log10(1 + 1e4 x / sum(x))`` per cell of the counts (``layers[counts_layer]``, else X),
    kept sparse (the authors' ``preprocess``)."""
    matrix = adata.layers.get(counts_layer, adata.X)
    x = sp.csr_matrix(matrix, dtype=np.float64, copy=True)
    totals = np.asarray(x.sum(axis=1)).ravel()
    x = sp.diags(1e4 / np.where(totals > 0, totals, 1.0)) @ x
    x.data = np.log1p(x.data) / np.log(10)
    return x.tocsr()


def svd_inputs(adata: Any, kind: str, n_comps: int, counts_layer: str, seed: int) -> np.ndarray:
    """One modality's part of JAE's input: the truncated SVD (``n_comps``) of its normalised
    values, over all cells given (the authors fitted it on all cells of the challenge, labelled
    or not); proteins are few and enter as they are."""
    from sklearn.decomposition import TruncatedSVD

    x = log10_normalised(adata, counts_layer)
    if kind == "adt":
        return x.toarray().astype(np.float32)
    n = int(min(n_comps, adata.n_obs - 1, adata.n_vars - 1))
    return TruncatedSVD(n_components=n, random_state=seed).fit_transform(x).astype(np.float32)


class JAE(JointEmbeddingModel):
    """JAE, the joint-embedding autoencoder of team Amateur (Qiao Liu et al.; first in the
    NeurIPS 2021 joint-embedding task, Lance et al. 2022, PMLR 176:162; ``kimmo1019/JAE``,
    adapted from scDEC, Liu et al. 2021, Nat Mach Intell 3:536). DANCE lists it as "scDEC".

    Each modality is normalised (``log10(1 + 1e4 x / total)``) and reduced by a truncated SVD to
    100 components (proteins stay as they are); the two are concatenated. An autoencoder
    (:class:`~dance.multi.joint_embedding.jae_module.JAEAutoencoder`: residual blocks of 150, 120
    and 100 units, ReLU latent of types + batches + 2 + 5 dimensions) reconstructs the input while
    the first latent dimensions predict the cell type (cross-entropy), the next ones the batch
    as randomly as possible (cross-entropy against the uniform distribution) and the next two the
    S / G2M scores (:mod:`~dance.multi.joint_embedding.training_targets`). Loss weights 0.7 /
    0.2 / 0.05 / 0.05, Adam lr 1e-4, minibatches of 32, at most 500 epochs, stopped after 5 without
    a better validation loss (best weights kept; a seeded 10 % of the training cells), as in the
    authors' ``2_ae_pretrain_cite.py``. The embedding is the latent vector of every cell.

    Training cells are those whose cell type was revealed (``obs['known_<label_key>']``; ``dance
    run`` reveals half by default and scores the rest), as the authors pretrained on the labelled
    exploration cells; without revealed types the cell-type term is off. The cell-cycle scores
    are computed from the input expression. DANCE's port differs from the authors' code (scMoGCN's
    GELU network without residual blocks, LSI inputs, 60 epochs, batches of 128); we follow the
    authors. Their README mentions fine-tuning the reconstruction on the test cells, which their
    released code does not do; neither do we.
    """

    name = "jae"
    transductive = True
    training_label_fraction = 0.5

    class Params(ModelParams):
        n_comps: int = Field(100, ge=2, description="SVD components per modality (authors: 100)")
        free_dims: int = Field(5, ge=0, description="latent dimensions without a target (authors: 5)")
        learning_rate: float = Field(1e-4, gt=0, description="Adam learning rate (authors: 1e-4)")
        batch_size: int = Field(32, ge=2, description="cells per minibatch (authors: 32)")
        epochs: int = Field(500, ge=1, description="most epochs (authors: 500)")
        patience: int = Field(5, ge=1, description="epochs without a better validation loss before stopping (authors: 5)")
        validation_fraction: float = Field(0.1, gt=0, lt=0.5, description="training cells held out for early stopping (authors: 10 %)")
        weights: tuple[float, float, float, float] = Field(
            (0.7, 0.2, 0.05, 0.05), description="weights of reconstruction, cell type, batch and cell cycle (authors)"
        )

    quick_params = {"epochs": 2, "patience": 2, "n_comps": 8}

    def _fit(self, data: Any) -> None:
        import torch

        from dance.multi.joint_embedding.jae_module import JAEAutoencoder
        from dance.multi.joint_embedding.training_targets import LatentParts, train_partitioned_autoencoder, training_targets
        from dance.multi.modality_kinds import modality_kinds
        from dance.nn.data import torch_generator
        from dance.nn.trainer import Trainer

        p = self.params
        kinds = modality_kinds(data)
        blocks = [
            svd_inputs(adata, kind, p.n_comps, self.keys.counts_layer, self.seed)
            for adata, kind in zip((data.mod1, data.mod2), kinds, strict=True)
        ]
        inputs = torch.as_tensor(np.hstack(blocks), device=self.device_)
        targets = training_targets(data, self.keys.label_key, self.keys.batch_key, seed=self.seed)
        parts = LatentParts(len(targets.cell_types), targets.n_batches)
        latent = parts.size + p.free_dims
        trainer = Trainer(self.name, seed=self.seed, device=self.device_, generator=torch_generator(self.seed))  # seeds the weights
        module = JAEAutoencoder(inputs.shape[1], latent).to(self.device_)
        result = train_partitioned_autoencoder(
            self,
            trainer,
            module,
            lambda index: inputs[index],
            targets,
            parts,
            torch.optim.Adam(module.parameters(), lr=p.learning_rate),
            batch_term="uniform",
            weights=p.weights,
            epochs=p.epochs,
            batch_size=p.batch_size,
            patience=p.patience,
            validation_fraction=p.validation_fraction,
        )
        with torch.no_grad():
            self.embedding_ = module(inputs)[0].cpu().numpy().astype(np.float32)
        self.notes_ = {
            **targets.notes,
            "jae_epochs": result.epochs,
            "jae_best_epoch": result.best_epoch,
            "jae_latent": f"{latent} dimensions: {parts.n_cell_types} cell types, {parts.n_batches} batches, 2 cell-cycle scores, "
            f"{p.free_dims} free",
        }

    def _predict(self, data: Any) -> Any:
        if data.mod1.n_obs != self.embedding_.shape[0]:
            raise DanceInputError(
                f"jae is transductive: it embeds the {self.embedding_.shape[0]} cells it was fitted on; got {data.mod1.n_obs}",
                field="data",
            )
        return self.embedding_
