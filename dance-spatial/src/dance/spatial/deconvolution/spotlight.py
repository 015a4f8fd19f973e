"""SPOTlight: seeded non-negative matrix factorisation of the reference, then two NNLS steps."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import Field

from dance.core.models.base import ModelParams
from dance.core.tasks.cell_type_deconvolution import CellTypeDeconvolutionModel
from dance.spatial.deconvolution.signatures import dense


def mean_auc(x: np.ndarray, labels: np.ndarray, types: list[str]) -> np.ndarray:
    """Types x genes: for each type, the AUC of each gene against every other type, averaged
    over the other types (scran's ``scoreMarkers`` ``mean.AUC``)."""
    from scipy.stats import rankdata

    k = len(types)
    auc = np.zeros((k, k, x.shape[1]))
    groups = [np.flatnonzero(labels == t) for t in types]
    for a in range(k):
        for b in range(a + 1, k):
            first, second = groups[a], groups[b]
            if len(first) == 0 or len(second) == 0:
                auc[a, b] = auc[b, a] = 0.5
                continue
            ranks = rankdata(x[np.concatenate([first, second])], axis=0)
            u = ranks[: len(first)].sum(axis=0) - len(first) * (len(first) + 1) / 2
            auc[a, b] = u / (len(first) * len(second))
            auc[b, a] = 1.0 - auc[a, b]
    others = ~np.eye(k, dtype=bool)
    return np.stack([auc[t][others[t]].mean(axis=0) if k > 1 else np.full(x.shape[1], 0.5) for t in range(k)])


def ns_nmf(
    v: np.ndarray, w: np.ndarray, h: np.ndarray, *, theta: float = 0.5, max_iter: int = 2000, tol: float = 1e-6, check_every: int = 10
) -> tuple[np.ndarray, np.ndarray, int]:
    """Non-smooth NMF (Pascual-Montano et al. 2006, IEEE TPAMI 28:403): ``V ~ W S H`` with the
    smoothing matrix ``S = (1 - theta) I + theta / k 11^T``, fitted by the multiplicative updates
    that decrease the Kullback-Leibler divergence (as the NMF R package's ``nsNMF`` does: H with
    ``W S`` as basis, then W with ``S H`` as coefficients). Stops when the divergence changes by
    less than ``tol`` (relative) between checks every ``check_every`` iterations."""
    k = w.shape[1]
    smooth = (1 - theta) * np.eye(k) + theta / k * np.ones((k, k))
    eps = 1e-12

    def divergence(w: np.ndarray, h: np.ndarray) -> float:
        fitted = w @ smooth @ h + eps
        return float((v * np.log((v + eps) / fitted) - v + fitted).sum())

    previous = divergence(w, h)
    iteration = 0
    for iteration in range(1, max_iter + 1):
        ws = w @ smooth
        h *= (ws.T @ (v / (ws @ h + eps))) / (ws.sum(axis=0)[:, None] + eps)
        sh = smooth @ h
        w *= ((v / (w @ sh + eps)) @ sh.T) / (sh.sum(axis=1)[None, :] + eps)
        if iteration % check_every == 0:
            current = divergence(w, h)
            if abs(previous - current) <= tol * max(abs(previous), eps):
                break
            previous = current
    return w, h, iteration


def nnls_gram(gram: np.ndarray, rhs: np.ndarray, *, max_iter: int = 100, tol: float = 1e-8) -> np.ndarray:
    """Non-negative least squares for many right-hand sides at once, from the normal equations:
    each column ``x`` of the result minimises ``x^T G x / 2 - rhs^T x`` subject to ``x >= 0``
    (``G = A^T A``, ``rhs = A^T b``), by cyclic coordinate descent vectorised over the columns
    (the solver of SPOTlight's C++ code, after NNLM's ``c_nnls``)."""
    x = np.zeros_like(rhs, dtype=np.float64)
    gradient = -np.asarray(rhs, dtype=np.float64)  # G x - rhs
    diagonal = np.maximum(np.diag(gram), 1e-15)
    for _ in range(max_iter):
        moved = 0.0
        for i in range(gram.shape[0]):
            updated = np.maximum(0.0, x[i] - gradient[i] / diagonal[i])
            delta = updated - x[i]
            if np.any(delta):
                gradient += np.outer(gram[:, i], delta)
                x[i] = updated
                moved += float(np.abs(delta).sum())
        if moved <= tol * max(float(np.abs(x).sum()), 1e-15):
            break
    return x


def least_squares_nmf(v: np.ndarray, w: np.ndarray, *, max_iter: int = 100, tol: float = 1e-5) -> tuple[np.ndarray, np.ndarray, int]:
    """SPOTlight's NMF since its RcppML-based release (the ``run_nmf`` of its C++ code, after
    DeBruine's RcppML): ``V ~ W diag(d) H`` by alternating NNLS updates of H and W from the
    seeded W, each factor of H (across cells) and of W (across genes) scaled to sum to 1, until
    ``1 - cor(W, W_previous)`` falls below ``tol``. Returns ``(W, H, iterations)`` with factors
    in their seeded order (the C++ code sorts them by ``d``; the order carries no meaning)."""
    w = np.asarray(w, dtype=np.float64)
    iterations = 0
    while iterations < max_iter:
        iterations += 1
        previous = w.copy()
        h = nnls_gram(w.T @ w, w.T @ v)
        h /= h.sum(axis=1, keepdims=True) + 1e-15
        w = nnls_gram(h @ h.T, h @ v.T).T
        w /= w.sum(axis=0, keepdims=True) + 1e-15
        if abs(1.0 - np.corrcoef(w.ravel(), previous.ravel())[0, 1]) < tol:
            break
    h = nnls_gram(w.T @ w, w.T @ v)
    h /= h.sum(axis=1, keepdims=True) + 1e-15
    return w, h, iterations


class SPOTlight(CellTypeDeconvolutionModel):
    """SPOTlight (Elosua-Bayes et al. 2021, Nucleic Acids Res 49:e50).

    Marker genes of each cell type are scored on the log-normalised reference by the mean AUC
    against every other type (scran's ``scoreMarkers``) and kept above ``auc_threshold`` (0.8, as
    in SPOTlight's example), each gene for one type only; together with the 3,000 most variable
    genes they form the model genes. The reference is downsampled to ``n_cells`` (100) cells per
    type, each gene is scaled to unit variance, and a non-smooth NMF (``nsNMF``) with one topic
    per type is trained from seeded matrices: W holds each marker's AUC in its type's topic
    (1e-12 elsewhere), H is each cell's type membership. A type's topic profile is the median of
    its cells' H columns. Each spot, scaled gene-wise the same way, is regressed on W by NNLS
    (topic contributions), which are regressed on the types' topic profiles by NNLS; the
    result, normalised, with types below ``min_prop`` (0.01) dropped and renormalised, is the
    spot's composition.

    ``model='ls'`` follows SPOTlight's current (RcppML-based) release instead: alternating NNLS
    NMF (:func:`least_squares_nmf`), topic profiles scaled across the types, no ``min_prop`` cut
    (measured worse than the default nsNMF on every pseudo-spot set; docs/models/spatial.md).

    Deviations: variable genes come from scanpy's ``seurat`` flavour rather than scran's
    ``modelGeneVar``; a type without any gene above the AUC threshold is seeded with its 10
    best genes (SPOTlight stops). With a pseudo-spot reference (no cell labels) each pseudo-spot
    is taken as a cell of its dominant type.
    """

    name = "spotlight"

    class Params(ModelParams):
        auc_threshold: float = Field(0.8, ge=0.5, le=1, description="minimum mean AUC of a marker gene")
        n_top_markers: int | None = Field(None, ge=1, description="markers per type seeding the NMF; None: all above the threshold")
        n_hvg: int = Field(3000, ge=0, description="highly variable genes added to the markers")
        n_cells: int = Field(100, ge=2, description="reference cells per type used to train the NMF")
        model: Literal["ns", "std", "ls"] = Field(
            "ns",
            description="NMF of the reference: non-smooth KL NMF ('ns', the paper's), standard KL NMF ('std'), or the "
            "alternating least-squares NMF of SPOTlight's current release ('ls', with its scaled topic profiles)",
        )
        theta: float = Field(0.5, ge=0, lt=1, description="smoothness of nsNMF")
        max_iter: int = Field(2000, ge=1, description="maximum NMF iterations")
        tol: float = Field(1e-6, gt=0, description="relative change of the divergence that stops the NMF")
        min_prop: float = Field(0.01, ge=0, lt=1, description="drop types below this proportion in a spot")

    quick_params = {"max_iter": 50, "n_hvg": 50}

    def _labels(self, reference: Any) -> np.ndarray:
        if self.keys.label_key in reference.obs.columns:
            return reference.obs[self.keys.label_key].astype(str).to_numpy()
        proportions = reference.obsm[self.keys.proportions_key]
        frame = proportions if isinstance(proportions, pd.DataFrame) else pd.DataFrame(proportions, columns=self.cell_types_)
        return np.asarray(self.cell_types_, dtype=object)[frame[self.cell_types_].to_numpy().argmax(axis=1)].astype(str)

    def _fit(self, data: Any) -> None:
        import scanpy as sc
        from threadpoolctl import threadpool_limits

        p = self.params
        spots, reference = data.spots, data.reference
        genes = spots.var_names.intersection(reference.var_names)
        reference = reference[:, genes].copy()
        self.cell_types_ = self.cell_types(data)
        labels = self._labels(reference)
        counts = dense(reference.X)
        log_norm = np.log1p(counts / np.clip(counts.sum(axis=1, keepdims=True), 1e-12, None) * 1e4)
        # markers: mean AUC per type, unique per type
        auc = mean_auc(log_norm, labels, self.cell_types_)
        markers: dict[int, np.ndarray] = {}
        for t in range(len(self.cell_types_)):
            chosen = np.flatnonzero(auc[t] > p.auc_threshold)
            if len(chosen) == 0:
                chosen = np.argsort(-auc[t], kind="stable")[:10]
            chosen = chosen[np.argsort(-auc[t, chosen], kind="stable")]
            if p.n_top_markers is not None:
                chosen = chosen[: p.n_top_markers]
            markers[t] = chosen
        owners = np.concatenate(list(markers.values()))
        shared = {g for g in owners if (owners == g).sum() > 1}
        markers = {t: np.array([g for g in m if g not in shared], dtype=int) for t, m in markers.items()}
        model_genes = set(np.concatenate(list(markers.values())).tolist())
        if p.n_hvg > 0 and reference.n_vars > 1:
            hvg_data = sc.AnnData(log_norm.astype(np.float32))
            n_top = min(p.n_hvg, reference.n_vars)
            flags = sc.pp.highly_variable_genes(hvg_data, n_top_genes=n_top, flavor="seurat", inplace=False)["highly_variable"]
            model_genes |= set(np.flatnonzero(np.asarray(flags)).tolist())
        # downsample to n_cells per type (seeded)
        rng = np.random.default_rng(self.seed)
        keep_cells = np.concatenate(
            [
                rng.choice(np.flatnonzero(labels == t), size=min(p.n_cells, int((labels == t).sum())), replace=False)
                for t in self.cell_types_
                if (labels == t).any()
            ]
        )
        train = counts[keep_cells]
        train_labels = labels[keep_cells]
        spot_counts = dense(spots[:, genes].X)
        gene_index = np.array(sorted(model_genes), dtype=int)
        detected = (train[:, gene_index].sum(axis=0) > 0) & (spot_counts[:, gene_index].sum(axis=0) > 0)
        gene_index = gene_index[detected]
        if len(gene_index) < 2:
            gene_index = np.flatnonzero((train.sum(axis=0) > 0) & (spot_counts.sum(axis=0) > 0))
        v = _scale_genes(train[:, gene_index]).T  # genes x cells
        # seeded W (genes x topics) and H (topics x cells)
        k = len(self.cell_types_)
        position = {g: i for i, g in enumerate(gene_index)}
        w = np.full((len(gene_index), k), 1e-12)
        for t, chosen in markers.items():
            for g in chosen:
                if g in position:
                    w[position[g], t] = auc[t, g]
        h = np.full((k, len(keep_cells)), 1e-12)
        for t, name in enumerate(self.cell_types_):
            h[t, train_labels == name] = 1.0
        with threadpool_limits(limits=1, user_api="blas"):  # many small products: one thread is faster
            if p.model == "ls":
                w, h, iterations = least_squares_nmf(v, w, max_iter=p.max_iter, tol=p.tol)
            else:
                w, h, iterations = ns_nmf(v, w, h, theta=p.theta if p.model == "ns" else 0.0, max_iter=p.max_iter, tol=p.tol)
        profiles = np.zeros((k, k))
        for t, name in enumerate(self.cell_types_):
            members = train_labels == name
            if members.any():
                profiles[:, t] = np.median(h[:, members], axis=1)
        if p.model == "ls":
            # the current release scales each topic's profile across the types to sum to 1
            profiles /= profiles.sum(axis=1, keepdims=True) + 1e-15
        self.genes_ = genes[gene_index]
        self.basis_ = w
        self.topic_profiles_ = profiles
        self.notes_ = {"n_genes": len(gene_index), "n_markers": int(sum(len(m) for m in markers.values())), "nmf_iterations": iterations}

    def _predict(self, data: Any) -> Any:
        from scipy.optimize import nnls

        y = _scale_genes(dense(data.spots[:, self.genes_].X)).T  # genes x spots
        proportions = np.zeros((y.shape[1], len(self.cell_types_)))
        for s in range(y.shape[1]):
            topics = nnls(self.basis_, y[:, s])[0]
            weights = nnls(self.topic_profiles_, topics)[0]
            total = weights.sum()
            if total <= 0:
                proportions[s] = 1.0 / len(weights)
                continue
            prop = weights / total
            if self.params.model == "ls":  # the current release keeps every type
                proportions[s] = prop
                continue
            prop[prop < self.params.min_prop] = 0.0
            proportions[s] = prop / prop.sum() if prop.sum() > 0 else weights / total
        return pd.DataFrame(proportions, index=data.spots.obs_names, columns=self.cell_types_)


def _scale_genes(x: np.ndarray) -> np.ndarray:
    """Divide each gene (column) by its standard deviation across observations (SPOTlight's ``.scale_uv``)."""
    sd = x.std(axis=0, ddof=1) if x.shape[0] > 1 else np.ones(x.shape[1])
    return x / np.where(sd > 0, sd, 1.0)
