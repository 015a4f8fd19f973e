"""graph-sc: graph autoencoder embedding of the cell-gene graph, then clustering."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import scipy.sparse as sp
from pydantic import Field

from dance.core import ModelParams
from dance.core.tasks.clustering import ClusteringModel
from dance.core.transforms.pipeline import Step, step

if TYPE_CHECKING:
    import torch
    from anndata import AnnData

    from dance.nn.trainer import Batch

__all__ = ["CellGeneGraph", "GraphSC", "build_cell_gene_graph"]


class CellGeneGraph:
    """graph-sc's cell-gene graph, ready for mini-batches of cells.

    Nodes are the genes (``0 .. n_genes-1``) followed by the cells; edges go from each gene to each
    cell expressing it, and every node has a self loop of weight 1. ``cell_weights`` holds the
    gene -> cell weights and ``self_weights`` the cells' self-loop weights, both already multiplied
    by the GCN normalisation ``in_degree(cell)^-1/2 * out_degree(source)^-1/2``.
    """

    def __init__(self, cell_weights: sp.csr_matrix, self_weights: np.ndarray, gene_features: np.ndarray, cell_features: np.ndarray) -> None:
        self.cell_weights = cell_weights
        self.self_weights = self_weights
        self.gene_features = gene_features
        self.cell_features = cell_features

    @property
    def n_genes(self) -> int:
        return self.gene_features.shape[0]

    def batch(self, cells: np.ndarray, device: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(x, adjacency, targets)`` of the subgraph feeding the given cells: every gene node plus
        the batch's cells (the one-hop neighbourhood graph-sc's full-neighbour sampler gives a
        one-layer GCN), the adjacency as a sparse ``adj_t`` (row = receiving node)."""
        import torch

        from dance.nn.graphs import sparse_adjacency

        n_genes, n_batch = self.n_genes, len(cells)
        into_cells = sp.hstack([self.cell_weights[cells], sp.diags(self.self_weights[cells])])
        adjacency = sp.vstack([sp.csr_matrix((n_genes, n_genes + n_batch), dtype=np.float32), into_cells]).tocsr()
        x = np.vstack([self.gene_features, self.cell_features[cells]])
        targets = torch.arange(n_genes, n_genes + n_batch, device=device)
        return torch.from_numpy(x).to(device), sparse_adjacency(adjacency, device), targets


def build_cell_gene_graph(weights: sp.spmatrix, *, n_components: int = 50, edge_norm: bool = True, seed: int = 0) -> CellGeneGraph:
    """graph-sc's ``make_graph`` for a cells x genes matrix of edge weights.

    Node features (graph-sc's ``node_features="scale"``): the weight matrix is standardised per
    gene, the genes' principal components (genes as samples) are the gene features, and each cell's
    feature is the weight-averaged sum of its genes' features. With ``edge_norm`` each cell's
    incoming weights are rescaled to sum to its in-degree (mean weight 1). Degrees for the GCN
    normalisation count edges (self loops included) of the whole graph; genes only send messages.
    """
    from sklearn.decomposition import PCA

    weights = sp.csr_matrix(weights, dtype=np.float64)
    weights.eliminate_zeros()
    dense = weights.toarray()
    std = dense.std(axis=0)
    standardised = (dense - dense.mean(axis=0)) / np.where(std > 0, std, 1.0)
    n_comp = int(min(n_components, *standardised.shape))
    gene_features = PCA(n_comp, random_state=seed).fit_transform(standardised.T).astype(np.float32)
    cell_features = np.asarray(weights @ gene_features, dtype=np.float32)

    in_degree = np.diff(weights.indptr).astype(np.float64)  # genes expressed by each cell
    if edge_norm:
        totals = np.asarray(weights.sum(axis=1)).ravel()
        weights = sp.diags(np.where(totals > 0, in_degree / np.where(totals > 0, totals, 1.0), 0.0)) @ weights
    gene_out_degree = np.diff(sp.csc_matrix(weights).indptr).astype(np.float64) + 1.0  # + self loop
    cell_in_degree = in_degree + 1.0  # + self loop
    cell_scale = 1.0 / np.sqrt(cell_in_degree)
    normalised = sp.diags(cell_scale) @ sp.csr_matrix(weights) @ sp.diags(1.0 / np.sqrt(gene_out_degree))
    # a cell's only outgoing edge is its self loop (out-degree 1), so its self weight is in_degree^-1/2
    return CellGeneGraph(sp.csr_matrix(normalised, dtype=np.float32), cell_scale.astype(np.float32), gene_features, cell_features)


