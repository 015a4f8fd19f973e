"""scVI: deep generative modelling of counts with the batch as a decoder covariate."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import scipy.sparse as sp
from pydantic import Field

from dance.core.errors import DanceInputError
from dance.core.models.base import ModelParams
from dance.core.tasks.batch_integration import BatchIntegrationModel
from dance.core.transforms.pipeline import step

if TYPE_CHECKING:
    from dance.nn.data import RowMatrix
    from dance.nn.trainer import StageResult, Trainer

__all__ = ["SCVI", "default_max_epochs", "select_genes"]


def default_max_epochs(n_cells: int) -> int:
    """scvi-tools' heuristic: ``min(round(20000 / n_cells * 400), 400)`` epochs (at least 1)."""
    return int(max(1, min(round(20000 / max(n_cells, 1) * 400), 400)))


def select_genes(counts: Any, var_names: Any, batch: np.ndarray, n_top_genes: int) -> np.ndarray:
    """Indices of the ``n_top_genes`` most variable genes (scanpy's Seurat flavour on
    log-normalised counts, ranked within and across batches as scIB does); all genes when fewer."""
    import anndata as ad
    import scanpy as sc

    n_genes = counts.shape[1]
    if n_genes <= n_top_genes:
        return np.arange(n_genes)
    adata = ad.AnnData(X=sp.csr_matrix(counts, dtype=np.float32))
    adata.var_names = [str(v) for v in var_names]
    adata.obs["batch"] = batch
    sc.pp.normalize_total(adata, target_sum=1e4)
    sc.pp.log1p(adata)
    batch_key = "batch" if len(np.unique(batch)) > 1 else None
    try:
        sc.pp.highly_variable_genes(adata, n_top_genes=n_top_genes, flavor="seurat", batch_key=batch_key)
    except Exception:  # e.g. a batch too small for per-batch binning
        sc.pp.highly_variable_genes(adata, n_top_genes=n_top_genes, flavor="seurat")
    return np.flatnonzero(adata.var["highly_variable"].to_numpy())


