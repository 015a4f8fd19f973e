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
    import torch

__all__ = ["SCVI", "default_max_epochs", "select_genes", "train_vae"]

#: above this many matrix entries the counts stay sparse and minibatches are densified on the fly
DENSE_LIMIT = 50_000_000


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


class _Rows:
    """Rows of a count matrix as float32 tensors on a device (dense when small, else CSR)."""

    def __init__(self, counts: Any, device: str) -> None:
        import torch

        self.device = device
        self.n = counts.shape[0]
        if sp.issparse(counts) and counts.shape[0] * counts.shape[1] > DENSE_LIMIT:
            self.csr = sp.csr_matrix(counts, dtype=np.float32)
            self.dense = None
        else:
            dense = counts.toarray() if sp.issparse(counts) else np.asarray(counts)
            self.dense = torch.as_tensor(np.asarray(dense, dtype=np.float32), device=device)
            self.csr = None

    def __getitem__(self, index: torch.Tensor) -> torch.Tensor:
        import torch

        if self.dense is not None:
            return self.dense[index.to(self.dense.device)]
        rows = self.csr[index.cpu().numpy()].toarray()
        return torch.as_tensor(rows, device=self.device)


def train_vae(
    module: Any,
    counts: Any,
    batch: np.ndarray,
    *,
    epochs: int,
    batch_size: int = 128,
    lr: float = 1e-3,
    weight_decay: float = 1e-6,
    n_epochs_kl_warmup: int | None = 400,
    seed: int = 0,
    device: str = "cpu",
    labels: np.ndarray | None = None,
    classification_ratio: float = 50.0,
    desc: str = "scVI",
) -> dict[str, float]:
    """Train an scVI / scANVI module by minibatch Adam (scvi-tools' optimiser: ``eps=0.01``).

    ``labels`` (codes, ``-1`` = unlabelled) switch on scANVI's classification term: every step
    also draws ``batch_size`` labelled cells (seeded) for the cross-entropy. Minibatches of fewer
    than 3 cells are skipped (batch normalisation needs several). On the CPU, torch runs on one
    thread during training: minibatches of 128 cells gain nothing from more, and on a busy machine
    OpenMP threads waiting for each other made training several times slower (measured 8x on
    2 cores). Returns the last epoch's means.
    """
    import torch

    rows = _Rows(counts, device)
    batch_t = torch.as_tensor(np.asarray(batch), dtype=torch.long, device=device)
    generator = torch.Generator().manual_seed(seed)
    labelled = None if labels is None else np.flatnonzero(np.asarray(labels) >= 0)
    labels_t = None if labels is None else torch.as_tensor(np.asarray(labels), dtype=torch.long, device=device)
    optimiser = torch.optim.Adam(module.parameters(), lr=lr, eps=0.01, weight_decay=weight_decay)
    module.to(device)
    threads = torch.get_num_threads()
    if not str(device).startswith("cuda"):
        torch.set_num_threads(1)
    try:
        return _epochs(
            module,
            rows,
            batch_t,
            labelled,
            labels_t,
            optimiser,
            generator,
            epochs,
            batch_size,
            n_epochs_kl_warmup,
            classification_ratio,
            desc,
        )
    finally:
        torch.set_num_threads(threads)
        module.eval()


def _epochs(
    module: Any,
    rows: _Rows,
    batch_t: Any,
    labelled: np.ndarray | None,
    labels_t: Any,
    optimiser: Any,
    generator: Any,
    epochs: int,
    batch_size: int,
    n_epochs_kl_warmup: int | None,
    classification_ratio: float,
    desc: str,
) -> dict[str, float]:
    import torch
    from tqdm.auto import tqdm

    from dance.nn.data import minibatch_indices as iterate_minibatches
    from dance.single.nn.scvi import kl_warmup_weight

    history: dict[str, float] = {}
    bar = tqdm(range(epochs), desc=desc, unit="epoch", disable=None)
    for epoch in bar:
        module.train()
        kl_weight = kl_warmup_weight(epoch, n_epochs_kl_warmup)
        totals: dict[str, float] = {}
        steps = 0
        for index in iterate_minibatches(rows.n, batch_size, generator=generator):
            if len(index) < 3:
                continue
            x = rows[index]
            b = batch_t[index.to(batch_t.device)]
            if labelled is not None and len(labelled):
                pick = torch.as_tensor(labelled)[torch.randint(len(labelled), (min(batch_size, len(labelled)),), generator=generator)]
                out = module.loss(
                    x,
                    b,
                    kl_weight,
                    labelled_x=rows[pick],
                    labelled_y=labels_t[pick.to(labels_t.device)],
                    classification_ratio=classification_ratio,
                )
            else:
                out = module.loss(x, b, kl_weight)
            optimiser.zero_grad()
            out["loss"].backward()
            optimiser.step()
            for key, value in out.items():
                totals[key] = totals.get(key, 0.0) + float(value.detach())
            steps += 1
        history = {key: value / max(steps, 1) for key, value in totals.items()}
        if "loss" in history:
            bar.set_postfix(loss=f"{history['loss']:.1f}")
        if not np.isfinite(history.get("loss", 0.0)):
            raise FloatingPointError(f"{desc} training diverged at epoch {epoch} (loss {history['loss']}); lower lr")
    return history


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

    def _train(self, module: Any, counts: Any, codes: np.ndarray, epochs: int, desc: str, **extra: Any) -> dict[str, float]:
        p = self.params
        return train_vae(
            module,
            counts,
            codes,
            epochs=epochs,
            batch_size=p.batch_size,
            lr=p.lr,
            weight_decay=p.weight_decay,
            n_epochs_kl_warmup=p.n_epochs_kl_warmup,
            seed=self.seed,
            device=self.device_,
            desc=desc,
            **extra,
        )

    def _fit(self, data: Any) -> None:
        import torch

        from dance.single.nn.scvi import VAE

        counts, codes = self._prepare(data)
        torch.manual_seed(self.seed)
        self.module_ = VAE(counts.shape[1], len(self.batches_), **self._module_kwargs(counts, codes))
        epochs = self.params.max_epochs or default_max_epochs(counts.shape[0])
        history = self._train(self.module_, counts, codes, epochs, "scVI")
        self.notes_ = {"epochs": epochs, "n_genes": len(self.genes_), **{f"final_{k}": round(v, 4) for k, v in history.items()}}

    def _embed(self, data: Any, encode: Any) -> np.ndarray:
        import torch

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
        rows = _Rows(counts, self.device_)
        out = []
        with torch.no_grad():
            for start in range(0, rows.n, 1024):
                index = torch.arange(start, min(start + 1024, rows.n))
                out.append(encode(rows[index]).cpu())
        return torch.cat(out).numpy().astype(np.float32)

    def _predict(self, data: Any) -> Any:
        self.module_.eval()
        return self._embed(data, self.module_.latent)