class GraphSC(ClusteringModel):
    """graph-sc (Ciortan & Defrance 2022, Bioinformatics 38:1037-1044).

    Cells and genes are the nodes of a weighted bipartite graph: an edge links a gene to every
    cell expressing it, weighted by the cell's normalised expression of the gene (graph-sc's
    default ``log_per_cell``: ``log1p(count)`` divided by the cell's sum; ``per_cell`` uses the
    count over the cell's total, dance's ``cell_gene_graph`` transform), rescaled per cell to mean
    weight 1 (``edge_norm``), with a self loop on every node. Gene nodes carry the principal
    components of the standardised expression (genes as samples); a cell carries the
    expression-weighted sum of its genes' components. A graph autoencoder -- dropout, one weighted
    graph convolution (200 units, ReLU), a linear layer (300 units) and an inner-product decoder --
    is trained on mini-batches of cells with Adam, and the cell embeddings are clustered with
    k-means (``n_clusters`` known) or Leiden communities (unknown).

    The decoder reconstructs the adjacency among the batch's cells, exactly as graph-sc's code
    does. As cells link only to genes, that block holds only the self loops, so the loss (binary
    cross entropy with positive weighting) pushes the embeddings of different cells apart while
    the convolution keeps cells that express similar genes close.

    Defaults follow graph-sc / DANCE (3,000 highly variable genes, 50 components, dropout 0.1,
    lr 1e-5, batch 128, 100 epochs). ``cluster_method="leiden"`` clusters the embedding with Leiden
    even when the number of clusters is known, as DANCE's graph-sc example does (with
    ``leiden_neighbors=300``, graph-sc's ``run_leiden``). Deviations: the GCN's degree normalisation uses the degrees
    of the whole graph instead of those of each sampled block (DGL's block degrees depend on the
    batch), and no epoch is selected by the ARI against the true labels (DANCE's ``eval_epoch``).
    """

    name = "graphsc"
    needs_counts = True

    class Params(ModelParams):
        n_clusters: int | None = Field(None, ge=2, description="number of clusters; None: Leiden communities of the embedding")
        n_top_genes: int = Field(3000, ge=10, description="highly variable genes kept (cell_ranger flavour)")
        edge_weights: Literal["log_per_cell", "per_cell"] = Field("log_per_cell", description="gene -> cell edge weight normalisation")
        edge_norm: bool = Field(True, description="rescale each cell's incoming edge weights to mean 1")
        in_feats: int = Field(50, ge=2, description="principal components used as node features")
        hidden_dim: int = Field(200, ge=2, description="width of the graph convolution")
        out_dim: int = Field(300, ge=2, description="width of the embedding (linear layer after the convolution)")
        dropout: float = Field(0.1, ge=0, lt=1, description="dropout on the node features")
        epochs: int = Field(100, ge=1, description="training epochs")
        lr: float = Field(1e-5, gt=0, description="learning rate (Adam)")
        batch_size: int = Field(128, ge=2, description="cells per mini-batch")
        kmeans_n_init: int = Field(10, ge=1, description="k-means restarts")
        resolution: float = Field(1.0, gt=0, description="Leiden resolution (when Leiden clusters the embedding)")
        cluster_method: Literal["kmeans", "leiden"] = Field(
            "kmeans", description="k-means with n_clusters clusters, or Leiden communities (always Leiden when n_clusters is None)"
        )
        leiden_neighbors: int = Field(15, ge=2, description="neighbours per cell of the kNN graph Leiden runs on (graph-sc's code: 300)")

    quick_params = {"epochs": 2, "in_feats": 8, "hidden_dim": 16, "out_dim": 8, "kmeans_n_init": 2}

    def build_pipeline(self) -> tuple[Step, ...]:
        p = self.params
        steps = [
            step("select_counts"),
            step("filter_genes", min_counts=3),
            step("normalize_total", target_sum=None),
            step("log1p"),
            step("highly_variable_genes", n_top_genes=p.n_top_genes, flavor="cell_ranger"),
        ]
        if p.edge_weights == "per_cell":
            steps.append(step("cell_gene_graph"))
        return tuple(steps)

    def _edge_weights(self, data: AnnData) -> sp.csr_matrix:
        from dance.core import validation as v

        if self.params.edge_weights == "per_cell" and "cell_gene_weight" in data.layers:
            return sp.csr_matrix(data.layers["cell_gene_weight"])
        counts = sp.csr_matrix(v.counts_matrix(data, self.keys), dtype=np.float64)
        if self.params.edge_weights == "log_per_cell":
            counts.data = np.log1p(counts.data)
        totals = np.asarray(counts.sum(axis=1)).ravel()
        return sp.diags(1.0 / np.where(totals > 0, totals, 1.0)) @ counts

    def _fit(self, data: AnnData) -> None:
        import torch

        from dance.nn.data import torch_generator
        from dance.nn.trainer import OptimizerStep, Stage, Trainer
        from dance.single.clustering.graphsc_module import GraphSCAutoencoder, inner_product_loss

        p = self.params
        device = self.device_
        # first: the trainer seeds torch, imported just above. Its generator draws the minibatch
        # orders; it lives on the CPU whatever the device, as the batches index the SciPy graph.
        trainer = Trainer(self.name, seed=self.seed, device=device, generator=torch_generator(self.seed, "cpu"))
        self.notes_: dict[str, Any] = {}
        graph = build_cell_gene_graph(self._edge_weights(data), n_components=p.in_feats, edge_norm=p.edge_norm, seed=self.seed)
        module = self.module_ = GraphSCAutoencoder(graph.gene_features.shape[1], p.hidden_dim, p.out_dim, p.dropout).to(device)

        def reconstruction(batch: Batch) -> dict[str, torch.Tensor]:
            cells = batch.index.numpy()
            z = module.encode(*graph.batch(cells, device))
            # the cell-cell block of the bipartite graph holds only the self loops
            return {"loss": inner_product_loss(module.decode(z), torch.eye(len(cells), device=device))}

        stage = Stage(
            "train",
            epochs=p.epochs,
            n=data.n_obs,
            batch_size=p.batch_size,
            steps=[OptimizerStep(torch.optim.Adam(module.parameters(), lr=p.lr), reconstruction)],
        )
        final_loss = trainer.fit(stage, module=module).final["loss"]
        self.training_history_ = trainer.history
        module.eval()
        n_cells = data.n_obs
        with torch.no_grad():
            parts = [module.encode(*graph.batch(np.arange(s, min(s + 1024, n_cells)), device)) for s in range(0, n_cells, 1024)]
        self.embedding_ = torch.cat(parts).cpu().numpy()
        self._cluster_embedding()
        self.notes_.update(epochs=p.epochs, final_loss=round(final_loss, 4), n_clusters_found=len(np.unique(self.labels_)))

    def _cluster_embedding(self) -> None:
        from dance.nn.clustering import resolve_n_clusters

        p = self.params
        if p.n_clusters is not None and p.cluster_method == "kmeans":
            from dance.nn.clustering import kmeans_centres

            resolve_n_clusters(self)
            _, self.labels_ = kmeans_centres(self.embedding_, p.n_clusters, seed=self.seed, n_init=p.kmeans_n_init)
            self.notes_["clustering"] = "k-means"
            return
        from dance.core.community import communities
        from dance.core.neighbors import knn_graph_matrices

        n_neighbors = int(min(p.leiden_neighbors, self.embedding_.shape[0]))
        _, connectivities = knn_graph_matrices(self.embedding_, n_neighbors, seed=self.seed)
        self.labels_ = communities(connectivities, method="leiden", resolution=p.resolution, seed=self.seed)
        self.notes_.update(clustering="leiden", n_clusters=int(self.labels_.max()) + 1, n_clusters_estimated=True)

    def _predict(self, data: AnnData) -> np.ndarray:
        return self.labels_
