"""CARD: deconvolution with a conditional autoregressive spatial prior on the proportions."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from pydantic import Field

from dance.core.models.base import ModelParams
from dance.core.tasks.cell_type_deconvolution import CellTypeDeconvolutionModel
from dance.spatial.deconvolution.signatures import dense, signature_matrix

PHI_GRID = (0.01, 0.1, 0.3, 0.5, 0.7, 0.9, 0.99)


def card_informative_genes(
    signature: np.ndarray, genes: pd.Index, reference: Any, labels: np.ndarray | None, cell_types: list[str], *, log_fc: float = 1.25
) -> np.ndarray:
    """CARD's ``selectInfo``: marker genes of each type (log fold change of its mean expression
    over the mean of the other types above ``log_fc``), mitochondrial genes excluded, then genes
    in the top 1% of mean within-type dispersion (variance / mean) removed. Returns a mask over
    ``genes``."""
    k = signature.shape[0]
    markers = np.zeros(signature.shape[1], dtype=bool)
    for t in range(k):
        rest = signature[np.arange(k) != t].mean(axis=0) if k > 1 else np.zeros(signature.shape[1])
        fold = np.log(signature[t] + 1e-6) - np.log(rest + 1e-6)
        markers |= (fold > log_fc) & (signature[t] > 0)
    markers &= ~np.asarray(genes.astype(str).str.lower().str.startswith("mt-"), dtype=bool)
    if labels is None or markers.sum() < 2:
        return markers
    x = dense(reference.X[:, markers])
    dispersions = []
    for t in cell_types:
        cells = x[labels == t]
        mean = cells.mean(axis=0)
        variance = cells.var(axis=0, ddof=1) if len(cells) > 1 else np.zeros_like(mean)
        dispersions.append(np.divide(variance, mean, out=np.full_like(mean, np.nan), where=mean > 0))
    mean_dispersion = np.nanmean(np.vstack(dispersions), axis=0)
    threshold = np.nanquantile(mean_dispersion, 0.99)
    keep = np.flatnonzero(markers)[~(mean_dispersion >= threshold)]
    mask = np.zeros_like(markers)
    mask[keep] = True
    return mask


def card_kernel(coords: np.ndarray, sigma: float = 0.1) -> np.ndarray:
    """Gaussian kernel ``exp(-d^2 / 2 sigma^2)`` on coordinates shifted to 0 and divided by their
    largest value (CARD's normalisation); zero diagonal."""
    from scipy.spatial.distance import cdist

    shifted = coords - coords.min(axis=0)
    scale = shifted.max()
    shifted = shifted / (scale if scale > 0 else 1.0)
    kernel = np.exp(-cdist(shifted, shifted, "sqeuclidean") / (2 * sigma**2))
    np.fill_diagonal(kernel, 0.0)
    return kernel


def card_fit(
    x: np.ndarray,
    basis: np.ndarray,
    kernel: np.ndarray | None,
    phi: float,
    v_init: np.ndarray,
    *,
    max_iter: int = 1000,
    epsilon: float = 1e-4,
    sigma_e2: float = 0.1,
) -> dict[str, Any]:
    """CARD's constrained maximum a posteriori fit for one ``phi`` (Ma & Zhou 2022, Methods).

    Model: ``X = B V^T + E`` (``x``: spots x genes, ``basis`` B: genes x types, V >= 0: spots x
    types) with ``E ~ N(0, sigma_e2)`` and, for each type, ``V_k ~ N(b_k 1, lambda_k L^-1)`` with
    the CAR precision ``L = D - phi W`` (``W`` the kernel, ``D`` its row sums) and an inverse-gamma
    (1, n/2) prior on ``lambda_k``. Each iteration updates ``lambda`` (posterior mode), ``b``
    (generalised least squares) and then V column by column by the multiplicative rule that
    keeps it non-negative. Stops after at least 5 iterations when V changes by less than
    ``epsilon`` relative to its norm.

    CARD stops when the root-mean-square change of V or the relative change of the objective
    falls below ``epsilon``. At the data scale CARD imposes (data summing to 0.1, so V is of
    order 1e-6, and an objective dominated by terms that do not move) both tests pass within
    the first iterations, long before the fit converges; here V's change is measured relative
    to its norm and the objective only chooses ``phi``. The objective omits the constant
    ``-(genes x spots / 2) log(sigma_e2)``.
    """
    n, k = v_init.shape
    v = v_init.copy()
    utu = basis.T @ basis
    xtu = x @ basis
    trace_xxt = float((x * x).sum())
    alpha, beta = 1.0, n / 2.0
    if kernel is not None:
        degree = kernel.sum(axis=1)
        laplacian = np.diag(degree) - phi * kernel
        total_l = float(laplacian.sum())
    else:
        degree = np.zeros(n)
        laplacian = np.zeros((n, n))
        total_l = 0.0
    b = np.zeros(k)
    lam = np.full(k, 10.0)

    def quadratic(v: np.ndarray, b: np.ndarray) -> np.ndarray:
        centred = v - b[None, :]
        return np.einsum("ik,ik->k", centred, laplacian @ centred)

    def objective(v: np.ndarray, b: np.ndarray, lam: np.ndarray) -> float:
        # CARD's log posterior without its constant -(genes x spots / 2) log(sigma_e2): at CARD's data
        # scale that constant dwarfs everything else and would hide every change of the objective
        norm = trace_xxt - 2.0 * float((xtu * v).sum()) + float(np.trace(utu @ (v.T @ v)))
        log_x = -0.5 * norm / sigma_e2
        log_v = -n * 0.5 * np.log(lam).sum() - 0.5 * (quadratic(v, b) / lam).sum()
        log_prior = -(alpha + 1.0) * np.log(lam).sum() - (beta / lam).sum()
        return float(log_x + log_v + log_prior)

    obj = objective(v, b, lam)
    v_old = v.copy()
    iteration = 0
    for iteration in range(max_iter):
        lam = (quadratic(v, b) / 2.0 + beta) / (n / 2.0 + alpha + 1.0)
        if kernel is not None and total_l != 0:
            b = (laplacian @ v).sum(axis=0) / total_l
            part1 = sigma_e2 * (degree[:, None] * v + phi * degree[:, None] * b[None, :])
            part2 = sigma_e2 * (phi * (kernel @ v) + degree[:, None] * b[None, :])
        else:
            part1 = part2 = np.zeros_like(v)
        for t in range(k):
            denominator = lam[t] * (v @ utu[:, t]) + part1[:, t]
            numerator = lam[t] * xtu[:, t] + part2[:, t]
            v[:, t] *= np.divide(numerator, denominator, out=np.zeros(n), where=denominator > 0)
        obj = objective(v, b, lam)
        moved = np.sqrt(((v - v_old) ** 2).sum() / max(float((v_old**2).sum()), 1e-300))
        if (np.isnan(obj) or moved < epsilon) and iteration > 5:
            break
        v_old = v.copy()
    return {"V": v, "objective": obj, "iterations": iteration + 1, "lambda": lam, "b": b}


class CARD(CellTypeDeconvolutionModel):
    """CARD (Ma & Zhou 2022, Nat Biotechnol 40:1349-1359).

    Non-negative regression of spot expression on the reference's cell-type signatures with a
    conditional autoregressive (CAR) prior that makes the proportions of each type spatially
    correlated: ``V_k ~ N(b_k, lambda_k (D - phi W)^-1)`` with ``W`` a Gaussian kernel
    (``sigma`` = 0.1 on coordinates scaled to [0, 1]) and ``phi`` chosen from
    (0.01, 0.1, 0.3, 0.5, 0.7, 0.9, 0.99) by the objective. The signature of a type is the
    mean count per cell (CARD's ``createscRef`` with a single sample: relative expression times
    mean library size); informative genes are the markers of each type (log fold change > 1.25
    against the other types) minus mitochondrial genes and the 1% most dispersed genes; each
    spot's expression over those genes is scaled to sum to one, then both data and signatures
    are rescaled as CARD does (data to total 0.1, signatures to mean 0.1) and V starts from a
    Dirichlet(10) draw, here scaled so that ``B V^T`` has the data's total. The proportions are the rows of V scaled to sum to one (see
    :func:`card_fit` for the updates).

    Spots without coordinates are fitted without the spatial prior (``phi`` irrelevant); a
    pseudo-spot reference gives signatures by non-negative least squares
    (:func:`~dance.spatial.deconvolution.signatures.signature_matrix`) and skips the dispersion
    filter. Cell types absent from the reference cannot be predicted. CARD drops spots with few
    counts before fitting; here every spot is kept (a spot with no counts on the informative
    genes is driven by its neighbours).
    """

    name = "card"

    class Params(ModelParams):
        sigma: float = Field(0.1, gt=0, description="bandwidth of the Gaussian kernel on coordinates scaled to [0, 1]")
        max_iter: int = Field(1000, ge=1, description="maximum iterations per phi")
        epsilon: float = Field(1e-4, gt=0, description="convergence threshold")
        log_fc: float = Field(1.25, description="minimum log fold change of a marker gene against the other types")
        spatial: bool = Field(True, description="use the spatial prior when the spots have coordinates")

    quick_params = {"max_iter": 20}

    def _fit(self, data: Any) -> None:
        spots, reference = data.spots, data.reference
        genes = spots.var_names.intersection(reference.var_names)
        reference = reference[:, genes]
        self.cell_types_ = self.cell_types(data)
        signature = signature_matrix(reference, self.keys, self.cell_types_)
        labels = reference.obs[self.keys.label_key].astype(str).to_numpy() if self.keys.label_key in reference.obs.columns else None
        mask = card_informative_genes(signature, genes, reference, labels, self.cell_types_, log_fc=self.params.log_fc)
        if mask.sum() < 2:
            mask = signature.sum(axis=0) > 0
        self.genes_ = genes[mask]
        self.signature_ = signature[:, mask]

    def _predict(self, data: Any) -> Any:
        from threadpoolctl import threadpool_limits

        p = self.params
        x = dense(data.spots[:, self.genes_].X)
        detected = x.sum(axis=0) > 0
        x, basis = x[:, detected], self.signature_[:, detected].T
        totals = x.sum(axis=1, keepdims=True)
        x = np.divide(x, totals, out=np.zeros_like(x), where=totals > 0)
        x = x * 0.1 / max(x.sum(), 1e-12)
        basis = basis * 0.1 / max(basis.mean(), 1e-12)
        coords_key = self.keys.spatial_key
        use_spatial = p.spatial and coords_key in data.spots.obsm and data.spots.n_obs > 1
        kernel = card_kernel(np.asarray(data.spots.obsm[coords_key], dtype=np.float64)[:, :2], p.sigma) if use_spatial else None
        rng = np.random.default_rng(self.seed)
        v_init = rng.dirichlet(np.full(basis.shape[1], 10.0), size=x.shape[0])
        # start at the scale of the data (B V^T summing to the data's total): from CARD's unit-sum
        # start the multiplicative updates need ~log(1e5)/log(1/phi) iterations just to shrink V
        v_init *= x.sum() / max(float((v_init @ basis.T).sum()), 1e-300)
        best: dict[str, Any] | None = None
        # the iterations multiply small matrices: one BLAS thread is faster than several
        with threadpool_limits(limits=1, user_api="blas"):
            for phi in PHI_GRID if kernel is not None else (0.0,):
                result = card_fit(x, basis, kernel, phi, v_init, max_iter=p.max_iter, epsilon=p.epsilon)
                if best is None or result["objective"] >= best["objective"]:
                    best = {**result, "phi": phi}
        assert best is not None
        v = best["V"]
        totals = v.sum(axis=1, keepdims=True)
        proportions = np.where(totals > 0, v / np.where(totals > 0, totals, 1.0), 1.0 / v.shape[1])
        self.notes_ = {
            "n_genes": int(basis.shape[0]),
            "spatial_prior": kernel is not None,
            "phi": best["phi"],
            "iterations": int(best["iterations"]),
        }
        return pd.DataFrame(proportions, index=data.spots.obs_names, columns=self.cell_types_)
