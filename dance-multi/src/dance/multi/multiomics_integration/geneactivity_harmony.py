"""Gene activity + joint PCA + Harmony across the two modalities."""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import Field

from dance.core.tasks.multiomics_integration import MultiomicsIntegrationModel
from dance.multi.multiomics_integration.geneactivity_pca import GeneActivityParams, gene_activity_pca


class GeneActivityHarmony(MultiomicsIntegrationModel):
    """The space of ``geneactivity_pca`` (ATAC converted to gene activity, Signac's GeneActivity;
    one PCA of both modalities' log-normalised, standardised shared genes) corrected by Harmony
    (Korsunsky et al. 2019, Nat Methods 16:1289) with the modality as the batch: soft k-means with a
    diversity penalty that favours clusters holding cells of both modalities, and a per-cluster
    linear correction of the PCs. The "Harmony" baseline of the GLUE paper (Cao & Gao 2022, Nat
    Biotechnol 40:1458) and Signac's integration of unpaired RNA and ATAC. Harmony is dance-single's
    :func:`~dance.single.batch_integration.harmony.harmonize`, on ``device``; its random draws come
    from the model's seed."""

    name = "geneactivity_harmony"
    transductive = True
    needs_counts = True

    class Params(GeneActivityParams):
        theta: float = Field(2.0, ge=0, description="Harmony's diversity penalty (0: no push towards clusters mixing the modalities)")
        sigma: float = Field(0.1, gt=0, description="Harmony's soft k-means bandwidth (entropy regularisation)")
        n_clusters: int | None = Field(None, ge=1, description="Harmony's clusters; min(round(N/30), 100) when unset")
        lamb: float | None = Field(
            None, ge=0, description="ridge penalty of the correction; 0.2 x each modality's expected cells in a cluster when unset"
        )
        max_iter_harmony: int = Field(10, ge=1, description="maximum Harmony iterations")

    def _fit(self, data: Any) -> None:
        from dance.single.batch_integration.harmony import harmonize

        emb1, emb2, notes = gene_activity_pca(data, self.params, keys=self.keys, seed=self.seed)
        p = self.params
        result = harmonize(
            np.vstack([emb1, emb2]),
            np.repeat(["mod1", "mod2"], [emb1.shape[0], emb2.shape[0]]),
            theta=p.theta,
            sigma=p.sigma,
            n_clusters=p.n_clusters,
            lamb=p.lamb,
            max_iter_harmony=p.max_iter_harmony,
            seed=self.seed,
            device=self.device_,
            progress=True,
        )
        embedding = np.asarray(result.embedding, dtype=np.float32)
        self.embeddings_ = (embedding[: emb1.shape[0]], embedding[emb1.shape[0] :])
        self.notes_ = {
            **notes,
            "harmony_iterations": result.n_iterations,
            "harmony_converged": result.converged,
            "harmony_clusters": int(result.centroids.shape[0]),
        }

    def _predict(self, data: Any) -> Any:
        return self.embeddings_
