"""DeepImpute: imputation by many small networks, each predicting a subset of genes from correlated genes."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import scipy.sparse as sp
from pydantic import Field

from dance.core.errors import DanceInputError
from dance.core.models.base import ModelParams
from dance.core.tasks.imputation import ImputationModel
from dance.core.transforms.pipeline import step

if TYPE_CHECKING:
    import torch
    from anndata import AnnData

__all__ = ["DeepImpute", "select_predictors", "select_targets"]


# ---------------------------------------------------------------------- gene selection (NumPy only)
def _gene_moments(counts: Any) -> tuple[np.ndarray, np.ndarray]:
    """Per-gene mean and variance (ddof 1, as pandas) of a cells x genes matrix, in float64."""
    n = counts.shape[0]
    if sp.issparse(counts):
        x = counts.tocsc().astype(np.float64)
        mean = np.asarray(x.mean(axis=0)).ravel()
        square = np.asarray(x.multiply(x).mean(axis=0)).ravel()
    else:
        x = np.asarray(counts, dtype=np.float64)
        mean = x.mean(axis=0)
        square = (x * x).mean(axis=0)
    var = np.clip(square - mean**2, 0.0, None) * (n / max(n - 1, 1))
    return mean, var


def select_targets(counts: Any, *, subset_size: int, min_vmr: float, n_genes: int | None, rng: np.random.Generator) -> np.ndarray:
    """DeepImpute's target genes, split into subsets: ``(n_subsets, subset_size)`` column indices.

    Genes are ranked by ``var / (1 + mean)`` (genes where it is 0 are never imputed); the number
    to impute is ``n_genes`` or, when None, the genes above ``min_vmr``. As the authors' code
    does, that number is rounded up to whole subsets by taking the next genes of the ranking;
    only when fewer genes vary than the subsets hold are genes reused (drawn at random among the
    chosen ones; their predictions are averaged). The genes are then split into subsets at random.
    """
    mean, var = _gene_moments(counts)
    metric = var / (1.0 + mean)
    order = np.argsort(-metric, kind="stable")
    ranked = order[metric[order] > 0]
    if ranked.size == 0:
        raise DanceInputError("no gene varies across the cells: DeepImpute has nothing to learn from", field="X")
    wanted = int((metric > min_vmr).sum()) if n_genes is None else int(n_genes)
    n_subsets = max(1, math.ceil(min(wanted, metric.size) / subset_size))
    chosen = ranked[: n_subsets * subset_size]
    short = n_subsets * subset_size - chosen.size
    if short:
        chosen = np.concatenate([chosen, rng.choice(chosen, short, replace=short > chosen.size)])
    return rng.permutation(chosen).reshape(n_subsets, subset_size)


class _AbsCorrelation:
    """|Pearson r| between genes of a cells x genes count matrix, a block of rows at a time.

    The columns are the ``candidates``; :meth:`rows` gives ``(len(rows) x n_candidates)`` float32
    for candidate positions ``rows``. Sparse counts use the sparse Gram product
    ``X_rows^T X`` (cost: the squared non-zeros per cell), centred and scaled in float64;
    dense counts, standardised float32 columns and one BLAS product per block. No genes x genes
    matrix is ever held.
    """

    def __init__(self, counts: Any, candidates: np.ndarray, *, dense: bool | None = None) -> None:
        self.n = counts.shape[0]
        x = counts[:, candidates]
        if dense is None:
            nnz = x.nnz if sp.issparse(x) else np.count_nonzero(x)
            dense = nnz > 0.25 * x.shape[0] * x.shape[1]
        self.mean, var = _gene_moments(x)
        self.sd = np.sqrt(var * (self.n - 1) / self.n)  # population sd, so r = cov / (sd sd)
        self.dense = bool(dense)
        if self.dense:
            z = np.empty(x.shape, dtype=np.float32)
            for start in range(0, x.shape[1], 2048):
                block = x[:, start : start + 2048]
                block = block.toarray() if sp.issparse(block) else np.asarray(block)
                stop = start + block.shape[1]
                z[:, start:stop] = (block - self.mean[start:stop]) / (self.sd[start:stop] * np.sqrt(self.n))
            self.z = z
        else:
            self.x = sp.csc_matrix(x, dtype=np.float64)

    def rows(self, positions: np.ndarray) -> np.ndarray:
        if self.dense:
            return np.abs(self.z[:, positions].T @ self.z)
        gram = (self.x[:, positions].T @ self.x).toarray() / self.n
        cov = gram - self.mean[positions, None] * self.mean[None, :]
        return np.abs(cov / (self.sd[positions, None] * self.sd[None, :])).astype(np.float32)


def select_predictors(counts: Any, subsets: np.ndarray, *, n_top: int, dense: bool | None = None) -> list[np.ndarray]:
    """Each subset's predictor genes (sorted column indices): the union over its targets of the
    ``n_top`` genes of largest |Pearson r| with the target, among the genes that vary (VMR > 0)
    and are not in the subset. Correlations are of the counts as given (the authors: raw counts)."""
    mean, var = _gene_moments(counts)
    candidates = np.flatnonzero((var > 0) & (mean > 0))
    position = np.full(counts.shape[1], -1, dtype=np.int64)
    position[candidates] = np.arange(candidates.size)
    correlation = _AbsCorrelation(counts, candidates, dense=dense)
    predictors = []
    for s, subset in enumerate(subsets):
        own = np.unique(position[np.unique(subset)])
        own = own[own >= 0]
        allowed = candidates.size - own.size
        if allowed <= 0:
            raise DanceInputError(
                f"DeepImpute's subnet {s} predicts every gene that varies ({own.size}), so no gene is left to predict it from; "
                f"use a smaller subset_size (now {subsets.shape[1]}) for data with this few genes",
                field="params",
            )
        block = correlation.rows(own)
        block[:, own] = -1.0  # never a predictor of its own subset
        k = min(n_top, allowed)
        top = np.argpartition(-block, k - 1, axis=1)[:, :k]
        predictors.append(candidates[np.unique(top)])
    return predictors


# ---------------------------------------------------------------------- the model
class DeepImpute(ImputationModel):
    """DeepImpute (Arisdakessian, Poirion, Yunits, Zhu & Garmire 2019, Genome Biology 20:211).

    Follows the authors' ``deepimpute/multinet.py``. The genes to impute are those with
    ``var / (1 + mean)`` above ``min_vmr`` (or the top ``n_genes`` by it), rounded up to whole
    subsets of ``subset_size`` genes with the next genes of that ranking, and split into subsets
    at random. Each subset gets its own network: its predictors -- for each of its genes the
    ``n_top`` genes of largest |Pearson r| (on the counts) among the genes that vary, outside the
    subset -- through Dense(``hidden``, ReLU), Dropout(``dropout``), Dense(subset, softplus). All
    subnets are trained together (here one batched module) on ``log1p`` of the raw counts (no
    library-size normalisation) with the weighted MSE ``mean(y * (y - y_hat)**2)`` (summed over
    subnets), Adam (lr 1e-4), minibatches of 64, and early stopping (patience 5) on the loss of 5 %
    of the cells held out. The prediction is ``expm1`` of the networks' output; with the default
    policy ``restore`` (the authors' default) observed non-zero counts are kept and only zeros are
    filled. Genes not imputed keep their counts.

    The model never learns which entries a benchmark masked: every zero is a zero to it, and the
    weighted loss gives zeros no weight, so a masked entry is predicted like any dropout.

    Deviations from the authors' code: the best epoch's weights are restored after early
    stopping (Keras' ``EarlyStopping`` default keeps the last epoch's); when the genes to impute
    are an exact multiple of the subset size no extra subset of random genes is added (their
    ``filter_genes`` always pads by ``subset_size - n % subset_size``); reused padding genes are
    drawn without replacement when possible; one subset is trained even when no gene passes
    ``min_vmr``. Adam's epsilon is Keras' 1e-7 and the weights are initialised as Keras' ``Dense``
    (Glorot uniform, zero biases).

    Few genes pass ``min_vmr`` 0.5 on typical UMI data (PBMC 4K: about 250 of 2,000), so by default
    one subnet of 512 genes is trained and the other genes keep their zeros; ``min_vmr=0`` imputes
    every gene that varies (docs/models/imputation.md has both measured).
    """

    name = "deepimpute"
    needs_counts = True
    #: the networks map predictor genes to target genes: they impute new cells of the same genes
    transductive = False
    min_cells = 10

    class Params(ModelParams):
        subset_size: int = Field(512, ge=2, description="genes predicted by each subnet (the authors' sub_outputdim: 512)")
        min_vmr: float = Field(
            0.5, ge=0, description="impute the genes with var/(1+mean) above this (the authors' minVMR: 0.5; 0: every gene that varies)"
        )
        n_genes: int | None = Field(
            None, ge=1, description="impute the top n genes by var/(1+mean) instead (the authors' NN_lim; None: use min_vmr)"
        )
        n_top: int = Field(5, ge=1, description="predictors per target gene: the genes of largest |Pearson r| outside its subset (ntop: 5)")
        hidden: int = Field(256, ge=1, description="width of each subnet's hidden layer (256)")
        dropout: float = Field(0.2, ge=0, lt=1, description="dropout rate after the hidden layer (0.2)")
        lr: float = Field(1e-4, gt=0, description="Adam learning rate (1e-4)")
        batch_size: int = Field(64, ge=1, description="cells per minibatch (64)")
        max_epochs: int = Field(500, ge=1, description="maximum epochs (500)")
        patience: int = Field(5, ge=1, description="stop after this many epochs without improvement of the held-out cells' loss (5)")
        validation_fraction: float = Field(0.05, gt=0, lt=1, description="fraction of cells held out for early stopping (0.05)")
        policy: Literal["restore", "max", "none"] = Field(
            "restore",
            description="restore: keep observed non-zero counts, fill zeros (the authors' default); max: the larger of "
            "observed and predicted; none: the prediction everywhere in the imputed genes",
        )

    quick_params = {"subset_size": 16, "hidden": 16, "max_epochs": 3, "batch_size": 32}

    default_pipeline = (step("select_counts"),)

    # ------------------------------------------------------------------ training
    def _fit(self, data: AnnData) -> None:
        import torch

        from dance.core import validation as v
        from dance.nn.trainer import EarlyStopping, OptimizerStep, Stage, Trainer

        p = self.params
        device = self.device_
        counts = v.counts_matrix(data, self.keys)
        counts = sp.csr_matrix(counts, dtype=np.float32) if sp.issparse(counts) else np.asarray(counts, dtype=np.float32)
        rng = np.random.default_rng(self.seed)
        subsets = select_targets(counts, subset_size=p.subset_size, min_vmr=p.min_vmr, n_genes=p.n_genes, rng=rng)
        predictors = select_predictors(counts, subsets, n_top=p.n_top)
        self._set_genes(subsets, predictors, counts.shape[1])

        trainer = Trainer(self.name, seed=self.seed, device=device)  # seeds torch before the weights are drawn
        module = self.module_ = self._build_module().to(device)
        x = self._inputs(counts, device)
        try:  # the fused Adam (torch >= 2.4 on CPU): the same update in one kernel, 8x faster on 17M weights
            optimizer = torch.optim.Adam(module.parameters(), lr=p.lr, eps=1e-7, fused=torch.device(device).type in ("cpu", "cuda"))
        except RuntimeError:
            optimizer = torch.optim.Adam(module.parameters(), lr=p.lr, eps=1e-7)

        def loss(batch: Any) -> dict[str, torch.Tensor]:
            return {"wmse": module.loss(x[batch.index])}

        stage = Stage(
            "train",
            epochs=p.max_epochs,
            n=x.shape[0],
            batch_size=p.batch_size,
            steps=[OptimizerStep(optimizer, loss)],
            early_stopping=EarlyStopping(fraction=p.validation_fraction, monitor="wmse", patience=p.patience, batch_size=1024),
        )
        result = trainer.fit(stage, module=module)
        module.eval()
        self.training_history_ = trainer.history
        history = trainer.history["train"]
        best = result.best_epoch
        n_predictors = [len(q) for q in predictors]
        self.notes_: dict[str, Any] = {
            "subnets": int(subsets.shape[0]),
            "genes_imputed": int(self.imputed_genes_.size),
            "genes_reused": int(subsets.size - self.imputed_genes_.size),
            "predictors_per_subnet": round(float(np.mean(n_predictors)), 1),
            "epochs": result.epochs,
            "best_epoch": None if best is None else best + 1,
            "stopped_early": result.stopped_early,
            "val_wmse": None if best is None else round(history["val_wmse"][best], 6),
        }

    # ------------------------------------------------------------------ genes and tensors
    def _set_genes(self, subsets: np.ndarray, predictors: list[np.ndarray], n_genes: int) -> None:
        """Remember the gene indices: each subset's targets and predictors, the genes imputed and
        the columns read (targets and predictors: the input matrix of the module)."""
        self.subsets_ = np.asarray(subsets, dtype=np.int64)
        self.predictors_ = [np.asarray(q, dtype=np.int64) for q in predictors]
        self.n_genes_ = int(n_genes)
        self.imputed_genes_ = np.unique(self.subsets_)
        self.columns_ = np.unique(np.concatenate([self.subsets_.ravel(), *self.predictors_]))

    def _build_module(self) -> Any:
        from dance.single.imputation.deepimpute_module import BatchedSubnets

        width = max(len(q) for q in self.predictors_)
        padded = np.full((len(self.predictors_), width), -1, dtype=np.int64)
        for s, q in enumerate(self.predictors_):
            padded[s, : len(q)] = np.searchsorted(self.columns_, q)
        targets = np.searchsorted(self.columns_, self.subsets_)
        return BatchedSubnets(padded, targets, len(self.columns_), hidden=self.params.hidden, dropout=self.params.dropout)

    def _inputs(self, counts: Any, device: str) -> torch.Tensor:
        """log1p of the counts of the columns the module reads, dense float32, cells x columns."""
        import torch

        x = counts[:, self.columns_]
        x = x.toarray() if sp.issparse(x) else np.array(x, dtype=np.float32)
        return torch.from_numpy(np.log1p(x, out=x)).to(device)

    # ------------------------------------------------------------------ prediction
    def _predict(self, data: AnnData) -> np.ndarray:
        """Counts with the imputed genes' zeros filled (``policy``); cells x genes, float32."""
        import torch

        from dance.core import validation as v

        counts = v.counts_matrix(data, self.keys)
        counts = sp.csr_matrix(counts, dtype=np.float32) if sp.issparse(counts) else np.asarray(counts, dtype=np.float32)
        if counts.shape[1] != self.n_genes_:
            raise DanceInputError(f"the data have {counts.shape[1]} genes; the model was fitted on {self.n_genes_}", field="X")
        module = self.module_.eval()
        slot = np.searchsorted(self.imputed_genes_, self.subsets_.ravel())
        multiplicity = torch.from_numpy(np.bincount(slot, minlength=self.imputed_genes_.size).astype(np.float32))
        slot = torch.from_numpy(slot)
        observed = counts[:, self.imputed_genes_]
        observed = observed.toarray() if sp.issparse(observed) else np.array(observed)
        # the authors' overflow guard: log-scale predictions above twice the data's largest log1p count become 0
        ceiling = 2.0 * float(np.log1p(counts.max())) if counts.shape[0] else 0.0
        predicted = np.empty_like(observed)
        with torch.no_grad():
            for start in range(0, counts.shape[0], 1024):
                x = self._inputs(counts[start : start + 1024], self.device_)
                out = module(x).transpose(0, 1).reshape(x.shape[0], -1).cpu()
                # genes predicted by several subnets (reused to fill a subset): the mean of their predictions
                mean = torch.zeros(x.shape[0], self.imputed_genes_.size).index_add_(1, slot, out) / multiplicity
                mean = mean.numpy()
                mean[mean > ceiling] = 0.0
                predicted[start : start + x.shape[0]] = np.expm1(mean)
        if self.params.policy == "restore":
            predicted = np.where(observed > 0, observed, predicted)
        elif self.params.policy == "max":
            predicted = np.maximum(observed, predicted)
        imputed = counts.toarray() if sp.issparse(counts) else np.array(counts)
        imputed[:, self.imputed_genes_] = predicted
        return imputed

    # ------------------------------------------------------------------ saving
    def _fitted_state(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """The gene subsets, each subset's predictors (padded with -1) and the subnets' weights."""
        from dance.nn.persistence import module_arrays

        width = max(len(q) for q in self.predictors_)
        padded = np.full((len(self.predictors_), width), -1, dtype=np.int64)
        for s, q in enumerate(self.predictors_):
            padded[s, : len(q)] = q
        arrays = {"subsets": self.subsets_, "predictors": padded, **module_arrays(self.module_, "subnets")}
        return {"n_genes": self.n_genes_}, arrays

    def _restore_state(self, values: dict[str, Any], arrays: dict[str, Any]) -> None:
        from dance.nn.persistence import load_module_arrays

        padded = np.asarray(arrays["predictors"], dtype=np.int64)
        self._set_genes(np.asarray(arrays["subsets"]), [row[row >= 0] for row in padded], int(values["n_genes"]))
        self.module_ = load_module_arrays(self._build_module(), arrays, "subnets").to(self.device_).eval()
