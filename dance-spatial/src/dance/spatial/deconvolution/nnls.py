"""Non-negative least squares deconvolution on reference signatures."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from pydantic import Field

from dance.core.models.base import ModelParams
from dance.core.tasks.cell_type_deconvolution import CellTypeDeconvolutionModel
from dance.spatial.deconvolution.signatures import dense, signature_matrix


class NNLS(CellTypeDeconvolutionModel):
    """Each spot's expression is modelled as a non-negative combination of the reference's
    cell-type signatures (mean expression per cell of each type) over the shared genes, solved by
    non-negative least squares (Lawson & Hanson 1974, Solving Least Squares Problems); the weights,
    normalised to sum to one, are the cell-type proportions. The baseline of deconvolution
    benchmarks (e.g. Li et al. 2022, Nat Methods 19:662)."""

    name = "nnls"

    class Params(ModelParams):
        min_mean: float = Field(0.0, ge=0, description="drop genes whose mean reference signature is at most this")

    def _fit(self, data: Any) -> None:
        genes = data.spots.var_names.intersection(data.reference.var_names)
        reference = data.reference[:, genes]
        self.cell_types_ = self.cell_types(data)
        signature = signature_matrix(reference, self.keys, self.cell_types_)
        keep = signature.mean(axis=0) > self.params.min_mean
        self.genes_ = genes[keep]
        self.signature_ = signature[:, keep]

    def _predict(self, data: Any) -> Any:
        from scipy.optimize import nnls

        spots = dense(data.spots[:, self.genes_].X)
        weights = np.vstack([nnls(self.signature_.T, spot)[0] for spot in spots])
        totals = weights.sum(axis=1, keepdims=True)
        weights = np.where(totals > 0, weights / np.where(totals > 0, totals, 1), 1.0 / weights.shape[1])
        return pd.DataFrame(weights, index=data.spots.obs_names, columns=self.cell_types_)
