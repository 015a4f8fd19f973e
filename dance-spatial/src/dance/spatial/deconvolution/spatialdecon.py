"""SpatialDecon: log-normal non-negative regression of spot expression on cell profiles."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from pydantic import Field

from dance.core.models.base import ModelParams
from dance.core.tasks.cell_type_deconvolution import CellTypeDeconvolutionModel
from dance.spatial.deconvolution.signatures import dense, signature_matrix

# SpatialDecon's "dsp" error model: log2-scale technical SD of a raw count by its log2 value
_DSP_BREAKS = np.array([-1e-6, 2, 2.5, 3, 3.5, 4, 4.5, 5, 5.5, 6])
_DSP_SDS = np.array([1.5, 1.383, 1.191, 0.800, 0.48, 0.301, 0.301, 0.301, 0.263, 0.235, 0.235])


def dsp_technical_sd(raw: np.ndarray) -> np.ndarray:
    """SpatialDecon's ``runErrorModel(platform="dsp")``: expected log2-scale SD of each raw count."""
    m = np.log2(np.maximum(raw, 1e-3))
    return _DSP_SDS[np.searchsorted(_DSP_BREAKS, m, side="right")]


def lognormal_fit(
    y: np.ndarray, profiles: np.ndarray, background: float, weights: np.ndarray, epsilon: float, maxit: int = 1000
) -> np.ndarray:
    """Minimise ``sum_g w_g (log max(y_g, eps) - log(bg + (X beta)_g))^2`` over ``beta >= 0``
    (L-BFGS-B; logNormReg's ``lognlm`` with ``lik=FALSE`` as SpatialDecon calls it). Genes with
    zero weight are ignored."""
    use = weights > 0
    y, x, w = np.log(np.maximum(y[use], epsilon)), profiles[use], weights[use]

    from scipy.optimize import minimize

    def loss(beta: np.ndarray) -> tuple[float, np.ndarray]:
        fitted = background + x @ beta
        residual = y - np.log(fitted)
        value = float((w * residual**2).sum())
        gradient = -2.0 * x.T @ (w * residual / fitted)
        return value, gradient

    start = np.full(x.shape[1], np.exp(y).mean() / max(x.mean() * x.shape[1], 1e-12))
    result = minimize(loss, start, jac=True, method="L-BFGS-B", bounds=[(0, None)] * x.shape[1], options={"maxiter": maxit})
    return np.maximum(result.x, 0.0)


class SpatialDecon(CellTypeDeconvolutionModel):
    """SpatialDecon (Danaher et al. 2022, Nat Commun 13:385).

    Each spot's normalised expression ``y`` is modelled as ``bg + X beta`` with log-normal
    errors: ``beta >= 0`` minimises ``sum_g w_g (log y_g - log(bg + X_g beta))^2`` (logNormReg's
    ``lognlm``, L-BFGS-B, at most 1,000 iterations; zeros raised to the smallest non-zero
    value). As in ``runspatialdecon`` for spatial count data, ``y`` is the spot's counts scaled
    to the mean library size of all spots, the background is a constant 0.1, and the weights are
    1 / (technical SD of each raw count) from SpatialDecon's ``dsp`` error model. The cell profile
    matrix ``X`` is the mean expression of each type's cells (``create_profile_matrix``; its
    constant scaling factor does not change the proportions). SpatialDecon's ``algorithm2`` then
    drops data points whose log2 residual (both sides floored at 0.5) exceeds 3 and refits.
    Proportions are ``beta`` scaled to sum to one.

    Deviations: the genes are all genes shared with the reference (SpatialDecon ships curated
    profile matrices such as safeTME); a pseudo-spot reference gives profiles by non-negative
    least squares.
    """

    name = "spatialdecon"

    class Params(ModelParams):
        background: float = Field(0.1, ge=0, description="expected background added to every fitted value")
        weighted: bool = Field(True, description="weight data points by the inverse technical SD of their raw counts")
        resid_thresh: float = Field(3.0, gt=0, description="log2 residual beyond which a data point is an outlier and refitted without")
        lower_thresh: float = Field(0.5, gt=0, description="floor of observed and fitted values before log2 residuals")
        maxit: int = Field(1000, ge=1, description="maximum L-BFGS-B iterations per spot")

    quick_params = {"maxit": 50}

    def _fit(self, data: Any) -> None:
        genes = data.spots.var_names.intersection(data.reference.var_names)
        self.cell_types_ = self.cell_types(data)
        profiles = signature_matrix(data.reference[:, genes], self.keys, self.cell_types_).T  # genes x types
        keep = profiles.sum(axis=1) > 0
        self.genes_ = genes[keep]
        self.profiles_ = profiles[keep]

    def _predict(self, data: Any) -> Any:
        p = self.params
        raw = dense(data.spots[:, self.genes_].X)
        all_totals = np.asarray(dense(data.spots.X).sum(axis=1)).ravel()
        mean_total = all_totals.mean() if all_totals.mean() > 0 else 1.0
        norm = raw / np.where(all_totals > 0, all_totals, 1.0)[:, None] * mean_total
        positive = norm[norm > 0]
        epsilon = float(positive.min()) if positive.size else 1e-3
        weights = 1.0 / dsp_technical_sd(raw) if p.weighted else np.ones_like(raw)
        betas = np.zeros((norm.shape[0], self.profiles_.shape[1]))
        outliers = 0
        for s in range(norm.shape[0]):
            beta = lognormal_fit(norm[s], self.profiles_, p.background, weights[s], epsilon, p.maxit)
            fitted = self.profiles_ @ beta + p.background
            residual = np.log2(np.maximum(norm[s], p.lower_thresh)) - np.log2(np.maximum(fitted, p.lower_thresh))
            bad = np.abs(residual) > p.resid_thresh
            if bad.any():
                outliers += int(bad.sum())
                beta = lognormal_fit(norm[s], self.profiles_, p.background, np.where(bad, 0.0, weights[s]), epsilon, p.maxit)
            betas[s] = beta
        totals = betas.sum(axis=1, keepdims=True)
        proportions = np.where(totals > 0, betas / np.where(totals > 0, totals, 1.0), 1.0 / betas.shape[1])
        self.notes_ = {"n_genes": len(self.genes_), "outlier_fraction": round(outliers / max(norm.size, 1), 5)}
        return pd.DataFrame(proportions, index=data.spots.obs_names, columns=self.cell_types_)
