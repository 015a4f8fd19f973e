"""BABEL: translation between modalities through a shared latent space."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import scipy.sparse as sp
from pydantic import Field

from dance.core.errors import DanceInputError
from dance.core.models.base import ModelParams
from dance.core.tasks.modality_prediction import ModalityPredictionModel

#: most epochs when a modality is peaks: every step decodes and scores all peaks of 512 cells
#: twice (reconstruction and translation), about 13 s an epoch on two CPU cores for SNARE-seq
PEAK_EPOCHS = 40


def chromosome_order(adata: Any) -> tuple[np.ndarray, list[int]]:
    """Peaks grouped by chromosome: the column order that makes each chromosome's peaks
    contiguous, and the size of each chromosome's block (``var['chrom']`` or the peak names)."""
    from dance.multi.genomes import PEAK_NAME

    if "chrom" in adata.var.columns:
        chromosomes = adata.var["chrom"].astype(str).to_numpy()
    else:
        matches = [PEAK_NAME.match(str(name)) for name in adata.var_names]
        chromosomes = np.array([m.group("chrom") if m else "unplaced" for m in matches])
    names, inverse = np.unique(chromosomes, return_inverse=True)
    order = np.argsort(inverse, kind="stable")
    return order, np.bincount(inverse, minlength=len(names)).tolist()


