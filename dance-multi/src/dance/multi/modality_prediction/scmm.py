"""scMM: a mixture-of-experts multimodal VAE, predicting one modality from the other."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import scipy.sparse as sp
from pydantic import Field

from dance.core.errors import DanceInputError
from dance.core.models.base import ModelParams
from dance.core.tasks.modality_prediction import ModalityPredictionModel


class ScMMParams(ModelParams):
    """scMM's parameters; defaults are the authors' (``src/main.py``)."""

    latent: int = Field(10, ge=2, description="latent dimensions (authors: 10)")
    hidden_expression: int = Field(100, ge=2, description="hidden units of the expression VAE (authors: 100)")
    hidden_other: int = Field(20, ge=2, description="hidden units of the protein / peak VAE (authors: 20)")
    n_layers: int = Field(1, ge=1, description="hidden layers of every encoder and decoder (authors: 1)")
    learn_prior: bool = Field(False, description="learn the prior's scale (authors: off)")
    learning_rate: float = Field(1e-4, gt=0, description="Adam (amsgrad) learning rate (authors: 1e-4)")
    batch_size: int = Field(64, ge=2, description="cells per minibatch (authors: 64)")
    epochs: int | None = Field(
        None,
        ge=1,
        description="most epochs; None: DANCE's example's 100, or the authors' default 10 when a modality is peaks "
        "(SNARE-seq RNA -> 25,734 peaks: about 40 s an epoch on two CPU cores)",
    )
    kl_warmup: int = Field(50, ge=0, description="epochs of linear KL warm-up (authors: 50)")
    patience: int = Field(10, ge=1, description="epochs without a better validation loss before stopping (authors: 10)")
    validation_fraction: float = Field(0.1, gt=0, lt=0.5, description="training cells held out for early stopping")
    expression_prediction: Literal["log1p_mean", "expected_log1p"] = Field(
        "log1p_mean",
        description="expression on the log1p scale: log1p of the decoded mean, or the expected log1p under the decoded negative "
        "binomial (measured worse on PBMC 10k ADT -> RNA: 0.397 against 0.379)",
    )
    peak_min_percentile: float = Field(
        0.75,
        ge=0,
        lt=1,
        description="peaks read by an encoder (not predicted): those whose total counts reach this percentile "
        "(authors: Signac FindTopFeatures(min.cutoff='q75')); 0 keeps every peak",
    )


def scmm_counts(adata: Any, kind: str, counts_layer: str, model: str) -> sp.csr_matrix:
    """The counts scMM models: ``layers[counts_layer]``; peaks without it, their binarised X."""
    x_values = adata.X.data if sp.issparse(adata.X) else np.asarray(adata.X).ravel()
    x_values = x_values[:100_000]
    if counts_layer in adata.layers:
        counts = sp.csr_matrix(adata.layers[counts_layer], dtype=np.float32)
    elif x_values.size and x_values.min() >= 0 and np.allclose(x_values, np.round(x_values)):
        counts = sp.csr_matrix(adata.X, dtype=np.float32)  # X itself holds counts
    elif kind == "atac":
        counts = (sp.csr_matrix(adata.X, dtype=np.float32) > 0).astype(np.float32)
    else:
        raise DanceInputError(
            f"{model} models {kind} with a negative binomial on counts: the modality needs layers['{counts_layer}'] with raw counts "
            "(its X holds normalised values)",
            field=f"layers['{counts_layer}']",
        )
    values = counts.data[:100_000]
    if values.size and (values.min() < 0 or not np.allclose(values, np.round(values))):
        raise DanceInputError(
            f"{model}: layers['{counts_layer}'] of the {kind} modality must hold raw counts (non-negative integers)",
            field=f"layers['{counts_layer}']",
        )
    return counts


def encoder_peaks(model: Any, adata: Any, kind: str) -> list[str] | None:
    """The names of the peaks scMM reads from a modality it does not have to predict: the
    authors' Signac filter (``FindTopFeatures(min.cutoff = "q75")``) on the training cells'
    counts; None (every feature) for expression and proteins."""
    from dance.multi.features import peaks_above_percentile

    if kind != "atac" or model.params.peak_min_percentile <= 0:
        return None
    keep = peaks_above_percentile(scmm_counts(adata, kind, model.keys.counts_layer, model.name), model.params.peak_min_percentile)
    return [str(name) for name in adata.var_names[keep]]


def fit_scmm(model: Any, mod1: Any, mod2: Any, kinds: tuple[str, str]) -> Any:
    """Train scMM's module on the paired cells ``mod1`` / ``mod2`` with dance's trainer; returns
    the module (evaluation mode) and sets ``model.training_history_`` / ``model.notes_``."""
    import torch

    from dance.multi.modality_kinds import default_epochs
    from dance.multi.modality_prediction.scmm_module import ScMMModule
    from dance.nn.data import AlignedRows, torch_generator
    from dance.nn.trainer import Batch, EarlyStopping, OptimizerStep, Stage, Trainer

    p = model.params
    device = model.device_
    trainer = Trainer(model.name, seed=model.seed, device=device, generator=torch_generator(model.seed))
    counts = [scmm_counts(a, k, model.keys.counts_layer, model.name) for a, k in zip((mod1, mod2), kinds, strict=True)]
    rows = AlignedRows(*counts, device=device)
    hidden = tuple(p.hidden_expression if k == "gex" else p.hidden_other for k in kinds)
    module = ScMMModule(
        kinds,  # type: ignore[arg-type]
        (mod1.n_vars, mod2.n_vars),
        latent=p.latent,
        hidden=hidden,  # type: ignore[arg-type]
        n_layers=p.n_layers,
        learn_prior=p.learn_prior,
    ).to(device)

    def loss(batch: Batch) -> dict[str, torch.Tensor]:
        x1, x2 = rows[batch.index]
        return module.elbo_terms((x1, x2), beta=batch.kl_weight)

    optimizer = torch.optim.Adam([q for q in module.parameters() if q.requires_grad], lr=p.learning_rate, amsgrad=True)
    epochs = default_epochs(p.epochs, kinds, usual=100, with_peaks=10)
    stage = Stage(
        "train",
        epochs=epochs,
        n=rows.n,
        batch_size=p.batch_size,
        min_batch_size=2,
        kl_warmup_epochs=p.kl_warmup or None,
        steps=[OptimizerStep(optimizer, loss)],
        early_stopping=EarlyStopping(fraction=p.validation_fraction, monitor="loss", patience=p.patience, restore_best=True),
        average="summed",
    )
    result = trainer.fit(stage, module=module)
    module.eval()
    model.training_history_ = trainer.history
    model.notes_ = {
        f"{model.name}_epochs": result.epochs,
        f"{model.name}_best_epoch": result.best_epoch,
        f"{model.name}_modalities": "/".join(kinds),
        f"{model.name}_max_epochs": epochs,
    }
    return module


class ScMM(ModalityPredictionModel):
    """scMM (Minoura et al. 2021, Cell Rep Methods 1:100071) as the authors' code builds it: a
    mixture-of-experts multimodal VAE (:mod:`~dance.multi.modality_prediction.scmm_module`) with
    Laplace prior and posteriors, negative binomial likelihoods for expression and proteins and a
    zero-inflated negative binomial for peaks, all on counts (encoders see counts per 10,000
    reads), trained on the authors' ``m_elbo_naive_warmup`` objective (both modalities decoded
    from each encoder's sample, KL warm-up over 50 epochs) with Adam (amsgrad, lr 1e-4) in
    minibatches of 64 and early stopping (patience 10) on a seeded 10 % of the training cells,
    at most DANCE's 100 epochs, or the authors' default 10 when a modality is peaks (as the
    authors' command, the warm-up is then a fifth done; 100 epochs of SNARE-seq's peaks take over
    an hour on two CPU cores). Peaks that are read but not predicted are the authors' selection, those whose total counts
    reach the 75th percentile (Signac ``FindTopFeatures(min.cutoff = "q75")``).

    Prediction uses the mean, not a sample (DANCE's port scores one random draw): the source
    modality's posterior mean is decoded into the target's distribution, whose mean is put on
    the challenge's scale for the training cells' mean library size -- expression
    ``log1p(mean counts / size factor)`` (or the expected ``log1p`` under the negative binomial
    with ``expression_prediction="expected_log1p"``), proteins the CLR of the mean counts, peaks the
    probability of at least one read. Every modality needs counts (``layers['counts']``; peaks
    may be binary).
    """

    name = "scmm"
    Params = ScMMParams
    needs_counts = True
    quick_params = {"epochs": 2, "patience": 2, "kl_warmup": 1, "batch_size": 32}

    def _fit(self, data: Any) -> None:
        from dance.multi.modality_kinds import modality_kinds

        mod1, mod2 = self.training_pairs(data)
        self.kinds_ = modality_kinds(data)
        self.source_features_ = encoder_peaks(self, mod1, self.kinds_[0])
        if self.source_features_ is not None:
            mod1 = mod1[:, self.source_features_]
        target_counts = scmm_counts(mod2, self.kinds_[1], self.keys.counts_layer, self.name)
        totals = np.asarray(target_counts.sum(axis=1)).ravel()
        self.target_library_ = float(totals[totals > 0].mean()) if (totals > 0).any() else 1.0
        self.module_ = fit_scmm(self, mod1, mod2, self.kinds_)

    def _predict(self, data: Any) -> Any:
        import torch

        from dance.multi.modality_prediction.scmm_module import SCALE_FACTOR
        from dance.multi.scales import clr_seurat
        from dance.nn.data import RowMatrix
        from dance.nn.likelihoods import expected_log1p_nb

        mod1 = data.mod1 if self.source_features_ is None else data.mod1[:, self.source_features_]
        source = RowMatrix(scmm_counts(mod1, self.kinds_[0], self.keys.counts_layer, self.name), self.device_)
        target_vae = self.module_.vaes[1]
        outputs = []
        with torch.no_grad():
            for start in range(0, source.n, 2048):
                z = self.module_.latent_mean(source[slice(start, min(start + 2048, source.n))], 0)
                r, p, gate = target_vae.decode(z)
                total = r / SCALE_FACTOR * self.target_library_
                if self.kinds_[1] == "atac":
                    no_read = (1 - p) ** total
                    value = (1 - gate) * (1 - no_read) if gate is not None else 1 - no_read
                elif self.kinds_[1] == "gex" and self.params.expression_prediction == "expected_log1p":
                    value = expected_log1p_nb(total * p / (1 - p), total)  # size factor 1 at the mean library size
                else:
                    value = total * p / (1 - p)  # negative binomial mean for a library of the mean size
                outputs.append(value.cpu().numpy())
        prediction = np.vstack(outputs).astype(np.float64)
        if self.kinds_[1] == "gex":
            expected = self.params.expression_prediction == "expected_log1p"
            return (prediction if expected else np.log1p(prediction)).astype(np.float32)  # size factor 1 at the mean library size
        if self.kinds_[1] == "adt":
            return clr_seurat(prediction)
        return prediction.astype(np.float32)
