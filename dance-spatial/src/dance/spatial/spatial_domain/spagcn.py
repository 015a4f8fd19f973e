"""SpaGCN: spatial domains by a graph convolution on a Gaussian spot graph and iterative clustering."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import Field

from dance.core.community import communities
from dance.core.models.base import ModelParams
from dance.core.neighbors import knn_graph_matrices
from dance.core.tasks.spatial_domain import SpatialDomainModel
from dance.core.transforms.pipeline import step

if TYPE_CHECKING:
    import torch

    from dance.nn.trainer import Trainer


class SpaGCN(SpatialDomainModel):
    """SpaGCN (Hu et al. 2021, Nat Methods 18:1342-1351).

    Spots are linked by a dense graph with weights ``exp(-d^2 / 2 l^2)``, where ``d`` is the
    Euclidean distance between spots in ``(x, y, z)``: the coordinates plus, when the data carry
    a tissue image, the standardised colour of the tissue around the spot scaled to the spread
    of the coordinates (``histology_coordinates``, ``beta`` pixels wide, weight ``alpha``). The
    length scale ``l`` is found by bisection so that the summed weight of each spot's neighbours
    is ``p`` on average (the paper's "percentage of total expression contributed by
    neighbourhoods", 0.5). One graph convolution maps the 50 principal components of
    log-normalised expression (genes in fewer than 3 spots, ERCC and MT- genes removed) to
    an embedding; clusters are initialised by Louvain on that embedding (10 neighbours) and
    refined by DEC's self-training: the KL divergence between the Student's t soft assignment
    ``q`` and the sharpened target ``p`` (recomputed every ``update_interval`` epochs) is
    minimised with Adam until fewer than ``tol`` of the spots change cluster (on
    :class:`dance.nn.trainer.Trainer`, with :mod:`dance.nn.clustering`'s target and KL loss).
    When the number of domains is given, the Louvain resolution is searched as SpaGCN's
    ``search_res`` does (start 0.7, step 0.1, 20 training epochs per trial; each trial is a stage
    ``search_<trial>_res_<resolution>`` of ``training_history_`` before the final ``train``).
    The optional refinement relabels a spot when more than half of its 6 (hexagonal array) or 4
    (square array) nearest spots share another domain and fewer than half share its own.

    Deviations: Louvain runs on dance's UMAP-weighted kNN graph (FAISS) rather than scanpy's; the
    image is the hires (else lowres) PNG of the Space Ranger output with ``beta`` rescaled to its
    resolution, not the full-resolution TIFF.
    """

    name = "spagcn"

    class Params(ModelParams):
        n_clusters: int | None = Field(
            None, ge=2, description="number of domains (the Louvain resolution is searched); None: use resolution"
        )
        p: float = Field(0.5, gt=0, description="target summed weight of a spot's neighbours, which sets the length scale l")
        histology: bool = Field(True, description="use the tissue image (when present) as a third coordinate")
        beta: float = Field(49.0, gt=0, description="side of the square around a spot whose colour is averaged (full-resolution pixels)")
        alpha: float = Field(1.0, ge=0, description="weight of the histology coordinate relative to x and y")
        min_cells: int = Field(3, ge=0, description="drop genes detected in fewer spots")
        n_pcs: int = Field(50, ge=2, description="principal components fed to the graph convolution")
        n_neighbors: int = Field(10, ge=2, description="neighbours of the kNN graph used by the Louvain initialisation")
        init: Literal["louvain", "kmeans"] = Field(
            "louvain",
            description="initial clustering of the embedding: Louvain (resolution searched for n_clusters) or k-means (needs n_clusters)",
        )
        resolution: float = Field(0.4, gt=0, description="Louvain resolution of the initialisation when n_clusters is None")
        res_start: float = Field(0.7, gt=0, description="first resolution tried when searching for n_clusters")
        res_step: float = Field(0.1, gt=0, description="initial step of the resolution search")
        res_max_run: int = Field(10, ge=1, description="trials of the resolution search")
        res_epochs: int = Field(20, ge=1, description="training epochs per trial of the resolution search")
        lr: float = Field(0.05, gt=0, description="Adam learning rate")
        max_epochs: int = Field(200, ge=1, description="maximum training epochs")
        update_interval: int = Field(5, ge=1, description="epochs between updates of the target distribution")
        tol: float = Field(5e-3, ge=0, description="stop when fewer than this fraction of spots change domain")
        refine: bool = Field(False, description="relabel spots surrounded by another domain (SpaGCN's optional refinement)")

    quick_params = {"max_epochs": 10, "res_epochs": 3, "res_max_run": 3}

    def build_pipeline(self) -> tuple[Any, ...]:
        p = self.params
        return (
            step("filter_genes", min_cells=p.min_cells),
            step("drop_genes", prefixes=["ERCC", "MT-"]),
            step("log_normalize", target_sum=None),
            step("pca", n_comps=p.n_pcs),
            step("histology_coordinates", beta=p.beta, alpha=p.alpha),
        )

    # ------------------------------------------------------------------ training
    def _train(
        self, trainer: Trainer, stage: str, x: torch.Tensor, adj: torch.Tensor, resolution: float, epochs: int
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Initialise the clusters at ``resolution`` and run DEC's self-training as stage ``stage``.

        Parameters
        ----------
        trainer
            The fit's trainer; the stage's KL divergence per epoch goes to ``trainer.history[stage]``.
        stage
            Name of this training in the history (``"train"``, or a trial of the resolution search).
        x
            Principal components of the spots (spots x components).
        adj
            Dense Gaussian adjacency (spots x spots).
        resolution
            Louvain resolution of the initial clustering (unused with ``init="kmeans"``).
        epochs
            Maximum training epochs.

        Returns
        -------
        labels, info
            The domain of each spot, and the epochs run, initial clusters and last loss.
        """
        import torch

        from dance.nn.clustering import changed_fraction, kl_clustering_loss, target_distribution
        from dance.nn.trainer import OptimizerStep, Stage
        from dance.spatial.spatial_domain.spagcn_module import SpaGCNModule

        p = self.params
        # a CPU generator seeded afresh for every call, not the trainer's (which would advance between calls
        # and lives on the device): every trial of the resolution search and the final training start from
        # the same weights
        generator = torch.Generator().manual_seed(self.seed)
        module = SpaGCNModule(x.shape[1], x.shape[1], generator=generator).to(self.device_)
        optimizer = torch.optim.Adam(module.parameters(), lr=p.lr, weight_decay=0.0)
        with torch.no_grad():
            features = module.gc(x, adj).cpu().numpy()
        if p.init == "kmeans" and p.n_clusters is not None:
            from sklearn.cluster import KMeans

            initial = KMeans(p.n_clusters, n_init=20, random_state=self.seed).fit_predict(features)
        else:
            _, connectivities = knn_graph_matrices(features, p.n_neighbors, seed=self.seed)
            initial = communities(connectivities, method="louvain", resolution=resolution, seed=self.seed)
        centres = np.vstack([features[initial == c].mean(axis=0) for c in range(int(initial.max()) + 1)])
        module.set_centres(torch.as_tensor(centres, dtype=torch.float32, device=self.device_))
        # what the hooks share with the loss: the current target, this epoch's soft assignment, the last labels
        state: dict[str, Any] = {"target": None, "q": None, "labels": initial}

        def refresh_target(epoch: int) -> bool:
            if epoch % p.update_interval == 0:
                with torch.no_grad():
                    state["target"] = target_distribution(module(x, adj)[1])
            return False

        def kl(batch: Any) -> dict[str, torch.Tensor]:
            _, q = module(x, adj)
            state["q"] = q
            return {"kl": kl_clustering_loss(state["target"], q)}

        def converged(epoch: int, terms: dict[str, float]) -> bool:
            # the labels of the assignment the step was taken from (before the step), as SpaGCN
            labels = state["q"].argmax(dim=1).cpu().numpy()
            changed = changed_fraction(state["labels"], labels)
            state["labels"] = labels
            # SpaGCN tests convergence on the epoch after each target update
            return epoch > 0 and (epoch - 1) % p.update_interval == 0 and changed < p.tol

        result = trainer.fit(
            Stage(stage, epochs=epochs, n=x.shape[0], steps=[OptimizerStep(optimizer, kl)]),
            module=module,
            on_epoch_start=refresh_target,
            on_epoch_end=converged,
        )
        with torch.no_grad():
            labels = module(x, adj)[1].argmax(dim=1).cpu().numpy()
        return labels, {"epochs": result.epochs, "initial_clusters": int(initial.max()) + 1, "final_loss": result.final["kl"]}

    def _search_resolution(self, trainer: Trainer, x: torch.Tensor, adj: torch.Tensor, target: int) -> tuple[float, int]:
        """SpaGCN's ``search_res``: move the resolution by ``step`` towards the target number of
        domains, halving the step whenever it overshoots.

        Each trial is a short training recorded as its own stage, ``search_<trial>_res_<resolution>``
        (a resolution can be tried twice when the lower bound clips it, hence the trial number).
        """
        p = self.params

        def domains(trial: int, resolution: float) -> int:
            labels, _ = self._train(trainer, f"search_{trial}_res_{resolution:.4g}", x, adj, resolution, p.res_epochs)
            return len(np.unique(labels))

        res, step_size = p.res_start, p.res_step
        count = domains(1, res)
        run = 0
        while count != target and run < p.res_max_run:
            sign = 1 if count < target else -1
            candidate = max(res + step_size * sign, 1e-3)
            new_count = domains(run + 2, candidate)
            if new_count == target:
                return candidate, run + 2
            if (1 if new_count < target else -1) == sign:
                res, count = candidate, new_count
            else:
                step_size /= 2
            run += 1
        return res, run + 1

    def _fit(self, data: Any) -> None:
        import torch

        from dance.nn.trainer import Trainer
        from dance.spatial.graphs import gaussian_adjacency, pairwise_distances, search_length_scale
        from dance.spatial.spatial_domain.common import refine_domains, renumber

        # first: the trainer seeds torch, now that it is imported, and records every training of this fit
        trainer = Trainer(self.name, seed=self.seed, device=self.device_)
        p = self.params
        key = "spatial_histology" if p.histology else self.keys.spatial_key
        coords = np.asarray(data.obsm[key], dtype=np.float64)
        if not p.histology:
            coords = coords[:, :2]
        distances = pairwise_distances(coords)
        length = search_length_scale(distances, p.p)
        adj = torch.as_tensor(gaussian_adjacency(distances, length), device=self.device_)
        x = torch.as_tensor(np.ascontiguousarray(data.obsm["X_pca"], dtype=np.float32), device=self.device_)
        trials = 0
        resolution = p.resolution
        if p.n_clusters is not None and p.init == "louvain":
            resolution, trials = self._search_resolution(trainer, x, adj, p.n_clusters)
        labels, info = self._train(trainer, "train", x, adj, resolution, p.max_epochs)
        # the final training is stage "train"; the resolution search's trials come before it
        self.training_history_ = trainer.history
        if p.refine:
            labels = refine_domains(labels, np.asarray(data.obsm[self.keys.spatial_key], dtype=np.float64)[:, :2])
        self.labels_ = renumber(labels)
        used_image = bool(data.uns.get("histology", {}).get("used", False)) and p.histology
        self.notes_ = {
            "length_scale": round(float(length), 6),
            "histology_used": used_image,
            "resolution": round(float(resolution), 4),
            "resolution_trials": trials,
            "n_domains_found": int(self.labels_.max()) + 1,
            **info,
        }

    def _predict(self, data: Any) -> Any:
        return self.labels_
