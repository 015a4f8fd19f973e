"""Gene activity + joint PCA: the simplest integration of unpaired RNA and ATAC cells."""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
from pydantic import Field

from dance.core.errors import DanceInputError
from dance.core.models.base import ModelParams
from dance.core.tasks.multiomics_integration import MultiomicsIntegrationModel


class GeneActivityPCA(MultiomicsIntegrationModel):
    """Chromatin accessibility is converted to gene activity (peak counts over gene body and
    promoter, Signac's GeneActivity, Stuart et al. 2021, Nat Methods 18:1333); RNA and gene
    activity of the shared genes are log-normalised and standardised within each modality, and one
    PCA of both sets of cells gives the shared space (the feature-conversion approach of Seurat v3,
    Stuart et al. 2019, Cell 177:1888)."""

    name = "geneactivity_pca"
    transductive = True
    needs_counts = True

    class Params(ModelParams):
        n_comps: int = Field(30, ge=2)
        upstream: int = Field(2000, ge=0, description="promoter length before the TSS, in bases")
        n_top_genes: int = Field(2000, ge=10, description="most variable shared genes used")
        annotation: str | None = Field(
            None,
            description="gene coordinates in the peaks' genome build: a build (GRCh38, GRCm39, mm10) or a GTF / GFF3 / BED / table "
            "file; None: the build in mod2.uns['genome'] (or mod1's), else GRCh38",
        )

    def _log_normalised(self, matrix: Any) -> np.ndarray:
        x = matrix.toarray() if sp.issparse(matrix) else np.asarray(matrix, dtype=np.float64)
        x = x.astype(np.float64)
        totals = np.clip(x.sum(axis=1, keepdims=True), 1e-12, None)
        return np.log1p(x / totals * 1e4)

    def _fit(self, data: Any) -> None:
        from sklearn.decomposition import PCA

        from dance.core.validation import counts_matrix
        from dance.multi.features import gene_activity
        from dance.multi.genomes import genome_of, read_annotation

        build = self.params.annotation or genome_of(data) or "GRCh38"
        genes = read_annotation(build).dropna(subset=["chrom", "start", "end"]).drop_duplicates("gene_name")
        activity = gene_activity(data.mod2, genes, upstream=self.params.upstream, keys=self.keys)
        rna_counts = counts_matrix(data.mod1, self.keys, role="mod1")
        shared = data.mod1.var_names.intersection(activity.var_names)
        if len(shared) < 2:
            raise DanceInputError(
                f"only {len(shared)} gene(s) of mod1 have gene activity in mod2 with the {build} annotation; mod1.var_names must be "
                "gene symbols of the peaks' genome build (set annotation=)",
                field="mod1.var_names",
            )
        rna = self._log_normalised(rna_counts)[:, data.mod1.var_names.get_indexer(shared)]
        act = self._log_normalised(activity[:, shared].X)
        variable = (rna.std(axis=0) > 0) & (act.std(axis=0) > 0)
        rna, act = rna[:, variable], act[:, variable]
        if rna.shape[1] > self.params.n_top_genes:
            keep = np.argsort(-rna.var(axis=0))[: self.params.n_top_genes]
            rna, act = rna[:, keep], act[:, keep]

        def standardise(x: np.ndarray) -> np.ndarray:
            return np.clip((x - x.mean(axis=0)) / x.std(axis=0), -10, 10)

        joint = np.vstack([standardise(rna), standardise(act)])
        n = int(min(self.params.n_comps, joint.shape[1] - 1, joint.shape[0] - 1))
        embedding = PCA(n_components=n, random_state=self.seed).fit_transform(joint).astype(np.float32)
        self.embeddings_ = (embedding[: data.mod1.n_obs], embedding[data.mod1.n_obs :])
        self.notes_ = {"shared_genes": int(rna.shape[1]), "annotation": str(build)}

    def _predict(self, data: Any) -> Any:
        return self.embeddings_
