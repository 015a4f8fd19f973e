"""Centroid-level OT integration as a dance model (wraps :func:`~.centroid_ot.integrate_centroids`)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from dance.core.errors import DanceInputError
from dance.core.tasks.batch_integration import BatchIntegrationModel
from dance.core.transforms.pipeline import Step
from dance.single.batch_integration.input_embedding import EmbeddingInput, embedding_pipeline, input_embedding

__all__ = ["OTCentroids"]


class OTCentroids(BatchIntegrationModel):
    """Centroid optimal-transport integration for very large data (scBIOT's
    ``integrate_centroids``; unbalanced entropic OT: Chizat et al. 2018, Math Comp 87:2563;
    FAISS k-means: Johnson, Douze & Jégou 2019, IEEE Trans Big Data 7:535).

    Per batch, FAISS k-means centroids (up to ``n_centroids_per_batch``, fitted on up to
    ``max_samples_per_batch`` cells) weighted by their cluster sizes; unbalanced entropic OT of
    every batch's centroids onto the reference batch's centroids (the largest batch, or
    ``reference``); each cell then moves by the inverse-distance-weighted displacement of its
    ``k_interp`` nearest centroids of its own batch. This model runs it on an in-memory AnnData;
    for on-disk data of any size call
    :func:`dance.single.batch_integration.optimal_transport.centroid_integration.integrate_centroids` directly.

    With ``supervised=True``, centroids take the majority known label of their cells and
    transport between different known labels costs ``label_penalty`` more. Small batches get at
    most one centroid per ``min_cells_per_centroid`` (10) cells, so that each displacement is an
    average (a deviation from scBIOT, whose one-centroid-per-cell limit leaves the field
    unsmoothed). Predicts no labels, so unseen cell types need no special treatment.
    """

    name = "ot_centroids"
    transductive = True

    class Params(EmbeddingInput):
        n_centroids_per_batch: int = Field(2048, ge=1, description="k-means centroids per batch (upper bound)")
        max_samples_per_batch: int = Field(500_000, ge=1, description="cells per batch the k-means is fitted on")
        k_interp: int = Field(8, ge=1, description="nearest centroids whose displacements each cell averages")
        chunk_size: int = Field(500_000, ge=1, description="cells per streamed chunk")
        reference: str | None = Field(None, description="reference batch; None = the largest")
        reg: float = Field(0.05, gt=0, description="entropic regularisation (relative to the mean squared distance)")
        reg_m: float = Field(1.0, gt=0, description="KL penalty on the marginals (inf = balanced OT)")
        supervised: bool = Field(False, description="penalise transport between centroids of different known labels")
        label_penalty: float = Field(1.0, ge=0, description="extra cost between different known labels")
        kmeans_iter: int = Field(10, ge=1, description="FAISS k-means iterations")
        min_cells_per_centroid: int = Field(10, ge=1, description="small batches get at most one centroid per this many cells")
        max_iter: int = Field(1000, ge=1, description="Sinkhorn iterations")
        tol: float = Field(1e-6, gt=0, description="Sinkhorn stopping threshold")
        method: Literal["sinkhorn", "sinkhorn_translation_invariant"] = Field(
            "sinkhorn_translation_invariant", description="POT's unbalanced Sinkhorn variant"
        )

    quick_params = {"n_centroids_per_batch": 16, "max_iter": 200}

    def build_pipeline(self) -> tuple[Step, ...]:
        return embedding_pipeline(self.params)

    def _fit(self, data: Any) -> None:
        import anndata as ad

        from dance.single.batch_integration.optimal_transport.centroid_integration import integrate_centroids

        p = self.params
        label_key = None
        if p.supervised:
            if self.keys.label_key not in data.obs.columns:
                raise DanceInputError(
                    f"supervised=True needs labels in obs['{self.keys.label_key}']", field=f"obs['{self.keys.label_key}']"
                )
            label_key = self.keys.label_key
        work = ad.AnnData(obs=data.obs[[c for c in (self.keys.batch_key, label_key) if c is not None]].copy())
        work.obsm["X_in"] = input_embedding(data, p)
        _, metrics = integrate_centroids(
            work,
            obsm_key="X_in",
            batch_key=self.keys.batch_key,
            out_key="X_out",
            n_centroids_per_batch=p.n_centroids_per_batch,
            max_samples_per_batch=p.max_samples_per_batch,
            k_interp=p.k_interp,
            chunk_size=p.chunk_size,
            use_gpu=self.device_.startswith("cuda"),
            gpu_device=int(self.device_.split(":")[1]) if ":" in self.device_ else 0,
            reference=p.reference,
            true_label_key=label_key,
            reg=p.reg,
            reg_m=p.reg_m,
            label_penalty=p.label_penalty,
            kmeans_iter=p.kmeans_iter,
            min_cells_per_centroid=p.min_cells_per_centroid,
            max_iter=p.max_iter,
            tol=p.tol,
            method=p.method,
            random_state=self.seed,
        )
        self.embedding_ = work.obsm["X_out"]
        self.notes_ = {
            k: v for k, v in metrics.items() if k in ("reference", "n_centroids", "n_unmatched_centroids", "ot_solver", "seconds")
        }

    def _predict(self, data: Any) -> Any:
        return self.embedding_