class Babel(ModalityPredictionModel):
    """BABEL (Wu et al. 2021, "BABEL enables cross-modality translation between multiomic profiles
    at single-cell resolution", PNAS 118:e2023070118), as the authors' code builds it
    (``wukevin/babel``: ``AssymSplicedAutoEncoder``, ``QuadLoss``, ``bin/train_model.py``).

    Each modality has an encoder into a shared 16-dimensional latent space and a decoder out of
    it (:mod:`~dance.multi.modality_prediction.babel_module`): expression ``n -> 64 -> 16`` and a
    negative binomial decoder (mean per size factor and dispersion, the loss on the raw counts
    scaled by each cell's size factor); peaks one ``-> 32 -> 16`` branch per chromosome and a
    per-chromosome Bernoulli decoder (binary cross-entropy on binarised peaks); proteins an
    expression-style encoder and the authors' protein decoder (``bin/train_protein_predictor.py``:
    ``16 -> 64 ->`` proteins, identity output, L1 loss on CLR values). Expression -> proteins
    follows the authors' protein path: the expression autoencoder trains first, then the protein
    decoder on its frozen codes (Adam, minibatches of 512, the learning rate / 10 after 5 stalled
    epochs, early stopping after 15, at most 600 epochs; learning rate 0.01, BABEL's own, because
    the protein script's 1e-4 had not converged after 600 epochs on PBMC 10k's 5,300 training
    cells: RMSE 0.859). Otherwise the loss is the authors'
    quad loss: both reconstructions plus both translations, the non-expression modality's terms
    weighted by ``loss_weight`` (1.33). Adam (lr 0.01), minibatches of 512, gradient norm clipped
    at 5, the learning rate divided by 10 when the validation loss stalls for 10 epochs, early
    stopping after 25 epochs without a better validation loss (best weights kept), at most 500
    epochs (40 when a modality is peaks, to fit 10 minutes on two CPU cores); the validation cells are a seeded 15 % of the training cells (the authors hold out
    Leiden clusters).

    Prediction translates the source modality: expression as ``log1p`` of the decoded mean per
    size factor (the challenge's scale of ``log1p(counts / size factor)``; or, with
    ``expression_prediction="expected_log1p"``, the expected ``log1p`` under the decoded negative
    binomial), peaks as the decoded
    probability, proteins as decoded. Deviations from the authors: all chromosomes are kept
    (they drop sex chromosomes and filter peaks), their expression model behind the protein
    decoder was trained with ATAC (ours on the expression alone: CITE-seq has no peaks),
    proteins -> expression (which the authors do not offer) uses the quad loss, and expression
    inputs are not clipped.
    """

    name = "babel"

    class Params(ModelParams):
        latent: int = Field(16, ge=2, description="shared latent dimensions (authors: 16)")
        loss_weight: float = Field(1.33, gt=0, description="weight of the non-expression modality's loss terms (authors: 1.33)")
        learning_rate: float = Field(0.01, gt=0, description="Adam learning rate (authors: 0.01)")
        batch_size: int = Field(512, ge=2, description="cells per minibatch (authors: 512)")
        epochs: int | None = Field(
            None,
            ge=1,
            description="most epochs; None: the authors' 500, or 40 with peaks (about 13 s an epoch on two CPU cores for "
            "SNARE-seq's 25,734 peaks, so that a run fits in 10 minutes)",
        )
        patience: int = Field(25, ge=1, description="epochs without a better validation loss before stopping (authors: 25)")
        clip_norm: float = Field(5.0, gt=0, description="gradient norm clipping (authors: 5)")
        validation_fraction: float = Field(0.15, gt=0, lt=0.5, description="training cells held out for early stopping")
        protein_decoder: Literal["frozen_encoder", "joint"] = Field(
            "frozen_encoder",
            description="expression -> proteins: the authors' protein decoder trained on the frozen codes of an expression "
            "autoencoder (bin/train_protein_predictor.py), or trained with the rest under the quad loss",
        )
        protein_learning_rate: float = Field(
            0.01,
            gt=0,
            description="Adam learning rate of the frozen-encoder protein decoder (authors: 1e-4, which had not converged after 600 epochs on 5,300 cells)",
        )
        expression_prediction: Literal["log1p_mean", "expected_log1p"] = Field(
            "log1p_mean",
            description="expression on the log1p scale: log1p of the decoded mean (the authors' point prediction), or the expected "
            "log1p under the decoded negative binomial (measured: better on PBMC 10k ADT -> RNA, worse on SNARE-seq ATAC -> RNA)",
        )
        protein_epochs: int = Field(600, ge=1, description="most epochs of the frozen-encoder protein decoder (authors: 600)")
        protein_patience: int = Field(15, ge=1, description="early stopping patience of the frozen-encoder protein decoder (authors: 15)")

    quick_params = {"epochs": 2, "patience": 2, "batch_size": 64}

    def _kinds(self, data: Any) -> tuple[str, str]:
        from dance.multi.modality_kinds import modality_kinds

        return modality_kinds(data)

    def _fit(self, data: Any) -> None:
        import torch

        from dance.multi.modality_kinds import default_epochs
        from dance.multi.modality_prediction.babel_module import BabelModule
        from dance.nn.data import AlignedRows, torch_generator
        from dance.nn.likelihoods import nb_log_likelihood
        from dance.nn.trainer import Batch, EarlyStopping, OptimizerStep, Stage, Trainer

        p = self.params
        device = self.device_
        trainer = Trainer(self.name, seed=self.seed, device=device, generator=torch_generator(self.seed))
        mod1, mod2 = self.training_pairs(data)
        kinds = self._kinds(data)
        self.kinds_ = kinds
        self.sizes_ = (mod1.n_vars, mod2.n_vars)
        orders, chromosomes = [], []
        for adata, kind in zip((mod1, mod2), kinds, strict=True):
            order, sizes = chromosome_order(adata) if kind == "atac" else (np.arange(adata.n_vars), None)
            orders.append(order)
            chromosomes.append(sizes)
        self.orders_ = orders
        matrices: list[Any] = []
        for adata, kind, order in zip((mod1, mod2), kinds, orders, strict=True):
            inputs, target, size_factors = _training_matrices(adata, kind, order, self.keys.counts_layer, self.name)
            matrices += [inputs, target, size_factors.reshape(-1, 1)]
        rows = AlignedRows(*matrices, device=device)
        module = BabelModule(kinds, self.sizes_, tuple(chromosomes), latent=p.latent).to(device)  # type: ignore[arg-type]
        weights = [1.0, 1.0]
        other = [i for i, k in enumerate(kinds) if k != "gex"]
        for i in other or [1]:
            weights[i] = p.loss_weight

        def term(modality: int, z: torch.Tensor, target: torch.Tensor, size_factors: torch.Tensor) -> torch.Tensor:
            out, theta = module.decode(z, modality)
            kind = kinds[modality]
            if kind == "gex":
                return -nb_log_likelihood(target, out * size_factors, theta).mean()
            if kind == "atac":
                return torch.nn.functional.binary_cross_entropy_with_logits(out, target)
            return torch.nn.functional.l1_loss(out, target)

        def loss(batch: Batch) -> dict[str, torch.Tensor]:
            x1, y1, s1, x2, y2, s2 = rows[batch.index]
            z1, z2 = module.encode(x1, 0), module.encode(x2, 1)
            terms = {
                "mod1_from_mod1": term(0, z1, y1, s1),
                "mod2_from_mod2": term(1, z2, y2, s2),
                "mod1_from_mod2": term(0, z2, y1, s1),
                "mod2_from_mod1": term(1, z1, y2, s2),
            }
            total = weights[0] * (terms["mod1_from_mod1"] + terms["mod1_from_mod2"]) + weights[1] * (
                terms["mod2_from_mod2"] + terms["mod2_from_mod1"]
            )
            return {"loss": total, **terms}

        def expression_loss(batch: Batch) -> dict[str, torch.Tensor]:
            x1, y1, s1 = rows[batch.index][:3]
            return {"loss": term(0, module.encode(x1, 0), y1, s1)}

        def plain_stage(
            name: str, parameters: Any, loss_fn: Any, n: int, lr: float, epochs: int, patience: int, plateau_patience: int
        ) -> Any:
            """A stage with the authors' optimiser, clipping, plateau schedule and early stopping."""
            optimizer = torch.optim.Adam(parameters, lr=lr)
            plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode="min", factor=0.1, patience=plateau_patience, min_lr=1e-6)
            stage = Stage(
                name,
                epochs=epochs,
                n=n,
                batch_size=p.batch_size,
                min_batch_size=2,
                steps=[OptimizerStep(optimizer, loss_fn, clip_norm=p.clip_norm)],
                early_stopping=EarlyStopping(fraction=p.validation_fraction, monitor="loss", patience=patience, restore_best=True),
            )

            def reduce_on_plateau(epoch: int, terms: dict[str, float]) -> bool:
                plateau.step(terms["val_loss"])
                return False

            return stage, reduce_on_plateau

        epochs = default_epochs(p.epochs, kinds, usual=500, with_peaks=PEAK_EPOCHS)
        notes: dict[str, Any] = {"babel_modalities": "/".join(kinds), "babel_max_epochs": epochs}
        if kinds == ("gex", "adt") and p.protein_decoder == "frozen_encoder":
            # the authors' protein path (bin/train_protein_predictor.py): an expression model first,
            # then the protein decoder on its frozen 16-dimensional codes, L1 on CLR values
            parameters = [*module.encoders[0].parameters(), *module.decoders[0].parameters()]
            stage, hook = plain_stage("expression", parameters, expression_loss, rows.n, p.learning_rate, epochs, p.patience, 10)
            first = trainer.fit(stage, module=module, on_epoch_end=hook)
            module.eval()
            from dance.nn.data import predict_in_batches

            with torch.no_grad():
                codes = predict_in_batches(lambda index: module.encode(rows[index][0], 0), rows.n)
            coded = AlignedRows(codes, matrices[4], device=device)

            def protein_loss(batch: Batch) -> dict[str, torch.Tensor]:
                z, target = coded[batch.index]
                return {"loss": torch.nn.functional.l1_loss(module.decode(z, 1)[0], target)}

            stage, hook = plain_stage(
                "protein",
                module.decoders[1].parameters(),
                protein_loss,
                coded.n,
                p.protein_learning_rate,
                p.protein_epochs,
                p.protein_patience,
                5,
            )
            second = trainer.fit(stage, module=module.decoders[1], on_epoch_end=hook)
            notes.update(
                babel_protein_decoder="frozen_encoder",
                babel_epochs=f"{first.epochs} expression + {second.epochs} protein",
                babel_best_epoch=f"{first.best_epoch} / {second.best_epoch}",
            )
        else:
            stage, hook = plain_stage("train", module.parameters(), loss, rows.n, p.learning_rate, epochs, p.patience, 10)
            result = trainer.fit(stage, module=module, on_epoch_end=hook)
            notes.update(babel_epochs=result.epochs, babel_best_epoch=result.best_epoch)
        module.eval()
        self.module_ = module
        self.training_history_ = trainer.history
        self.notes_ = notes

    def _predict(self, data: Any) -> Any:
        import torch

        from dance.nn.data import RowMatrix
        from dance.nn.likelihoods import expected_log1p_nb

        kinds = self._kinds(data)
        if kinds != tuple(self.kinds_):
            raise DanceInputError(
                f"babel was fitted to translate {self.kinds_[0]} into {self.kinds_[1]}; the input is {kinds[0]} -> {kinds[1]}", field="mod1"
            )
        x = data.mod1.X
        if kinds[0] == "atac":
            x = (sp.csr_matrix(x, dtype=np.float32) > 0).astype(np.float32)
        elif kinds[0] == "gex":
            from dance.multi.modality_prediction.scmm import scmm_counts
            from dance.multi.scales import log_normalise

            x = log_normalise(scmm_counts(data.mod1, "gex", self.keys.counts_layer, self.name))[0]
        x = x[:, self.orders_[0]]
        source = RowMatrix(x, self.device_)
        inverse = np.argsort(self.orders_[1])
        outputs = []
        with torch.no_grad():
            for start in range(0, source.n, 2048):
                z = self.module_.encode(source[slice(start, min(start + 2048, source.n))], 0)
                out, theta = self.module_.decode(z, 1)
                if kinds[1] == "gex":
                    out = torch.log1p(out) if self.params.expression_prediction == "log1p_mean" else expected_log1p_nb(out, theta)
                elif kinds[1] == "atac":
                    out = torch.sigmoid(out)
                outputs.append(out.cpu().numpy())
        return np.vstack(outputs)[:, inverse].astype(np.float32)


def _training_matrices(adata: Any, kind: str, order: np.ndarray, counts_layer: str, model: str) -> tuple[Any, Any, np.ndarray]:
    """``(encoder input, loss target, size factors)`` of one modality's training cells."""
    x = adata.X
    size_factors = np.ones(adata.n_obs, dtype=np.float32)
    if kind == "atac":
        binary = (sp.csr_matrix(x, dtype=np.float32) > 0).astype(np.float32)[:, order]
        return binary, binary, size_factors
    if kind == "gex":
        from dance.multi.modality_prediction.scmm import scmm_counts
        from dance.multi.scales import log_normalise

        counts = scmm_counts(adata, kind, counts_layer, model)  # the counts layer, or X when it holds counts
        inputs, size_factors = log_normalise(counts)  # the encoder reads log1p(counts / size factor)
        return inputs, counts, size_factors
    return x, x, size_factors
