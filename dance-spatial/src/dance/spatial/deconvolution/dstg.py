"""DSTG: a graph convolutional network on a linked graph of pseudo-spots and real spots."""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
from pydantic import Field

from dance.core.models.base import ModelParams
from dance.core.tasks.cell_type_deconvolution import CellTypeDeconvolutionModel


def _log_normalize(x: np.ndarray) -> np.ndarray:
    totals = x.sum(axis=1, keepdims=True)
    return np.log1p(np.divide(x, totals, out=np.zeros_like(x), where=totals > 0) * 1e4)


def _scale(x: np.ndarray, clip: float = 10.0) -> np.ndarray:
    centred = x - x.mean(axis=0)
    sd = x.std(axis=0, ddof=1) if x.shape[0] > 1 else np.ones(x.shape[1])
    return np.clip(centred / np.where(sd > 0, sd, 1.0), -clip, clip)


def _l2(x: np.ndarray) -> np.ndarray:
    return x / np.clip(np.linalg.norm(x, axis=1, keepdims=True), 1e-12, None)


def anova_genes(counts: np.ndarray, labels: np.ndarray, n_genes: int) -> np.ndarray:
    """Indices of the ``n_genes`` genes whose counts differ most between cell types (one-way
    ANOVA F statistic; DSTG's ``select_feature`` ranks by its p-value, equivalently)."""
    from scipy.stats import f_oneway

    groups = [counts[labels == t] for t in np.unique(labels) if (labels == t).sum() > 0]
    statistic, _ = f_oneway(*groups, axis=0)
    statistic = np.nan_to_num(statistic, nan=-1.0)
    return np.sort(np.argsort(-statistic, kind="stable")[: min(n_genes, counts.shape[1])])


def variable_features(log_data: list[np.ndarray], n_features: int) -> np.ndarray:
    """Integration features (Seurat's ``SelectIntegrationFeatures``, as DSTG calls it): genes
    ranked by how many datasets find them highly variable, then by their median rank."""
    ranks = []
    for data in log_data:
        mean = data.mean(axis=0)
        variance = data.var(axis=0, ddof=1) if data.shape[0] > 1 else np.zeros_like(mean)
        dispersion = np.divide(variance, mean, out=np.zeros_like(mean), where=mean > 0)
        order = np.argsort(-dispersion, kind="stable")[: min(n_features, data.shape[1])]
        rank = np.full(data.shape[1], np.inf)
        rank[order] = np.arange(len(order))
        ranks.append(rank)
    stacked = np.vstack(ranks)
    count = np.isfinite(stacked).sum(axis=0)
    median = np.array([np.median(column[np.isfinite(column)]) if np.isfinite(column).any() else np.inf for column in stacked.T])
    order = np.lexsort((median, -count))
    order = order[count[order] > 0]
    return np.sort(order[:n_features])


