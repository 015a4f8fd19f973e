"""scGNN (version 1): imputation by an autoencoder regularised by an iteratively refined cell graph
and the cell types found on it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

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

    from dance.nn.trainer import Trainer

__all__ = ["ScGNN", "mix_graphs", "prune_neighbours", "pruned_knn_graph", "select_variable_genes"]


# ---------------------------------------------------------------------- graph construction
def prune_neighbours(distances: np.ndarray) -> np.ndarray:
    """Which of each cell's ``k`` nearest neighbours scGNN keeps (``KNNgraphStatsSingleThread``):
    those at a distance no larger than the mean plus one (population) standard deviation of that
    cell's ``k`` neighbour distances.

    ``distances`` is ``cells x k`` (self excluded); returns a boolean mask of the same shape.
    """
    distances = np.asarray(distances, dtype=np.float64)
    boundary = distances.mean(axis=1) + distances.std(axis=1)
    return distances <= boundary[:, None]


def pruned_knn_graph(embedding: np.ndarray, k: int = 10, *, seed: int = 0) -> sp.csr_matrix:
    """scGNN's cell graph: the ``k`` nearest neighbours of each cell (Euclidean, FAISS through
    :func:`dance.core.neighbors.knn`), pruned per cell by :func:`prune_neighbours`, as a symmetric
    binary sparse adjacency without self loops (an edge where either cell kept the other, as the
    authors' undirected networkx graph)."""
    from dance.core.neighbors import knn

    n = embedding.shape[0]
    k_search = int(min(k + 1, n))
    indices, distances = knn(np.asarray(embedding, dtype=np.float32), k_search, seed=seed)
    indices, distances = indices[:, 1:], distances[:, 1:]  # each cell is its own first neighbour
    keep = prune_neighbours(distances) & (indices != np.arange(n)[:, None])
    rows = np.repeat(np.arange(n), indices.shape[1])[keep.ravel()]
    cols = indices.ravel()[keep.ravel()]
    graph = sp.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(n, n))
    graph = graph.maximum(graph.T).tocsr()
    graph.data[:] = 1.0
    graph.setdiag(0)
    graph.eliminate_zeros()
    return graph


def mix_graphs(old: sp.spmatrix, new: sp.spmatrix, alpha: float) -> tuple[sp.csr_matrix, float]:
    """scGNN's graph update ``A <- alpha * A_old + (1 - alpha) * A_new`` (sparse) and the relative
    change ``sum |A - A_old| / sum |A_old|`` the EM loop's convergence test reads."""
    old = sp.csr_matrix(old, dtype=np.float32)
    mixed = (alpha * old + (1.0 - alpha) * sp.csr_matrix(new, dtype=np.float32)).tocsr()
    mixed.eliminate_zeros()
    total = float(abs(old).sum())
    change = float(abs(mixed - old).sum()) / total if total > 0 else float("inf")
    return sp.csr_matrix(mixed, dtype=np.float32), change


def select_variable_genes(counts: sp.csr_matrix, n_top: int, min_cell_fraction: float) -> np.ndarray:
    """Column indices (ascending) of the ``n_top`` genes with the largest variance of ``log(x+1)``
    among those detected in at least ``min_cell_fraction`` of the cells (``PreprocessingscGNN``:
    ``geneRatio`` 0.99, ``geneCriteria`` variance), computed sparse."""
    counts = sp.csr_matrix(counts)
    n = counts.shape[0]
    logged = counts.copy()
    logged.data = np.log1p(logged.data.astype(np.float64))
    mean = np.asarray(logged.mean(axis=0)).ravel()
    mean_sq = np.asarray(logged.multiply(logged).mean(axis=0)).ravel()
    variance = mean_sq - mean**2
    detected = np.bincount(logged.indices, minlength=counts.shape[1]) / max(n, 1)
    candidates = np.flatnonzero(detected >= min_cell_fraction)
    order = candidates[np.argsort(-variance[candidates], kind="stable")]
    return np.sort(order[:n_top])