class SCVI(BatchIntegrationModel):
    """scVI (Lopez, Regier, Cole, Jordan & Yosef 2018, Nat Methods 15:1053-1058).

    A variational autoencoder of raw counts with a zero-inflated negative binomial (or NB)
    likelihood; the batch is a covariate of the decoder, so the latent space (posterior means,
    ``n_latent`` dims) is the integrated embedding. Library size: the observed total count of the
    cell (scvi-tools' default), or a latent log-normal library with batch-wise prior
    (``use_observed_lib_size=False``). Architecture, optimiser (Adam, lr 1e-3, eps 0.01, weight
    decay 1e-6), minibatch size 128, linear KL warm-up over 400 epochs and the number of epochs
    (``min(round(20000 / n_cells * 400), 400)``) follow scvi-tools. Genes: the ``n_top_genes``
    most variable (batch-aware Seurat flavour on log-normalised counts), as scIB does before scVI.

    Deviations: every cell is trained on (scvi-tools holds out 10% for validation, used only for
    monitoring by default). Not transductive: the encoder does not read the batch, so new cells
    (with the training genes; of known or new batches) are embedded without refitting. The model
    predicts no labels, so unseen cell types need no special treatment.
    """

    name = "scvi"
    needs_counts = True

    class Params(ModelParams):
        n_hidden: int = Field(128, ge=1, description="units per hidden layer")
        n_latent: int = Field(10, ge=2, description="latent dimensions (the embedding)")
        n_layers: int = Field(1, ge=1, description="hidden layers of encoder and decoder")
        dropout_rate: float = Field(0.1, ge=0, lt=1, description="encoder dropout")
        dispersion: Literal["gene", "gene-batch", "gene-cell"] = Field("gene", description="NB dispersion sharing")
        gene_likelihood: Literal["zinb", "nb"] = Field("zinb", description="count likelihood")
        use_observed_lib_size: bool = Field(True, description="observed library size (else latent with batch-wise prior)")
        n_top_genes: int = Field(2000, ge=10, description="highly variable genes modelled")
        max_epochs: int | None = Field(None, ge=1, description="epochs; None = min(round(20000 / n_cells * 400), 400)")
        batch_size: int = Field(128, ge=4, description="cells per minibatch")
        lr: float = Field(1e-3, gt=0, description="Adam learning rate")
        weight_decay: float = Field(1e-6, ge=0, description="Adam weight decay")
        n_epochs_kl_warmup: int | None = Field(400, ge=1, description="epochs of linear KL warm-up (None = none)")

    quick_params = {"max_epochs": 3, "n_hidden": 16}

    def build_pipeline(self) -> tuple[Any, ...]:
        return (step("select_counts"),)

    # ------------------------------------------------------------------ shared with scANVI
    def _prepare(self, data: Any) -> tuple[Any, np.ndarray]:
        batch = data.obs[self.keys.batch_key].astype(str).to_numpy()
        counts = data.layers.get(self.keys.counts_layer, data.X)
        genes = select_genes(counts, data.var_names, batch, self.params.n_top_genes)
        self.genes_ = np.asarray(data.var_names[genes]).astype(str)
        self.batches_ = sorted(set(batch.tolist()))
        codes = np.searchsorted(self.batches_, batch)
        return counts[:, genes], codes

    def _library_prior(self, counts: Any, codes: np.ndarray) -> dict[str, Any]:
        if self.params.use_observed_lib_size:
            return {}
        totals = np.log(np.maximum(np.asarray(counts.sum(axis=1)).ravel(), 1.0))
        means = np.array([totals[codes == b].mean() for b in range(len(self.batches_))])
        variances = np.array([max(totals[codes == b].var(), 1e-4) for b in range(len(self.batches_))])
        return {"library_log_means": means, "library_log_vars": variances}

    def _module_kwargs(self, counts: Any, codes: np.ndarray) -> dict[str, Any]:
        p = self.params
        return {
            "n_hidden": p.n_hidden,
            "n_latent": p.n_latent,
            "n_layers": p.n_layers,
            "dropout_rate": p.dropout_rate,
            "dispersion": p.dispersion,
            "gene_likelihood": p.gene_likelihood,
            "use_observed_lib_size": p.use_observed_lib_size,
            **self._library_prior(counts, codes),
        }

    def _trainer(self) -> Trainer:
        """The trainer, made first in ``_fit``: it seeds torch (the modules' initial weights, the
        latent samples and dropout); minibatch orders come from a CPU generator of the seed."""
        from dance.nn.data import torch_generator
        from dance.nn.trainer import Trainer

        return Trainer(self.name, seed=self.seed, device=self.device_, generator=torch_generator(self.seed))

    def _train(
        self, trainer: Trainer, module: Any, rows: RowMatrix, codes: np.ndarray, epochs: int, stage: str, **extra: Any
    ) -> StageResult:
        from dance.single.batch_integration.scvi_module import train_vae

        p = self.params
        # every training run shuffles from the seed's start, as separate scvi-tools ``train()``
        # calls do (scANVI's pretraining and its own training each restart the stream)
        trainer.generator.manual_seed(self.seed)
        return train_vae(
            trainer,
            module,
            rows,
            codes,
            stage=stage,
            epochs=epochs,
            batch_size=p.batch_size,
            lr=p.lr,
            weight_decay=p.weight_decay,
            n_epochs_kl_warmup=p.n_epochs_kl_warmup,
            **extra,
        )

    def _fit(self, data: Any) -> None:
        from dance.nn.data import RowMatrix
        from dance.single.batch_integration.scvi_module import VAE

        trainer = self._trainer()
        counts, codes = self._prepare(data)
        self.module_ = VAE(counts.shape[1], len(self.batches_), **self._module_kwargs(counts, codes))
        epochs = self.params.max_epochs or default_max_epochs(counts.shape[0])
        result = self._train(trainer, self.module_, RowMatrix(counts, self.device_), codes, epochs, "train")
        self.training_history_ = trainer.history
        self.notes_ = {"epochs": epochs, "n_genes": len(self.genes_), **{f"final_{k}": round(v, 4) for k, v in result.final.items()}}

    def _embed(self, data: Any, encode: Any) -> np.ndarray:
        from dance.nn.data import RowMatrix, predict_in_batches

        counts = data.layers.get(self.keys.counts_layer, data.X)
        names = np.asarray(data.var_names).astype(str)
        position = {g: i for i, g in enumerate(names)}
        missing = [g for g in self.genes_ if g not in position]
        if missing:
            raise DanceInputError(
                f"{len(missing)} of the {len(self.genes_)} genes the model was trained on are missing (e.g. {missing[:3]})",
                field="var_names",
            )
        counts = counts[:, [position[g] for g in self.genes_]]
        rows = RowMatrix(counts, self.device_)
        return predict_in_batches(lambda index: encode(rows[index]), rows.n, batch_size=1024).cpu().numpy().astype(np.float32)

    def _predict(self, data: Any) -> Any:
        self.module_.eval()
        return self._embed(data, self.module_.latent)