def mnn_edges(
    scaled1: np.ndarray,
    scaled2: np.ndarray,
    norm1: np.ndarray,
    norm2: np.ndarray,
    *,
    num_cc: int = 30,
    k: int = 30,
    k_mnn: int = 5,
    k_filter: int = 200,
) -> np.ndarray:
    """DSTG's link graph between two datasets: canonical correlation vectors of the scaled data
    (SVD of ``scaled1 scaled2^T``), L2-normalised; pairs that are among each other's ``k_mnn``
    nearest neighbours across datasets (mutual nearest neighbours) are kept when the second is
    among the ``k_filter`` nearest neighbours of the first in the L2-normalised expression of the
    genes that load most on the canonical vectors (Seurat's anchor filtering). Returns ``2 x E``
    (index in dataset 1, index in dataset 2)."""
    from dance.core.neighbors import knn

    cross = scaled1 @ scaled2.T
    n_cc = int(min(num_cc, min(cross.shape) - 1))
    if n_cc < 1:
        return np.zeros((2, 0), dtype=np.int64)
    from scipy.sparse.linalg import svds

    u, _, vt = svds(cross.astype(np.float64), k=n_cc, random_state=0)
    embedding1, embedding2 = u, vt.T
    signs = np.sign(np.where(embedding1[0] == 0, 1.0, embedding1[0]))
    embedding1, embedding2 = _l2(embedding1 * signs), _l2(embedding2 * signs)
    k_mnn = int(min(k_mnn, k, len(embedding1), len(embedding2)))
    ab, _ = knn(embedding2, k_mnn, query=embedding1)
    ba, _ = knn(embedding1, k_mnn, query=embedding2)
    first, second = [], []
    for i in range(len(embedding1)):
        for j in ab[i]:
            if i in ba[j]:
                first.append(i)
                second.append(int(j))
    if not first:
        return np.zeros((2, 0), dtype=np.int64)
    # genes loading most on the canonical vectors (top 100 per dimension, at most 200)
    loadings = np.vstack([scaled1, scaled2]).T @ np.vstack([embedding1, embedding2])
    chosen: list[int] = []
    per_dim = 1
    while len(chosen) < min(200, loadings.shape[0]) and per_dim <= 100:
        top = np.argsort(-np.abs(loadings), axis=0, kind="stable")[:per_dim].T.ravel()
        chosen = list(dict.fromkeys(top.tolist()))
        per_dim += 1
    genes = np.array(chosen[:200])
    nearest, _ = knn(_l2(norm2[:, genes]), int(min(k_filter, len(norm2))), query=_l2(norm1[:, genes]))
    keep = [t for t, (i, j) in enumerate(zip(first, second, strict=True)) if j in nearest[i]]
    return np.array([np.array(first)[keep], np.array(second)[keep]], dtype=np.int64).reshape(2, -1)


