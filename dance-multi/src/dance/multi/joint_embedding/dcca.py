"""DCCA: deep cross-omics cycle attention (two VAEs whose latent spaces teach each other)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import scipy.sparse as sp
from pydantic import Field

from dance.core.models.base import ModelParams
from dance.core.tasks.joint_embedding import JointEmbeddingModel

if TYPE_CHECKING:
    from dance.core.containers import Modalities
    from dance.core.keys import DataKeys

__all__ = ["DCCA", "DCCAParams", "dcca_counts"]

Kind = Literal["gex", "adt", "atac"]


class DCCAParams(ModelParams):
    """DCCA's parameters; defaults are the authors' (``Main_SNARE_seq.py``, ``DCCA/utilities.py``)
    unless the description says otherwise."""

    latent: int = Field(
        10,
        ge=2,
        description="latent dimensions of each modality; the embedding has twice as many (authors: 4-20 by data set, 10 for 10x Multiome)",
    )
    rna_encoder: tuple[int, ...] = Field((128,), description="expression encoder hidden widths (authors: 128)")
    rna_decoder: tuple[int, ...] = Field((128,), description="expression decoder hidden widths (authors: 128)")
    atac_encoder: tuple[int, ...] = Field((1500, 128), description="peak encoder hidden widths (authors: 1500, 128)")
    atac_decoder: tuple[int, ...] = Field((), description="peak decoder hidden widths (authors: none, linear)")
    adt_encoder: tuple[int, ...] = Field(
        (128,), description="protein encoder hidden widths (the expression VAE's; the authors have no protein example)"
    )
    adt_decoder: tuple[int, ...] = Field((128,), description="protein decoder hidden widths (the expression VAE's)")
    dropout: float = Field(0.1, ge=0, lt=1, description="dropout after every hidden layer (authors: 0.1)")
    n_top_genes: int = Field(3000, ge=10, description="highly variable genes kept, Seurat's vst (authors: 3,000 in Processing_data.R)")
    n_top_peaks: int = Field(
        3000,
        ge=10,
        description="most often accessible peaks kept (DANCE's port: 3,000 features per modality; the authors: peaks near the variable genes)",
    )
    cycles: int = Field(
        1,
        ge=1,
        description="attention rounds after the expression VAE's start (authors: 1 for SNARE-seq, as DANCE; 3 for 10x Multiome and SHARE-seq)",
    )
    attention_to_other: float = Field(
        5.0, ge=0, description="weight of the expression latent's signal to the other modality (authors' sf1: 5)"
    )
    attention_to_rna: float = Field(
        1.0, ge=0, description="weight of the other modality's signal to the expression latent (authors' sf2: 1)"
    )
    lr_rna: float = Field(0.01, gt=0, description="Adam learning rate of the expression VAE (authors' lr1: 0.01)")
    final_lr_rna: float = Field(0.001, gt=0, description="floor of its decay (authors' flr1: 0.001)")
    lr_other: float = Field(0.005, gt=0, description="Adam learning rate of the other VAE (authors' lr2: 0.005)")
    final_lr_other: float = Field(0.0005, gt=0, description="floor of its decay (authors' flr2: 0.0005)")
    lr_decay: float = Field(0.9, gt=0, le=1, description="learning-rate factor every lr_decay_epochs epochs (authors: 0.9)")
    lr_decay_epochs: int = Field(10, ge=1, description="epochs between learning-rate decays (authors: 10)")
    weight_decay: float = Field(1e-6, ge=0, description="Adam weight decay (authors: 1e-6)")
    adam_eps: float = Field(0.01, gt=0, description="Adam epsilon (authors: 0.01)")
    batch_size: int = Field(64, ge=2, description="cells per minibatch (authors: 64)")
    epochs: int = Field(60, ge=1, description="most epochs of each training stage (authors: 500, with early stopping)")
    kl_warmup: int = Field(10, ge=0, description="epochs of linear KL warm-up in each stage (authors: 10)")
    patience: int = Field(30, ge=1, description="epochs without a better validation loss before a stage stops (authors: 30)")
    tolerance: float = Field(
        1e-4,
        ge=0,
        description="a stage also stops when its validation loss changed by less than this fraction in 10 epochs (authors: 1e-4)",
    )
    validation_fraction: float = Field(0.1, gt=0, lt=0.5, description="cells held out for early stopping (authors: 0.1)")


def dcca_counts(adata: Any, kind: Kind, role: str, keys: DataKeys) -> sp.csr_matrix:
    """The values DCCA models for one modality, float32 CSR: raw counts (``layers[counts_layer]``,
    else X when it holds counts) for expression and proteins, binarised for peaks.

    Raises
    ------
    DanceInputError
        Naming the field when the counts are missing, negative, non-integer or not finite.
    """
    from dance.core import validation as v

    counts = sp.csr_matrix(v.counts_matrix(adata, keys, role), dtype=np.float32)
    if kind == "atac":
        counts = (counts > 0).astype(np.float32)  # the authors' binary scATAC-seq input
    counts.eliminate_zeros()
    return counts


def training_schedule(anchor: int, cycles: int) -> list[tuple[int, bool]]:
    """The authors' ``fit_model`` order as ``(modality trained, with the other as teacher)``: the
    expression VAE alone; the other VAE alone, then taught by expression; then in turn expression
    taught by the other and the other taught by expression, up to round ``cycles``."""
    other = 1 - anchor
    schedule = [(anchor, False), (other, False), (other, True)]
    for round_ in range(2, cycles + 1):
        schedule.append((anchor if round_ % 2 == 0 else other, True))
    return schedule


class DCCA(JointEmbeddingModel):
    """DCCA (Zuo, Dai & Chen 2021, "Deep cross-omics cycle attention model for joint analysis of
    single-cell multi-omics data", Bioinformatics 37:4091-4099), as the authors' code builds it
    (``cmzuo11/DCCA``): one VAE per modality (:mod:`~dance.multi.joint_embedding.dcca_module`) --
    expression with a negative binomial decoder on counts (mean = library size x softmax), peaks
    with a linear Bernoulli decoder on binarised accessibility -- trained one at a time and tied
    by the *cycle attention* loss: the squared distance between the student's latent sample and
    the frozen teacher's latent mean for the same cell. Order (the authors' ``fit_model``): the
    expression VAE alone, the other VAE alone and then taught by expression (weight 5), then in
    turn expression taught by the other (weight 1) and the other taught by expression, for
    ``cycles`` rounds. Each stage: a fresh Adam (weight decay 1e-6, eps 0.01) at 0.01 (expression)
    or 0.005 (other) x 0.9 every 10 epochs down to a tenth, KL warm-up over 10 epochs, minibatches
    of 64, early stopping on a held-out 10 % of the cells (patience 30 epochs, or a relative change
    below 1e-4 in 10 epochs).

    Proteins (CITE-seq) get a negative binomial VAE on their counts like expression's: the
    authors' code offers NB, ZINB, Bernoulli and Gaussian decoders; antibody counts are neither
    binary nor zero-inflated, so NB is the sensible one. Features: Seurat-vst highly variable
    genes (:func:`~dance.multi.features.most_variable_counts`) and the most often accessible peaks; proteins all. The embedding is the two latent
    means side by side (the authors write each modality's latent separately). Every modality
    needs raw counts (``layers['counts']``, or X holding counts; peaks may be binary).
    """

    name = "dcca"
    Params = DCCAParams
    needs_counts = True
    # validation holds out 10 % and batch norm needs two cells per minibatch
    min_cells = 10
    quick_params = {
        "epochs": 2,
        "patience": 2,
        "kl_warmup": 1,
        "batch_size": 32,
        "cycles": 1,
        "latent": 4,
        "atac_encoder": (32, 16),
        "rna_encoder": (16,),
        "rna_decoder": (16,),
        "adt_encoder": (16,),
        "adt_decoder": (16,),
    }

    def _counts(self, data: Modalities) -> list[sp.csr_matrix]:
        """Each modality's modelled values on the features selected at fit, found by name (the
        base class has checked that the new cells were measured on them)."""
        matrices = []
        for adata, role, kind, names in zip((data.mod1, data.mod2), ("mod1", "mod2"), self.kinds_, self.features_, strict=True):
            position = {str(n): i for i, n in enumerate(adata.var_names)}
            matrices.append(dcca_counts(adata, kind, role, self.keys)[:, [position[n] for n in names]])
        return matrices

    def _vae(self, kind: Kind, n_features: int) -> Any:
        from dance.multi.joint_embedding.dcca_module import ModalityVAE

        p = self.params
        encoder, decoder = {
            "gex": (p.rna_encoder, p.rna_decoder),
            "adt": (p.adt_encoder, p.adt_decoder),
            "atac": (p.atac_encoder, p.atac_decoder),
        }[kind]
        likelihood = "bernoulli" if kind == "atac" else "nb"
        return ModalityVAE(n_features, p.latent, encoder_hidden=encoder, decoder_hidden=decoder, likelihood=likelihood, dropout=p.dropout)

    def _fit(self, data: Modalities) -> None:
        import torch

        from dance.multi.features import most_variable_counts, top_accessible_peaks
        from dance.multi.joint_embedding.dcca_module import DCCAModule
        from dance.multi.modality_kinds import modality_kinds
        from dance.nn.data import AlignedRows, torch_generator
        from dance.nn.trainer import Batch, EarlyStopping, OptimizerStep, Stage, Trainer

        p = self.params
        device = self.device_
        self.kinds_: tuple[Kind, Kind] = modality_kinds(data)
        full = [dcca_counts(a, k, r, self.keys) for a, k, r in zip((data.mod1, data.mod2), self.kinds_, ("mod1", "mod2"), strict=True)]
        features = []
        for counts, kind, role in zip(full, self.kinds_, ("mod1", "mod2"), strict=True):
            if kind == "gex":
                features.append(most_variable_counts(counts, p.n_top_genes, role=role))
            elif kind == "atac":
                features.append(top_accessible_peaks(counts, p.n_top_peaks))
            else:
                features.append(np.arange(counts.shape[1]))  # a protein panel is already a selection
        self.features_ = [[str(n) for n in a.var_names[keep]] for a, keep in zip((data.mod1, data.mod2), features, strict=True)]
        rows = AlignedRows(*(c[:, keep] for c, keep in zip(full, features, strict=True)), device=device)
        del full
        trainer = Trainer(self.name, seed=self.seed, device=device, generator=torch_generator(self.seed))
        module = DCCAModule(*(self._vae(k, len(f)) for k, f in zip(self.kinds_, features, strict=True))).to(device)
        # expression leads (the authors' first="RNA"); without expression, mod1 does
        anchor = self.kinds_.index("gex") if "gex" in self.kinds_ else 0
        stages: dict[str, Any] = {}
        for index, (student_index, taught) in enumerate(training_schedule(anchor, p.cycles)):
            teacher_index = 1 - student_index
            student, teacher = module.vaes[student_index], module.vaes[teacher_index]
            teacher.eval()  # the teacher's code is its posterior mean, without dropout
            is_anchor = student_index == anchor
            lr, final_lr = (p.lr_rna, p.final_lr_rna) if is_anchor else (p.lr_other, p.final_lr_other)
            weight = (p.attention_to_rna if is_anchor else p.attention_to_other) if taught else 0.0
            # fused: one kernel for the whole update; the unfused update of the peak encoder's
            # first layer (peaks x 1,500 weights) costs more than its forward and backward pass on a CPU
            optimizer = torch.optim.Adam(student.parameters(), lr=lr, weight_decay=p.weight_decay, eps=p.adam_eps, fused=True)
            floor = min(1.0, final_lr / lr)
            # the authors' adjust_learning_rate: lr * 0.9 ** (epoch // 10) with epochs counted from 1
            scheduler = torch.optim.lr_scheduler.LambdaLR(
                optimizer, lambda e, floor=floor: max(p.lr_decay ** ((e + 1) // p.lr_decay_epochs), floor)
            )

            def loss(
                batch: Batch, s: int = student_index, t: int = teacher_index, w: float = weight, taught: bool = taught
            ) -> dict[str, torch.Tensor]:
                own = rows.parts[s][batch.index]
                teacher_z = module.latent_mean(rows.parts[t][batch.index], t) if taught else None
                return module.vaes[s].loss_terms(own, kl_weight=batch.kl_weight, teacher_z=teacher_z, attention_weight=w)

            checks: list[float] = []

            def converged(epoch: int, terms: dict[str, float], checks: list[float] = checks) -> bool:
                # the authors compare the held-out loss every 10 epochs and stop below a relative change of 1e-4
                if (epoch + 1) % 10:
                    return False
                checks.append(terms["val_loss"])
                return len(checks) >= 2 and abs(checks[-1] - checks[-2]) <= p.tolerance * abs(checks[-2])

            name = f"{index}_{self.kinds_[student_index]}" + ("_taught" if taught else "")
            stage = Stage(
                name,
                epochs=p.epochs,
                n=rows.n,
                batch_size=p.batch_size,
                min_batch_size=2,
                kl_warmup_epochs=p.kl_warmup or None,
                steps=[OptimizerStep(optimizer, loss)],
                early_stopping=EarlyStopping(fraction=p.validation_fraction, monitor="loss", patience=p.patience, restore_best=True),
                epoch_schedulers=[scheduler],
            )
            result = trainer.fit(stage, module=student, on_epoch_end=converged)
            stages[name] = result.epochs
        module.eval()
        self.module_ = module
        self.training_history_ = trainer.history
        self.notes_ = {
            f"{self.name}_modalities": "/".join(self.kinds_),
            f"{self.name}_features": [len(f) for f in features],
            f"{self.name}_stage_epochs": stages,
        }

    def _predict(self, data: Modalities) -> Any:
        from dance.nn.data import AlignedRows, predict_in_batches

        rows = AlignedRows(*self._counts(data), device=self.device_)
        embedding = predict_in_batches(lambda index: self.module_.embed(*rows[index]), rows.n, batch_size=1024)
        return embedding.cpu().numpy().astype(np.float32)

    # ------------------------------------------------------------------ saving
    def _fitted_state(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """The modalities' kinds, the features each VAE reads and both VAEs' weights."""
        from dance.nn.persistence import module_arrays

        values = {"kinds": list(self.kinds_), "features": [list(f) for f in self.features_]}
        return values, module_arrays(self.module_, "dcca")

    def _restore_state(self, values: dict[str, Any], arrays: dict[str, Any]) -> None:
        from dance.multi.joint_embedding.dcca_module import DCCAModule
        from dance.nn.persistence import load_module_arrays

        self.kinds_ = tuple(values["kinds"])  # type: ignore[assignment]
        self.features_ = [[str(n) for n in f] for f in values["features"]]
        module = DCCAModule(*(self._vae(k, len(f)) for k, f in zip(self.kinds_, self.features_, strict=True)))
        self.module_ = load_module_arrays(module, arrays, "dcca").to(self.device_).eval()