class ScGNN(ImputationModel):
    """scGNN (Wang, Ma, Chang, Gao, Han, Chen, Yu, Wang, Li & Xu 2021, Nat Commun 12:1882), version 1.

    The counts of the ``n_top_genes`` most variable genes (largest variance of ``log(x+1)`` among
    genes detected in at least 1 % of the cells) are log-transformed. A feature autoencoder
    (genes -> 512 -> 128 -> 512 -> genes, ReLU, loss ``0.1 * sum of squared errors + ||W||_1``,
    Adam 1e-3, batches of 12,800 cells) is trained for ``regu_epochs``. The cell graph links each
    cell to those of its 10 nearest neighbours in the 128-d code (Euclidean) that lie within the
    mean plus one standard deviation of its 10 distances. Then, for up to ``em_iterations``
    rounds: a variational graph autoencoder (GCN 32/16) embeds the cells from the graph and their
    binarised codes; Louvain on the graph gives a number of communities, and k-means with a
    fraction of that number (0.8 below 2,000 cells, 0.5 above) on the graph embedding gives the
    cell types; the feature autoencoder trains ``em_epochs`` more; the graph of its new code
    updates the cell graph as ``A <- 0.5 A + 0.5 A_new``. The loop stops when the cell types of
    two rounds agree (ARI > 0.99) or the graph changes by less than 1 %. Finally the imputation
    autoencoder -- the same network restarted from its initial weights -- trains ``impute_epochs``
    on ``gamma_impute * MSE + 0.3 * sum_ij A_ij |x̂_j - x_j|² + 0.1 * sum_ij C_ij |x̂_j - x_j|² +
    ||W||_1`` (``C``: same cell type), and its reconstruction, with values below 0.01 set to 0, is
    the imputation. All graphs are sparse; the cell-type term is computed from the type labels of
    each minibatch.

    Output: the imputed genes get ``exp(x̂) - 1`` (every value of those genes is replaced by the
    reconstruction, observed ones included, as the authors' output is); every other gene keeps
    its observed counts unchanged (scGNN imputes only the genes it selected). The autoencoder
    applies to any cells measured on the selected genes, so a fitted model imputes new cells too
    (and can be saved); the graph and cell types only shape its training.

    Defaults are the authors' (``scGNN.py``) with the GAE embedding used for clustering
    (``--useGAEembedding``, as in their imputation benchmark) and these deviations: no LTMG
    regulariser (it needs R; the authors' default ``--regulized-type`` is ``noregu`` too), no
    per-cluster autoencoders (``--quickmode``: in the published code they retrain the full
    autoencoder on all cells and their output is not used for the imputation), the graph
    autoencoder trains on all edges (the authors hold out 15 % for link-prediction scores) with
    non-edges sampled, the pruned graph is used throughout (the authors' GAE and imputation loss
    read the unpruned kNN graph, their Louvain the pruned one), the mixed graph feeds the next
    round and the imputation (the authors mix only to test convergence), and no cell is filtered
    out (every cell is imputed). Unknown cell types play no part: the model is unsupervised.

    Runtime: the authors' epochs (500 + up to 10 x 200 + 200 full-batch autoencoder epochs) take
    about 25 minutes on a 2-core CPU for ~4,000 cells x 2,000 genes; ``em_iterations=3,
    em_epochs=50`` takes about 8 (docs/models/imputation.md).
    """

    name = "scgnn"
    needs_counts = True
    #: the imputation autoencoder applies to any cells measured on the selected genes
    transductive = False

    class Params(ModelParams):
        n_top_genes: int = Field(2000, ge=2, description="number of most variable genes imputed (the others are returned as observed)")
        min_cell_fraction: float = Field(0.01, ge=0, le=1, description="genes detected in fewer cells than this fraction are not imputed")
        hidden_dim: int = Field(512, ge=1, description="width of the feature autoencoder's hidden layers")
        latent_dim: int = Field(128, ge=2, description="width of the feature autoencoder's code (the cell graph is built on it)")
        batch_size: int = Field(12800, ge=1, description="cells per minibatch (consecutive, as the authors' loader)")
        lr: float = Field(1e-3, gt=0, description="learning rate of the feature and imputation autoencoders (Adam)")
        regu_epochs: int = Field(500, ge=1, description="epochs of the feature autoencoder before the EM rounds (Regu-epochs)")
        gamma: float = Field(0.1, ge=0, description="weight of the sum of squared errors in the feature autoencoder's loss (gammaPara)")
        l1_weight: float = Field(
            1.0, ge=0, description="weight of the L1 norm of all network parameters in every autoencoder loss (L1Para)"
        )
        k: int = Field(10, ge=1, description="nearest neighbours of the cell graph before pruning")
        em_iterations: int = Field(10, ge=0, description="maximum EM rounds (EM-iteration)")
        em_epochs: int = Field(200, ge=1, description="epochs of the feature autoencoder in each EM round (EM-epochs)")
        alpha: float = Field(0.5, ge=0, le=1, description="graph update A <- alpha * A_old + (1 - alpha) * A_new")
        converge_celltype: float = Field(0.99, ge=0, le=1, description="stop when the ARI between two rounds' cell types exceeds this")
        converge_graph: float = Field(
            0.01, ge=0, description="stop when the graph changes by less than this fraction (sum |A - A_old| / sum |A_old|)"
        )
        use_gae_embedding: bool = Field(True, description="cluster the graph autoencoder's embedding (else the feature autoencoder's code)")
        gae_epochs: int = Field(200, ge=1, description="epochs of the graph autoencoder in each round (full batch)")
        gae_hidden1: int = Field(32, ge=1, description="width of the graph autoencoder's first GCN layer")
        gae_hidden2: int = Field(16, ge=1, description="width of the graph embedding")
        gae_lr: float = Field(0.01, gt=0, description="learning rate of the graph autoencoder (Adam)")
        gae_dropout: float = Field(0.0, ge=0, lt=1, description="dropout of the graph autoencoder")
        cluster_fraction: float | None = Field(
            None,
            gt=0,
            description="k-means gets int(fraction * Louvain communities) clusters (at least 2); None: 0.8 below 2,000 cells, else 0.5",
        )
        max_clusters: int = Field(30, ge=2, description="largest number of cell types")
        impute_epochs: int = Field(200, ge=1, description="epochs of the imputation autoencoder (the authors use EM-epochs)")
        gamma_impute: float = Field(0.0, ge=0, description="weight of the plain squared error in the imputation loss (gammaImputePara)")
        graph_weight: float = Field(0.3, ge=0, description="weight of the cell-graph term of the imputation loss (graphImputePara)")
        celltype_weight: float = Field(0.1, ge=0, description="weight of the cell-type term of the imputation loss (celltypeImputePara)")
        post_threshold: float = Field(0.01, ge=0, description="imputed log values below this are set to 0 (postThreshold)")

    quick_params = {
        "hidden_dim": 16,
        "latent_dim": 8,
        "regu_epochs": 3,
        "em_iterations": 2,
        "em_epochs": 2,
        "gae_epochs": 3,
        "impute_epochs": 3,
        "k": 5,
    }

    default_pipeline = (step("select_counts"),)

    # ------------------------------------------------------------------ training
    def _fit(self, data: AnnData) -> None:
        import copy

        import torch

        from dance.core.validation import counts_matrix
        from dance.nn.data import torch_generator
        from dance.nn.trainer import OptimizerStep, Stage, Trainer
        from dance.single.imputation.scgnn_module import FeatureAutoencoder, l1_penalty

        p = self.params
        device = self.device_
        # first: the trainer seeds torch (imported just above); its generator draws the graph
        # autoencoder's noise and non-edges
        trainer = Trainer(self.name, seed=self.seed, device=device, generator=torch_generator(self.seed, device))
        counts = sp.csr_matrix(counts_matrix(data, self.keys), dtype=np.float32)
        genes = select_variable_genes(counts, p.n_top_genes, p.min_cell_fraction)
        if len(genes) < 2:
            raise DanceInputError(
                f"scgnn imputes genes detected in at least {p.min_cell_fraction:.0%} of the cells; only {len(genes)} of the "
                f"{counts.shape[1]} genes are (lower min_cell_fraction)",
                field="X",
            )
        self.genes_ = [str(g) for g in data.var_names[genes]]
        x = self._log_expression(counts[:, genes], device)
        n = x.shape[0]

        module = self.module_ = FeatureAutoencoder(len(genes), p.hidden_dim, p.latent_dim).to(device)
        initial_state = copy.deepcopy(module.state_dict())  # the imputation autoencoder restarts from it
        optimizer = torch.optim.Adam(module.parameters(), lr=p.lr)

        def feature_loss(batch: Any) -> dict[str, torch.Tensor]:
            rows = _rows(batch.index)
            recon, _ = module(x[rows])
            sse = (recon - x[rows]).pow(2).sum()
            l1 = l1_penalty(module)
            return {"loss": p.gamma * sse + p.l1_weight * l1, "sse": sse, "l1": l1}

        def feature_stage(name: str, epochs: int) -> Stage:
            return Stage(
                name,
                epochs=epochs,
                n=n,
                batch_size=p.batch_size,
                shuffle=False,
                steps=[OptimizerStep(optimizer, feature_loss)],
                average="summed",
            )

        trainer.fit(feature_stage("pretrain", p.regu_epochs), module=module)
        code = self._encode(x)
        graph = pruned_knn_graph(code, p.k, seed=self.seed)
        self.notes_: dict[str, Any] = {"n_genes_imputed": len(genes), "initial_graph_edges": int(graph.nnz // 2)}

        # ---- EM rounds: cell types on the graph, more feature-AE training, graph update
        previous: np.ndarray | None = None
        labels: np.ndarray | None = None
        rounds, converged, ari, change = 0, False, float("nan"), float("nan")
        for round_ in range(p.em_iterations):
            labels = self._cell_types(trainer, code, graph)
            trainer.fit(feature_stage("em", p.em_epochs), module=module)
            code = self._encode(x)
            graph, change = mix_graphs(graph, pruned_knn_graph(code, p.k, seed=self.seed), p.alpha)
            rounds = round_ + 1
            ari = _ari(previous, labels)
            if ari > p.converge_celltype or change < p.converge_graph:
                converged = True
                break
            previous = labels
        if labels is None:  # no EM round: the cell types of the first graph
            labels = self._cell_types(trainer, code, graph)

        # ---- the imputation autoencoder: initial weights, graph- and cell-type-weighted loss
        module.load_state_dict(initial_state)
        impute_optimizer = torch.optim.Adam(module.parameters(), lr=p.lr)
        weights = self._cell_weights(graph, labels, n).to(device)

        def imputation_loss(batch: Any) -> dict[str, torch.Tensor]:
            rows = _rows(batch.index)
            recon, _ = module(x[rows])
            residual = (recon - x[rows]).pow(2).sum(dim=1)
            weighted = (weights[rows] * residual).sum()
            l1 = l1_penalty(module)
            return {"loss": weighted + p.l1_weight * l1, "weighted_sse": weighted, "sse": residual.sum(), "l1": l1}

        trainer.fit(
            Stage(
                "impute",
                epochs=p.impute_epochs,
                n=n,
                batch_size=p.batch_size,
                shuffle=False,
                steps=[OptimizerStep(impute_optimizer, imputation_loss)],
                average="summed",
            ),
            module=module,
        )
        module.eval()
        self.training_history_ = trainer.history
        self.labels_ = labels
        self.graph_ = graph
        self.notes_.update(
            em_rounds=rounds,
            em_converged=converged,
            celltype_ari_last_rounds=None if not np.isfinite(ari) else round(ari, 4),
            graph_change_last_round=None if not np.isfinite(change) else round(change, 4),
            n_cell_types=len(np.unique(labels)),
            final_graph_edges=int(graph.nnz // 2),
        )

    def _cell_types(self, trainer: Trainer, code: np.ndarray, graph: sp.csr_matrix) -> np.ndarray:
        """``LouvainK``: Louvain on the cell graph for the number of types, k-means on the (graph) embedding."""
        from sklearn.cluster import KMeans

        from dance.core.community import communities

        p = self.params
        embedding = self._gae_embedding(trainer, code, graph) if p.use_gae_embedding else code
        n = code.shape[0]
        found = int(communities(graph, method="louvain", seed=self.seed).max()) + 1 if graph.nnz else 1
        fraction = p.cluster_fraction if p.cluster_fraction is not None else (0.8 if n < 2000 else 0.5)
        k = int(found * fraction)
        k = min(k if k >= 3 else 2, p.max_clusters, n)
        return KMeans(n_clusters=k, n_init=10, random_state=self.seed).fit_predict(embedding).astype(np.int64)

    def _gae_embedding(self, trainer: Trainer, code: np.ndarray, graph: sp.csr_matrix) -> np.ndarray:
        """The graph autoencoder's mean embedding of each cell, trained on ``graph`` with the
        binarised code (above each dimension's mean) as node features."""
        import torch

        from dance.nn.graphs import normalize_adjacency, sparse_adjacency
        from dance.nn.trainer import OptimizerStep, Stage
        from dance.single.imputation.scgnn_module import GraphAutoencoder, gae_loss

        p = self.params
        device = self.device_
        n = code.shape[0]
        features = torch.as_tensor((code > code.mean(axis=0)).astype(np.float32), device=device)
        with_loops = (sp.csr_matrix(graph, dtype=np.float32) + sp.eye(n, dtype=np.float32, format="csr")).tocsr()
        adjacency = sparse_adjacency(normalize_adjacency(with_loops, "symmetric"), device)
        pos = with_loops.tocoo()
        positive = torch.as_tensor(np.vstack([pos.row, pos.col]).astype(np.int64), device=device)
        edge_keys = torch.as_tensor(np.sort(pos.row.astype(np.int64) * n + pos.col), device=device)
        module = GraphAutoencoder(features.shape[1], p.gae_hidden1, p.gae_hidden2, p.gae_dropout).to(device)
        generator = trainer.generator

        def loss(batch: Any) -> dict[str, torch.Tensor]:
            z, mu, logstd = module(features, adjacency, generator)
            return gae_loss(z, mu, logstd, positive, _non_edges(n, positive.shape[1], edge_keys, generator))

        stage = Stage("gae", epochs=p.gae_epochs, n=n, steps=[OptimizerStep(torch.optim.Adam(module.parameters(), lr=p.gae_lr), loss)])
        trainer.fit(stage, module=module)
        module.eval()
        with torch.no_grad():
            mu, _ = module.encode(features, adjacency)
        return mu.cpu().numpy()

    def _cell_weights(self, graph: sp.csr_matrix, labels: np.ndarray, n: int) -> torch.Tensor:
        """Each cell's weight in the imputation loss for the fixed consecutive minibatches."""
        import torch

        from dance.single.imputation.scgnn_module import batch_cell_weights

        p = self.params
        weights = np.zeros(n, dtype=np.float32)
        for start in range(0, n, p.batch_size):
            rows = slice(start, min(start + p.batch_size, n))
            weights[rows] = batch_cell_weights(
                graph[rows][:, rows], labels[rows], gamma=p.gamma_impute, graph_weight=p.graph_weight, celltype_weight=p.celltype_weight
            )
        return torch.as_tensor(weights)

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def _log_expression(counts: sp.spmatrix, device: str) -> torch.Tensor:
        import torch

        logged = sp.csr_matrix(counts, dtype=np.float32, copy=True)
        logged.data = np.log1p(logged.data)
        return torch.as_tensor(logged.toarray(), device=device)

    def _encode(self, x: torch.Tensor) -> np.ndarray:
        import torch

        from dance.nn.data import encode_in_batches

        self.module_.eval()
        with torch.no_grad():
            return encode_in_batches(self.module_.encode, x, batch_size=4096).cpu().numpy()

    # ------------------------------------------------------------------ prediction
    def _predict(self, data: AnnData) -> sp.csr_matrix:
        """The imputed counts: the autoencoder's reconstruction (values below ``post_threshold``
        zeroed, ``exp(x) - 1``) for the selected genes, the observed counts for the others."""
        import torch

        from dance.core.validation import counts_matrix
        from dance.nn.data import encode_in_batches

        index = {str(g): i for i, g in enumerate(data.var_names)}
        missing = [g for g in self.genes_ if g not in index]
        if missing:
            raise DanceInputError(
                f"the data lack {len(missing)} of the {len(self.genes_)} genes scgnn imputes ({', '.join(missing[:5])}"
                f"{', ...' if len(missing) > 5 else ''})",
                field="X",
            )
        columns = np.array([index[g] for g in self.genes_], dtype=np.int64)
        counts = sp.csr_matrix(counts_matrix(data, self.keys), dtype=np.float32)
        x = self._log_expression(counts[:, columns], self.device_)
        self.module_.eval()
        with torch.no_grad():
            recon = encode_in_batches(lambda rows: self.module_(rows)[0], x, batch_size=4096).cpu().numpy()
        recon[recon < self.params.post_threshold] = 0.0
        imputed = sp.csr_matrix(np.expm1(recon, dtype=np.float32))
        keep = np.ones(counts.shape[1], dtype=np.float32)
        keep[columns] = 0.0
        observed = (counts @ sp.diags(keep)).tocsr()
        observed.eliminate_zeros()
        placed = sp.csr_matrix((imputed.data, columns[imputed.indices], imputed.indptr), shape=counts.shape)
        return sp.csr_matrix(observed + placed, dtype=np.float32)

    # ------------------------------------------------------------------ saving
    def _fitted_state(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """The imputed genes and the imputation autoencoder's weights."""
        from dance.nn.persistence import module_arrays

        return {"genes": list(self.genes_)}, module_arrays(self.module_, "autoencoder")

    def _restore_state(self, values: dict[str, Any], arrays: dict[str, Any]) -> None:
        from dance.nn.persistence import load_module_arrays
        from dance.single.imputation.scgnn_module import FeatureAutoencoder

        p = self.params
        self.genes_ = list(values["genes"])
        module = FeatureAutoencoder(len(self.genes_), p.hidden_dim, p.latent_dim)
        self.module_ = load_module_arrays(module, arrays, "autoencoder").to(self.device_).eval()


def _rows(index: Any) -> Any:
    return slice(None) if index is None else index


def _ari(previous: np.ndarray | None, labels: np.ndarray) -> float:
    """ARI between two rounds' cell types; 0 in the first round (the authors compare with one type for all cells)."""
    if previous is None:
        return 0.0
    from sklearn.metrics import adjusted_rand_score

    return float(adjusted_rand_score(previous, labels))


def _non_edges(n: int, size: int, edge_keys: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """About ``size`` node pairs drawn uniformly, those that are edges (``edge_keys = i * n + j``,
    sorted) left out: an unbiased sample of the non-edges."""
    import torch

    pairs = torch.randint(0, n, (2, size), generator=generator, device=generator.device).to(edge_keys.device)
    keys = pairs[0] * n + pairs[1]
    position = torch.searchsorted(edge_keys, keys).clamp(max=edge_keys.numel() - 1)
    return pairs[:, edge_keys[position] != keys]