class DSTG(CellTypeDeconvolutionModel):
    """DSTG (Song & Su 2021, Brief Bioinform 22:bbaa414).

    From a single-cell reference, ``n_pseudo`` (1,000) pseudo-spots of 2 to 8 random cells are
    made on the 2,000 genes that differ most between cell types (ANOVA); a pseudo-spot reference
    is used as is. Pseudo-spots and real spots are log-normalised, 2,000 integration features
    are chosen (variable in both datasets first) and scaled per dataset. The link graph joins
    pseudo-spots and real spots that are mutual nearest neighbours in a 30-dimensional canonical
    correlation space (filtered by expression neighbourhoods, ``k_filter`` 200), and real spots
    that are mutual nearest neighbours of each other (``k_filter`` 100). A two-layer GCN (32
    hidden units, ReLU) on the symmetrically normalised graph, with each node's counts scaled to
    sum to one as features, is trained with Adam (learning rate 0.01, 200 epochs, no dropout or
    weight decay; full batch on :class:`dance.nn.trainer.Trainer`) to predict the known
    proportions of 81% of the pseudo-spots (soft-label cross-entropy); 9% serve for early
    stopping (validation loss above the mean of the previous 10 epochs) and 10% are held out as
    in DSTG. The softmax outputs of the real spots are the prediction. The network is trained in
    ``predict``, since the real spots are nodes of its graph; ``training_history_["train"]`` has
    the training and validation losses per epoch.

    Deviations: highly variable genes by dispersion of log-normalised data instead of Seurat's
    ``vst``; the canonical vectors come from a truncated SVD; the ``k_filter`` search uses all
    genes loading on the canonical vectors as Seurat's ``TopDimFeatures`` approximates it. DSTG's
    adjacency gets its self loops twice (graph construction and GCN normalisation); so does this
    one.
    """

    name = "dstg"

    class Params(ModelParams):
        n_pseudo: int = Field(1000, ge=10, description="pseudo-spots made from a single-cell reference")
        n_genes: int = Field(2000, ge=10, description="genes selected by ANOVA across cell types")
        n_features: int = Field(2000, ge=10, description="integration features used for the CCA link graph")
        num_cc: int = Field(30, ge=2, description="canonical correlation vectors")
        k_filter: int = Field(200, ge=1, description="expression neighbourhood that filters pseudo-real links")
        k_filter_real: int = Field(100, ge=1, description="expression neighbourhood that filters real-real links")
        hidden: int = Field(32, ge=1, description="hidden units of the GCN")
        lr: float = Field(0.01, gt=0, description="Adam learning rate")
        epochs: int = Field(200, ge=1, description="maximum training epochs")
        weight_decay: float = Field(0.0, ge=0, description="L2 penalty on the first layer")
        dropout: float = Field(0.0, ge=0, lt=1, description="dropout rate")
        early_stopping: int = Field(10, ge=1, description="stop when the validation loss exceeds its mean over this many previous epochs")

    quick_params = {"n_pseudo": 60, "epochs": 10}

    def _fit(self, data: Any) -> None:
        import pandas as pd

        from dance.spatial.deconvolution.signatures import dense
        from dance.spatial.pseudospots import dstg_pseudospots

        self.cell_types_ = self.cell_types(data)
        genes = data.spots.var_names.intersection(data.reference.var_names)
        reference = data.reference[:, genes]
        counts = dense(reference.X)
        if self.keys.label_key in reference.obs.columns:
            labels = reference.obs[self.keys.label_key].astype(str).to_numpy()
            selected = anova_genes(counts, labels, self.params.n_genes)
            cells = reference[:, selected].copy()
            cells.X = sp.csr_matrix(counts[:, selected])
            cells.obs[self.keys.label_key] = labels
            pseudo = dstg_pseudospots(
                cells, n_spots=self.params.n_pseudo, label_key=self.keys.label_key, cell_types=self.cell_types_, seed=self.seed
            )
            self.pseudo_x_ = dense(pseudo.X)
            self.pseudo_y_ = pseudo.obsm["proportions"][self.cell_types_].to_numpy()
            self.genes_ = genes[selected]
        else:
            value = reference.obsm[self.keys.proportions_key]
            frame = value if isinstance(value, pd.DataFrame) else pd.DataFrame(np.asarray(value), columns=self.cell_types_)
            self.pseudo_x_ = counts
            self.pseudo_y_ = frame[self.cell_types_].to_numpy(dtype=np.float64)
            self.genes_ = genes

    def _graph(self, pseudo: np.ndarray, real: np.ndarray) -> tuple[sp.csr_matrix, dict[str, int]]:
        p = self.params
        norm_pseudo, norm_real = _log_normalize(pseudo), _log_normalize(real)
        features = variable_features([norm_pseudo, norm_real], p.n_features)
        scaled_pseudo, scaled_real = _scale(norm_pseudo[:, features]), _scale(norm_real[:, features])
        cross = mnn_edges(
            scaled_pseudo, scaled_real, norm_pseudo[:, features], norm_real[:, features], num_cc=p.num_cc, k_filter=p.k_filter
        )
        within = mnn_edges(
            scaled_real, scaled_real, norm_real[:, features], norm_real[:, features], num_cc=p.num_cc, k_filter=p.k_filter_real
        )
        n_pseudo = len(pseudo)
        n = n_pseudo + len(real)
        rows = np.concatenate([cross[0], within[0] + n_pseudo])
        cols = np.concatenate([cross[1] + n_pseudo, within[1] + n_pseudo])
        adjacency = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n))
        adjacency = ((adjacency + adjacency.T) > 0).astype(np.float64)
        adjacency.setdiag(0)
        adjacency = adjacency + 2 * sp.eye(n)
        degree = np.asarray(adjacency.sum(axis=1)).ravel()
        scale = sp.diags(1.0 / np.sqrt(degree))
        info = {"pseudo_real_links": int(cross.shape[1]), "real_real_links": int((within[0] != within[1]).sum())}
        return sp.csr_matrix(scale @ adjacency @ scale), info

    def _predict(self, data: Any) -> Any:
        import pandas as pd
        import torch

        from dance.nn.graphs import sparse_tensor
        from dance.nn.trainer import OptimizerStep, Stage, Trainer
        from dance.spatial.deconvolution.dstg_module import DSTGModule, soft_cross_entropy
        from dance.spatial.deconvolution.signatures import dense

        # first: the trainer seeds torch (dropout draws from its global generator), now that it is imported.
        # DSTG is transductive: the real spots are nodes of the graph, so the network is trained here.
        trainer = Trainer(self.name, seed=self.seed, device=self.device_)
        p = self.params
        real = dense(data.spots[:, self.genes_].X)
        pseudo = self.pseudo_x_
        adjacency, info = self._graph(pseudo, real)
        features = np.vstack([pseudo, real])
        totals = features.sum(axis=1, keepdims=True)
        features = np.divide(features, totals, out=np.zeros_like(features), where=totals > 0)
        n_pseudo = len(pseudo)
        rng = np.random.default_rng(self.seed)
        order = rng.permutation(n_pseudo)
        n_test = round(0.1 * n_pseudo)
        n_val = round(0.1 * (n_pseudo - n_test))
        val, train = order[n_test : n_test + n_val], order[n_test + n_val :]
        device = self.device_
        x = torch.as_tensor(features, dtype=torch.float32, device=device)
        adj = sparse_tensor(adjacency, device=device)
        y = torch.as_tensor(self.pseudo_y_, dtype=torch.float32, device=device)
        train_t, val_t = torch.as_tensor(train, device=device), torch.as_tensor(val, device=device)
        module = DSTGModule(x.shape[1], p.hidden, y.shape[1], dropout=p.dropout, seed=self.seed).to(device)
        optimizer = torch.optim.Adam(module.parameters(), lr=p.lr)

        def loss(batch: Any) -> dict[str, torch.Tensor]:
            # full batch over all nodes (the convolution needs them), the loss on the training pseudo-spots only
            logits = module(x, adj)
            terms = {"cross_entropy": soft_cross_entropy(logits[train_t], y[train_t])}
            if p.weight_decay > 0:
                # DSTG's L2 penalty on the first layer only, so not the optimiser's weight_decay
                terms["l2"] = p.weight_decay * (module.W1**2).sum() / 2
            return terms

        validation: list[float] = []

        def validate(epoch: int, terms: dict[str, float]) -> bool:
            # DSTG's own early stopping (as in Kipf & Welling's GCN code), on its own validation pseudo-spots: stop
            # when the loss exceeds the mean of the previous `early_stopping` epochs, keeping the last weights
            # (the trainer's EarlyStopping holds out a split of its own and waits for no improvement)
            module.eval()
            with torch.no_grad():
                validation.append(float(soft_cross_entropy(module(x, adj)[val_t], y[val_t])) if len(val) else 0.0)
            trainer.record("val_cross_entropy", validation[-1])
            return epoch > p.early_stopping and validation[-1] > np.mean(validation[-(p.early_stopping + 1) : -1])

        result = trainer.fit(
            Stage("train", epochs=p.epochs, n=x.shape[0], steps=[OptimizerStep(optimizer, loss)]), module=module, on_epoch_end=validate
        )
        self.training_history_ = trainer.history
        module.eval()
        with torch.no_grad():
            proportions = torch.softmax(module(x, adj), dim=1)[n_pseudo:].cpu().numpy().astype(np.float64)
        self.notes_ = {
            **info,
            "epochs": result.epochs,
            "n_genes": len(self.genes_),
            "final_val_loss": round(validation[-1], 5) if validation else None,
        }
        return pd.DataFrame(proportions, index=data.spots.obs_names, columns=self.cell_types_)
