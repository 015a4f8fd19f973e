"""scMoGNN for modality matching: propagated LSI features and a contrastive matching head."""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
from pydantic import Field

from dance.core.models.base import ModelParams
from dance.core.tasks.modality_matching import ModalityMatchingModel

#: the authors' components per modality kind (DANCE's ``ModalityMatchingDataset(preprocess="pca")``)
LSI_COMPONENTS = {"gex": 256, "atac": 512}


def matching_features(adata: Any, kind: str, seed: int) -> np.ndarray:
    """The inputs of the propagation: LSI of expression (256 components) or peaks (512), on all
    cells given; proteins as their X (CLR values)."""
    if kind == "adt":
        return np.asarray(adata.X.toarray() if sp.issparse(adata.X) else adata.X, dtype=np.float32)
    from dance.multi.features import modality_reduction

    view = adata.copy()
    n = int(min(LSI_COMPONENTS[kind], view.n_obs - 2, view.n_vars - 2))
    modality_reduction(view, n_comps=n, kind="atac", seed=seed, key_added="X_lsi")  # TF-IDF + SVD of the counts
    return np.asarray(view.obsm["X_lsi"], dtype=np.float32)


class ScMoGNNMatching(ModalityMatchingModel):
    """scMoGNN for matching (Wen et al. 2022, KDD; DANCE's ``match_modality/scmogcn.py``).

    Each modality's cells are featurised by LSI (expression 256 components, peaks 512; proteins
    as they are) over all cells given, then propagated without parameters over the bipartite graph
    of cells and components (:func:`~dance.multi.modality_matching.scmogcn_module.cell_feature_propagation`,
    4 rounds, the first dropped); a learnt softmax mixes the rounds. Two encoders map the cells
    into a shared L2-normalised space (CITE: ``n -> 512 -> 512 -> 64``, dropout 0.25 / 0.2,
    temperature ``exp(2.74)``; otherwise ``n -> 1024 -> 1024 -> 256`` and ``n -> 2048 -> 256``,
    dropout 0.5, temperature ``exp(3.07)``), trained on the training pairs with the symmetric
    contrastive loss (cross-entropy of the logits against the diagonal, both ways) plus the
    auxiliary self- and cross-reconstruction errors; AdamW lr 6e-4, minibatches of up to 4,096
    pairs, stopped after 20 epochs without a better validation matching accuracy (best weights
    kept), at most 2,000 epochs.

    Prediction scores test cells as the authors' enhanced prediction: ``softmax(logits, rows) +
    softmax(logits, columns)``, then the one-to-one assignment that maximises it (Hungarian
    algorithm; the authors threshold at the 0.95 quantiles and use networkx's minimum-weight
    full matching, which fails when the thresholded graph has none). The authors match within
    each batch (the challenge gave batches of the test cells of both modalities); the contract
    hides everything of the test cells of mod2 but their split, so matching is over all test
    cells. ``assignment_weight`` below 1 mixes in the soft scores (the authors: 1, a hard
    assignment).
    """

    name = "scmogcn"
    transductive = True

    class Params(ModelParams):
        layers: int = Field(4, ge=2, description="propagation rounds (the first is dropped; authors: 4)")
        learning_rate: float = Field(6e-4, gt=0, description="AdamW learning rate (authors: 6e-4)")
        batch_size: int = Field(4096, ge=8, description="training pairs per step (authors: 4,096)")
        epochs: int = Field(2000, ge=1, description="most epochs (authors: 2,000)")
        patience: int = Field(20, ge=1, description="epochs without a better validation accuracy before stopping (authors: 20)")
        validation_fraction: float = Field(0.15, gt=0, lt=0.5, description="training pairs held out for early stopping")
        auxiliary_loss: bool = Field(True, description="add the self- and cross-reconstruction errors to the contrastive loss")
        assignment_weight: float = Field(1.0, ge=0, le=1, description="weight of the one-to-one assignment (authors: 1)")
        top_k: int = Field(50, ge=1, description="candidates per cell in the soft part of the scores")

    quick_params = {"epochs": 2, "patience": 2, "batch_size": 64}

    def _architecture(self, sizes: tuple[int, int], kinds: tuple[str, str]) -> dict[str, Any]:
        n1, n2 = sizes
        if "adt" in kinds:  # the authors' CITE-seq configuration
            latent = 64
            return {
                "encoder1": [(n1, 512, 0.25), (512, 512, 0.2), (512, latent, 0.0)],
                "encoder2": [(n2, 512, 0.25), (512, 512, 0.2), (512, latent, 0.0)],
                "decoder1": [(latent, 512, 0.2), (512, n1, 0.0)],
                "decoder2": [(latent, 512, 0.2), (512, n2, 0.0)],
                "temperature": 2.739896,
            }
        latent = 256
        return {
            "encoder1": [(n1, 1024, 0.5), (1024, 1024, 0.5), (1024, latent, 0.0)],
            "encoder2": [(n2, 2048, 0.5), (2048, latent, 0.0)],
            "decoder1": [(latent, 512, 0.2), (512, n1, 0.0)],
            "decoder2": [(latent, 512, 0.2), (512, n2, 0.0)],
            "temperature": 3.065016,
        }

    def _fit(self, data: Any) -> None:
        import torch
        import torch.nn.functional as F

        from dance.multi.modality_kinds import modality_kinds
        from dance.multi.modality_matching.scmogcn_module import MatchingHead, cell_feature_propagation
        from dance.nn.data import torch_generator
        from dance.nn.trainer import Batch, EarlyStopping, OptimizerStep, Stage, Trainer

        p = self.params
        device = self.device_
        trainer = Trainer(self.name, seed=self.seed, device=device, generator=torch_generator(self.seed))
        kinds = modality_kinds(data)
        layers = []
        for adata, kind in zip((data.mod1, data.mod2), kinds, strict=True):
            propagated = cell_feature_propagation(matching_features(adata, kind, self.seed), layers=p.layers)
            layers.append(torch.as_tensor(np.stack(propagated), device=device))
        self.layers_ = layers
        train1, train2 = self.split_masks(data)
        rows1 = torch.as_tensor(np.flatnonzero(train1), device=device)
        rows2 = torch.as_tensor(np.flatnonzero(train2), device=device)
        sizes = (layers[0].shape[2], layers[1].shape[2])
        spec = self._architecture(sizes, kinds)
        head = MatchingHead(
            spec["encoder1"], spec["encoder2"], spec["decoder1"], spec["decoder2"], n_layers=p.layers - 1, temperature=spec["temperature"]
        ).to(device)
        optimizer = torch.optim.AdamW(head.parameters(), lr=p.learning_rate)
        n_train = len(rows1)
        batch_size = min(p.batch_size, max(2, n_train // 2))

        def loss(batch: Batch) -> dict[str, torch.Tensor]:
            index = torch.arange(n_train, device=device) if batch.index is None else batch.index.to(device)
            x = head.combine(layers[0][:, rows1[index]], 0)
            y = head.combine(layers[1][:, rows2[index]], 1)
            e1, e2 = head.encode(x, 0), head.encode(y, 1)
            logits = head.logits(e1, e2)
            target = torch.arange(len(index), device=device)
            contrastive = F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)
            terms = {"contrastive": contrastive}
            total = contrastive
            if p.auxiliary_loss:
                cross = F.mse_loss(head.decoders[0](e2), x) + F.mse_loss(head.decoders[1](e1), y)
                own = F.mse_loss(head.decoders[0](e1), x) + F.mse_loss(head.decoders[1](e2), y)
                terms.update(cross_reconstruction=cross, reconstruction=own)
                total = total + cross + own
            with torch.no_grad():
                accuracy = ((logits.argmax(dim=1) == target).float().mean() + (logits.argmax(dim=0) == target).float().mean()) / 2
            return {"loss": total, **terms, "mismatch": 1 - accuracy}

        stage = Stage(
            "train",
            epochs=p.epochs,
            n=n_train,
            batch_size=batch_size,
            min_batch_size=2,
            steps=[OptimizerStep(optimizer, loss)],
            early_stopping=EarlyStopping(fraction=p.validation_fraction, monitor="mismatch", patience=p.patience, restore_best=True),
        )
        result = trainer.fit(stage, module=head)
        head.eval()
        self.head_ = head
        self.training_history_ = trainer.history
        self.notes_ = {"scmogcn_epochs": result.epochs, "scmogcn_best_epoch": result.best_epoch, "scmogcn_batch_size": batch_size}

    def _predict(self, data: Any) -> Any:
        import torch

        from dance.multi.modality_matching.scores import soft_assignment_scores

        train1, train2 = self.split_masks(data)
        if self.layers_[0].shape[1] != data.mod1.n_obs or self.layers_[1].shape[1] != data.mod2.n_obs:
            from dance.core.errors import DanceInputError

            raise DanceInputError("scmogcn (matching) is transductive: predict on the cells it was fitted on", field="data")
        rows1 = torch.as_tensor(np.flatnonzero(~train1), device=self.device_)
        rows2 = torch.as_tensor(np.flatnonzero(~train2), device=self.device_)
        with torch.no_grad():
            e1 = self.head_.encode(self.head_.combine(self.layers_[0][:, rows1], 0), 0)
            e2 = self.head_.encode(self.head_.combine(self.layers_[1][:, rows2], 1), 1)
            logits = self.head_.logits(e1, e2)
            scores = (torch.softmax(logits, dim=1) + torch.softmax(logits, dim=0)).cpu().numpy().astype(np.float64)
        p = self.params
        return soft_assignment_scores(scores, top_k=p.top_k, temperature=0.05, assignment_weight=p.assignment_weight)
