"""The ``gene_mean`` baseline: each gene's mean observed (non-zero) count fills its zeros."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import scipy.sparse as sp
from pydantic import Field

from dance.core.models.base import ModelParams
from dance.core.tasks.imputation import ImputationModel
from dance.core.transforms.pipeline import step


class GeneMean(ImputationModel):
    """Baseline: every zero entry of a gene becomes the gene's mean over its observed non-zero
    counts in the training data; observed entries are kept.

    The mean is taken on the scale the task scores (``scale="log1p"``: ``expm1(mean(log1p(count)))``,
    the constant with the least squared error on log1p values) or of the counts themselves
    (``scale="counts"``). A gene without any non-zero count keeps 0. The means are learnt by
    ``fit`` and applied to any cells with the same genes (the model can be saved).
    """

    name = "gene_mean"

    class Params(ModelParams):
        scale: Literal["log1p", "counts"] = Field("log1p", description="scale of the mean: log1p of the counts (mapped back) or counts")

    default_pipeline = (step("select_counts"),)

    def _fit(self, data: Any) -> None:
        x = sp.csr_matrix(data.X, dtype=np.float64)
        x.eliminate_zeros()
        values = np.log1p(x.data) if self.params.scale == "log1p" else x.data
        sums = np.bincount(x.indices, weights=values, minlength=x.shape[1])
        observed = np.bincount(x.indices, minlength=x.shape[1])
        means = np.divide(sums, observed, out=np.zeros(x.shape[1]), where=observed > 0)
        self.gene_means_ = (np.expm1(means) if self.params.scale == "log1p" else means).astype(np.float32)
        self.notes_ = {"gene_mean_genes_without_counts": int((observed == 0).sum())}

    def _fitted_state(self) -> tuple[dict[str, Any], dict[str, Any]]:
        return {}, {"gene_means": self.gene_means_}

    def _restore_state(self, values: dict[str, Any], arrays: dict[str, Any]) -> None:
        self.gene_means_ = np.asarray(arrays["gene_means"], dtype=np.float32)

    def _predict(self, data: Any) -> Any:
        x = data.X.toarray() if sp.issparse(data.X) else np.array(data.X)
        x = x.astype(np.float32)
        return np.where(x == 0, self.gene_means_[None, :], x)
