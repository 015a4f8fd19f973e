"""Gene activity + joint PCA: the simplest integration of unpaired RNA and ATAC cells.

:func:`gene_activity_pca` is the shared space of both gene-activity baselines: ``geneactivity_pca``
returns it as is, ``geneactivity_harmony`` corrects it with Harmony.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp
from pydantic import Field

from dance.core.errors import DanceInputError
from dance.core.models.base import ModelParams
from dance.core.tasks.multiomics_integration import MultiomicsIntegrationModel

if TYPE_CHECKING:
    from dance.core.containers import Modalities
    from dance.core.keys import DataKeys

__all__ = ["GeneActivityPCA", "GeneActivityParams", "gene_activity_pca"]


class GeneActivityParams(ModelParams):
    """Parameters of the gene activity and the joint PCA (shared by the gene-activity baselines)."""

    n_comps: int = Field(30, ge=2, description="principal components of the joint PCA of both modalities")
    upstream: int = Field(2000, ge=0, description="promoter length before the TSS, in bases")
    n_top_genes: int = Field(2000, ge=10, description="most variable shared genes used")
    annotation: str | None = Field(
        None,
        description="gene coordinates in the peaks' genome build: a build (GRCh38, GRCm39, mm10) or a GTF / GFF3 / BED / table "
        "file; None: the build in mod2.uns['genome'] (or mod1's), else GRCh38",
    )


def _log_normalised(matrix: Any) -> np.ndarray:
    x = matrix.toarray() if sp.issparse(matrix) else np.asarray(matrix, dtype=np.float64)
    x = x.astype(np.float64)
    totals = np.clip(x.sum(axis=1, keepdims=True), 1e-12, None)
    return np.log1p(x / totals * 1e4)


def gene_activity_pca(
    data: Modalities, params: GeneActivityParams, *, keys: DataKeys, seed: int
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """RNA (``mod1``) and ATAC (``mod2``) cells in one PCA space of gene activity.

    ``mod2``'s peaks become gene activity (counts over each gene's body and ``upstream`` bases
    before its TSS, with the coordinates of ``params.annotation``); the genes both modalities
    share are log-normalised (10,000 per cell), genes constant in either modality dropped, the
    ``n_top_genes`` most variable in RNA kept, each standardised within its modality (clipped at
    10), and one PCA of all cells gives the space.

    Returns
    -------
    tuple
        ``(mod1 cells x PCs, mod2 cells x PCs, notes)``, the embeddings float32, the notes the
        number of shared genes used and the annotation.
    """
    from sklearn.decomposition import PCA

    from dance.core.validation import counts_matrix
    from dance.multi.features import gene_activity
    from dance.multi.genomes import genome_of, read_annotation

    build = params.annotation or genome_of(data) or "GRCh38"
    genes = read_annotation(build).dropna(subset=["chrom", "start", "end"]).drop_duplicates("gene_name")
    activity = gene_activity(data.mod2, genes, upstream=params.upstream, keys=keys)
    rna_counts = counts_matrix(data.mod1, keys, role="mod1")
    shared = data.mod1.var_names.intersection(activity.var_names)
    if len(shared) < 2:
        raise DanceInputError(
            f"only {len(shared)} gene(s) of mod1 have gene activity in mod2 with the {build} annotation; mod1.var_names must be "
            "gene symbols of the peaks' genome build (set annotation=)",
            field="mod1.var_names",
        )
    rna = _log_normalised(rna_counts)[:, data.mod1.var_names.get_indexer(shared)]
    act = _log_normalised(activity[:, shared].X)
    variable = (rna.std(axis=0) > 0) & (act.std(axis=0) > 0)
    rna, act = rna[:, variable], act[:, variable]
    if rna.shape[1] > params.n_top_genes:
        keep = np.argsort(-rna.var(axis=0))[: params.n_top_genes]
        rna, act = rna[:, keep], act[:, keep]

    def standardise(x: np.ndarray) -> np.ndarray:
        return np.clip((x - x.mean(axis=0)) / x.std(axis=0), -10, 10)

    joint = np.vstack([standardise(rna), standardise(act)])
    n = int(min(params.n_comps, joint.shape[1] - 1, joint.shape[0] - 1))
    embedding = PCA(n_components=n, random_state=seed).fit_transform(joint).astype(np.float32)
    notes = {"shared_genes": int(rna.shape[1]), "annotation": str(build)}
    return embedding[: data.mod1.n_obs], embedding[data.mod1.n_obs :], notes


class GeneActivityPCA(MultiomicsIntegrationModel):
    """Chromatin accessibility is converted to gene activity (peak counts over gene body and
    promoter, Signac's GeneActivity, Stuart et al. 2021, Nat Methods 18:1333); RNA and gene
    activity of the shared genes are log-normalised and standardised within each modality, and one
    PCA of both sets of cells gives the shared space (the feature-conversion approach of Seurat v3,
    Stuart et al. 2019, Cell 177:1888)."""

    name = "geneactivity_pca"
    transductive = True
    needs_counts = True

    class Params(GeneActivityParams):
        pass

    def _fit(self, data: Any) -> None:
        emb1, emb2, self.notes_ = gene_activity_pca(data, self.params, keys=self.keys, seed=self.seed)
        self.embeddings_ = (emb1, emb2)

    def _predict(self, data: Any) -> Any:
        return self.embeddings_
