"""STAGATE: spatial domains from the latent space of a graph attention auto-encoder."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import scipy.sparse as sp
from pydantic import Field

from dance.core.community import communities
from dance.core.models.base import ModelParams
from dance.core.neighbors import knn_graph_matrices
from dance.core.tasks.spatial_domain import SpatialDomainModel
from dance.core.transforms.pipeline import step


class STAGATE(SpatialDomainModel):
    """STAGATE (Dong & Zhang 2022, Nat Commun 13:1739).

    A graph attention auto-encoder on the spatial neighbour network: spots closer than
    ``rad_cutoff`` are linked (150 full-resolution pixels on Visium in the paper, i.e. the six
    direct neighbours; by default 1.3 x the lattice pitch, which links the same direct
    neighbours on any array). Input is the log-normalised expression of 3,000 highly variable
    genes; the encoder (512 hidden units, 30 latent dimensions) and the decoder share weights and
    attention coefficients, and the mean squared reconstruction error is minimised with Adam
    (learning rate 1e-3, weight decay 1e-4, gradient norm clipped at 5, 1,000 full-batch epochs:
    the authors' PyTorch Geometric release) on :class:`dance.nn.trainer.Trainer`, which records
    the loss per epoch in ``training_history_["train"]["mse"]``. With ``alpha > 0`` the cell
    type-aware module adds a second network pruned to edges between spots of the same expression
    pre-cluster (Louvain, resolution ``pre_resolution``), mixed with weight ``alpha`` (0.5 in the
    paper when used).

    Domains are the components of a Gaussian mixture on the latent space, the model mclust fits
    in the paper with ``modelNames='EEE'`` (ellipsoidal, equal volume, shape and orientation: one
    covariance matrix shared by all components, scikit-learn's ``covariance_type='tied'``;
    ``'full'`` is mclust's ``VVV``). mclust starts EM from model-based hierarchical agglomeration;
    scikit-learn starts from k-means, so results differ slightly. Without ``n_clusters``, domains
    are Louvain communities of the latent kNN graph (``resolution``), as in STAGATE's tutorials.

    Deviations: highly variable genes use scanpy's ``seurat`` flavour on log-normalised data
    (``seurat_v3`` on counts needs scikit-misc, not a dependency); the attention follows the paper
    (sigmoid then softmax), as in the TensorFlow original.
    """

    name = "stagate"

    class Params(ModelParams):
        n_clusters: int | None = Field(None, ge=2, description="number of domains (Gaussian mixture); None: Louvain at `resolution`")
        n_top_genes: int = Field(3000, ge=10, description="highly variable genes used as input")
        rad_cutoff: float | None = Field(
            None, gt=0, description="radius of the spatial network (coordinate units); None: 1.3 x lattice pitch"
        )
        hidden_dim: int = Field(512, ge=1, description="units of the hidden layer")
        latent_dim: int = Field(30, ge=2, description="latent dimensions")
        epochs: int = Field(1000, ge=1, description="training epochs")
        lr: float = Field(1e-3, gt=0, description="Adam learning rate")
        weight_decay: float = Field(1e-4, ge=0, description="Adam weight decay")
        gradient_clipping: float = Field(5.0, gt=0, description="maximum gradient norm")
        alpha: float = Field(0.0, ge=0, le=1, description="weight of the cell type-aware (pruned) network; 0 disables it")
        pre_resolution: float = Field(0.2, gt=0, description="Louvain resolution of the pre-clustering that prunes the network")
        covariance_type: Literal["tied", "full", "diag", "spherical"] = Field(
            "tied", description="Gaussian mixture covariance: 'tied' = mclust EEE (paper), 'full' = VVV"
        )
        resolution: float = Field(1.0, gt=0, description="Louvain resolution on the latent space when n_clusters is None")
        n_neighbors: int = Field(15, ge=2, description="neighbours of the latent (and pre-clustering) kNN graph")

    quick_params = {"epochs": 5, "hidden_dim": 32}

    def build_pipeline(self) -> tuple[Any, ...]:
        p = self.params
        return (
            step("log_normalize", target_sum=1e4),
            step("highly_variable_genes", n_top_genes=p.n_top_genes, flavor="seurat"),
            step("spatial_graph", method="radius", radius=p.rad_cutoff),
        )

    def _pruned_edges(self, data: Any, edges: np.ndarray) -> tuple[np.ndarray, int]:
        from dance.core.transforms.preprocessing import pca

        embedding = pca(data.copy(), n_comps=50, seed=self.seed).obsm["X_pca"]
        _, connectivities = knn_graph_matrices(embedding, self.params.n_neighbors, seed=self.seed)
        labels = communities(connectivities, method="louvain", resolution=self.params.pre_resolution, seed=self.seed)
        keep = labels[edges[0]] == labels[edges[1]]
        return edges[:, keep], int(labels.max()) + 1

    def _fit(self, data: Any) -> None:
        import torch

        from dance.nn.graphs import EdgeAggregation
        from dance.nn.trainer import OptimizerStep, Stage, Trainer
        from dance.spatial.graphs import as_dense
        from dance.spatial.spatial_domain.common import renumber
        from dance.spatial.spatial_domain.stagate_module import STAGATEModule

        # first: the trainer seeds torch, now that it is imported
        trainer = Trainer(self.name, seed=self.seed, device=self.device_)
        p = self.params
        graph = sp.coo_matrix(data.obsp["spatial_connectivities"])
        loops = np.arange(data.n_obs)
        edges = np.vstack([np.concatenate([graph.row, loops]), np.concatenate([graph.col, loops])]).astype(np.int64)
        notes: dict[str, Any] = {"mean_neighbours": round(float(graph.nnz) / data.n_obs, 3)}
        pruned = None
        if p.alpha > 0:
            pruned_np, n_pre = self._pruned_edges(data, edges)
            notes.update(pre_clusters=n_pre, pruned_edges=int(pruned_np.shape[1]))
            pruned = EdgeAggregation(pruned_np, data.n_obs, device=self.device_)
        x = torch.as_tensor(np.ascontiguousarray(as_dense(data.X), dtype=np.float32), device=self.device_)
        edge_tensor = EdgeAggregation(edges, data.n_obs, device=self.device_)
        module = STAGATEModule(x.shape[1], p.hidden_dim, p.latent_dim, alpha=p.alpha, seed=self.seed).to(self.device_)
        optimizer = torch.optim.Adam(module.parameters(), lr=p.lr, weight_decay=p.weight_decay)

        def reconstruction(batch: Any) -> dict[str, torch.Tensor]:
            # full batch: the attention needs every spot's neighbours
            _, reconstructed = module(x, edge_tensor, pruned)
            return {"mse": torch.nn.functional.mse_loss(reconstructed, x)}

        result = trainer.fit(
            Stage(
                "train",
                epochs=p.epochs,
                n=data.n_obs,
                steps=[OptimizerStep(optimizer, reconstruction, clip_norm=p.gradient_clipping)],
            ),
            module=module,
        )
        self.training_history_ = trainer.history
        module.eval()
        with torch.no_grad():
            latent = module(x, edge_tensor, pruned)[0].cpu().numpy().astype(np.float64)
        self.embedding_ = latent
        if p.n_clusters is not None:
            from sklearn.mixture import GaussianMixture

            mixture = GaussianMixture(n_components=p.n_clusters, covariance_type=p.covariance_type, random_state=self.seed)
            labels = mixture.fit_predict(latent)
            notes["mixture_converged"] = bool(mixture.converged_)
        else:
            _, connectivities = knn_graph_matrices(latent.astype(np.float32), p.n_neighbors, seed=self.seed)
            labels = communities(connectivities, method="louvain", resolution=p.resolution, seed=self.seed)
        self.labels_ = renumber(labels)
        self.notes_ = {**notes, "final_loss": result.final["mse"], "n_domains_found": int(self.labels_.max()) + 1}

    def _predict(self, data: Any) -> Any:
        return self.labels_
