"""Seurat v3 integration: CCA anchors between datasets and anchor-weighted correction.

Stuart T, Butler A, Hoffman P, et al. (2019) Comprehensive integration of single-cell data.
Cell 177:1888-1902 (``FindIntegrationAnchors`` with ``reduction="cca"`` and ``IntegrateData``).

Anchors, for every pair of datasets (``FindAnchors``):

1. Each dataset's anchor features are scaled (centred, unit variance, clipped at 10); canonical
   correlation vectors are the top singular vectors of ``X1^T X2`` after standardising each
   cell (``RunCCA``), L2-normalised per cell (``L2Dim``).
2. Anchors are mutual nearest neighbours in that space with ``k_anchor = 5``.
3. Filtering (``k_filter = 200``): an anchor stays when its second cell is among the first
   cell's ``k_filter`` nearest cells of the other dataset in the L2-normalised expression of the
   features that load most on the canonical vectors (at most ``max_features = 200``).
4. Scoring (``k_score = 30``): the number of shared neighbours of the two cells (each cell's
   ``k_score`` neighbours in both datasets), rescaled between its 1% and 90% quantiles and
   clipped to [0, 1].

Integration (``IntegrateData``): datasets are merged along a guide tree (complete-linkage
clustering of ``1 / similarity``, similarity = anchors / smaller dataset size); at each merge
the group with fewer cells is the query. Its cells are corrected by ``-W (q_a - r_a)``, the
anchors' expression differences weighted per query cell by its ``k_weight = 100`` nearest anchor
cells in a PCA (30 PCs) of the scaled merged data: ``w = 1 - exp(-(1 - d / d_{k+1}) score /
(2 / sd_weight)^2)``, normalised to sum to 1.

Deviations: neighbours are exact (FAISS) where Seurat uses Annoy; the CCA's SVD is a randomized
SVD computed without forming the cells x cells matrix (Seurat calls irlba on it); highly variable
genes are scanpy's batch-aware ``seurat`` flavour (ranked by the number of batches in which a gene
is variable), close to ``SelectIntegrationFeatures``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pydantic import Field

from dance.core.neighbors import knn
from dance.core.tasks.batch_integration import BatchIntegrationModel, IntegrationOutput
from dance.core.transforms.pipeline import Step, step
from dance.core.transforms.representation import corrected_embedding
from dance.single.batch_integration._mnn import batch_codes, cosine_normalize, randomized_pca
from dance.single.batch_integration.input_embedding import EmbeddingInput, input_embedding

__all__ = ["Anchors", "SeuratV3", "find_anchors", "seurat_integrate"]


@dataclass
class Anchors:
    """Anchors between two datasets: cell indices into each and scores in [0, 1]."""

    cells1: np.ndarray
    cells2: np.ndarray
    scores: np.ndarray
    n_mutual: int = 0
    n_filtered: int = 0


@dataclass
class SeuratResult:
    """Corrected features (input cell order) and how the merges went."""

    corrected: np.ndarray
    merges: list[str] = field(default_factory=list)
    n_anchors: dict[str, int] = field(default_factory=dict)


def _scale(x: np.ndarray, clip: float = 10.0) -> np.ndarray:
    """Seurat's ``ScaleData``: centre and scale every feature (sd with n - 1), clip at ``clip``."""
    centered = x - x.mean(axis=0)
    sd = centered.std(axis=0, ddof=1)
    scaled = centered / np.where(sd > 0, sd, 1.0)
    return np.clip(scaled, -clip, clip)


def _standardize_cells(x: np.ndarray) -> np.ndarray:
    """Seurat's ``Standardize`` on features x cells: each cell centred and scaled over features."""
    centered = x - x.mean(axis=1, keepdims=True)
    sd = centered.std(axis=1, ddof=1, keepdims=True)
    return centered / np.where(sd > 0, sd, 1.0)


def _cca(x1: np.ndarray, x2: np.ndarray, n_cc: int, seed: int, n_iter: int = 5, oversample: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Top ``n_cc`` left / right singular vectors of ``A = S1 S2^T`` (cells1 x cells2, ``S`` the
    cell-standardised scaled data), by randomized SVD with products through the features."""
    s1, s2 = _standardize_cells(x1), _standardize_cells(x2)  # cells x features
    n_cc = int(min(n_cc, s1.shape[1], s1.shape[0], s2.shape[0]))
    rng = np.random.default_rng(seed)
    width = min(n_cc + oversample, s2.shape[0], s1.shape[0])
    q = s1 @ (s2.T @ rng.standard_normal((s2.shape[0], width)))
    q, _ = np.linalg.qr(q)
    for _ in range(n_iter):
        z, _ = np.linalg.qr(s2 @ (s1.T @ q))
        q, _ = np.linalg.qr(s1 @ (s2.T @ z))
    b = (q.T @ s1) @ s2.T  # width x cells2
    u_b, _, vt = np.linalg.svd(b, full_matrices=False)
    u = (q @ u_b)[:, :n_cc]
    v = vt[:n_cc].T
    stacked = np.vstack([u, v])
    signs = np.where(stacked[0] < 0, -1.0, 1.0)  # Seurat: first cell positive in every vector
    return u * signs, v * signs


def _top_features(loadings: np.ndarray, max_features: int = 200, per_dim: int = 100) -> np.ndarray:
    """Seurat's ``TopDimFeatures`` with balanced ``TopFeatures``: for ``y`` features per vector,
    the ``round(y / 2)`` most positive and most negative loadings of every vector; ``y`` is the
    value (up to ``per_dim``) giving the most distinct features while staying below
    ``max(2 * vectors, max_features)``."""
    n_features, n_dims = loadings.shape
    max_features = max(2 * n_dims, max_features)
    order_pos = np.argsort(-loadings, axis=0, kind="stable")
    order_neg = np.argsort(loadings, axis=0, kind="stable")

    def union(y: int) -> np.ndarray:
        num = min(round(y / 2), n_features)  # R's round: half to even, as Python's
        if num == 0:
            return np.zeros(0, dtype=np.int64)
        return np.unique(np.concatenate([order_pos[:num].ravel(), order_neg[:num].ravel()]))

    counts = [len(union(y)) for y in range(1, per_dim + 1)]
    allowed = [(count, y) for y, count in zip(range(1, per_dim + 1), counts, strict=True) if count < max_features]
    if not allowed:
        return np.arange(n_features)
    best = max(count for count, _ in allowed)
    chosen = next(y for count, y in allowed if count == best)
    features = union(chosen)
    return features if len(features) else np.arange(n_features)


def find_anchors(
    x1: np.ndarray,
    x2: np.ndarray,
    data1: np.ndarray,
    data2: np.ndarray,
    *,
    n_dims: int = 30,
    k_anchor: int = 5,
    k_filter: int | None = 200,
    k_score: int = 30,
    max_features: int = 200,
    seed: int = 0,
) -> Anchors:
    """Scored CCA anchors between two datasets (``FindAnchors``).

    ``x1``, ``x2`` are the scaled anchor features of each dataset (cells x features); ``data1``,
    ``data2`` the unscaled values of the same features, used for filtering.
    """
    u, v = _cca(x1, x2, n_dims, seed)
    e1, e2 = cosine_normalize(u), cosine_normalize(v)
    n1, n2 = e1.shape[0], e2.shape[0]
    k_nb = max(k_anchor, k_score)
    nn11, _ = knn(e1, query=e1, k=k_nb + 1, seed=seed)
    nn22, _ = knn(e2, query=e2, k=k_nb + 1, seed=seed)
    nn12, _ = knn(e2, query=e1, k=k_nb, seed=seed)
    nn21, _ = knn(e1, query=e2, k=k_nb, seed=seed)
    # mutual nearest neighbours with k_anchor
    ka = min(k_anchor, nn12.shape[1], nn21.shape[1])
    forward = (np.arange(n1)[:, None] * n2 + nn12[:, :ka]).ravel()
    backward = (nn21[:, :ka] * n2 + np.arange(n2)[:, None]).ravel()
    mutual = np.intersect1d(forward, backward)
    a, b = mutual // n2, mutual % n2
    result = Anchors(cells1=a, cells2=b, scores=np.ones(len(a)), n_mutual=len(a))
    if len(a) == 0:
        return result
    if k_filter is not None:
        loadings = np.vstack([x1, x2]).T @ np.vstack([u, v])  # features x vectors (ProjectDim)
        features = _top_features(loadings, max_features)
        c1, c2 = cosine_normalize(data1[:, features]), cosine_normalize(data2[:, features])
        nn_filter, _ = knn(c2, query=c1, k=min(k_filter, n2), seed=seed)
        keep = (nn_filter[a] == b[:, None]).any(axis=1)
        a, b = a[keep], b[keep]
    result.n_filtered = len(a)
    if len(a) == 0:
        result.cells1, result.cells2, result.scores = a, b, np.zeros(0)
        return result
    # shared-neighbour scores in the joint index space (dataset 2 offset by n1)
    ks = min(k_score, nn11.shape[1], nn12.shape[1], nn21.shape[1], nn22.shape[1])
    around1 = np.hstack([nn11[a, :ks], nn12[a, :ks] + n1])
    around2 = np.hstack([nn21[b, :ks], nn22[b, :ks] + n1])
    both = np.sort(np.hstack([around1, around2]), axis=1)
    shared = (both[:, 1:] == both[:, :-1]).sum(axis=1).astype(np.float64)
    low, high = np.quantile(shared, 0.01), np.quantile(shared, 0.9)
    scores = np.clip((shared - low) / (high - low), 0.0, 1.0) if high > low else np.ones_like(shared)
    result.cells1, result.cells2, result.scores = a, b, scores
    return result


def _anchor_weights(
    query_space: np.ndarray, anchor_cells: np.ndarray, scores: np.ndarray, k_weight: int, sd_weight: float, seed: int
) -> Any:
    """Query cells x anchors weights (``FindWeights``): each query cell's ``k_weight + 1`` nearest
    distinct anchor cells, ``1 - exp(-(1 - d / d_last) * score / (2 / sd)^2)`` for their anchors
    (at most ``k_weight + 1`` anchors, nearest cells first), normalised per query cell."""
    import scipy.sparse as sp

    unique_cells, anchor_owner = np.unique(anchor_cells, return_inverse=True)
    order = np.argsort(anchor_owner, kind="stable")  # anchors grouped by their query cell
    starts = np.concatenate([[0], np.cumsum(np.bincount(anchor_owner, minlength=len(unique_cells)))])
    k = int(min(k_weight + 1, len(unique_cells)))
    idx, dist = knn(query_space[unique_cells], query=query_space, k=k, seed=seed)
    dist = dist.astype(np.float64)
    last = dist[:, -1:]
    relative = np.where(last > 0, 1.0 - dist / np.where(last > 0, last, 1.0), 1.0)
    counts = starts[idx + 1] - starts[idx]  # anchors of each neighbour cell
    n_query = query_space.shape[0]
    rows = np.repeat(np.arange(n_query), counts.sum(axis=1))
    position = np.repeat(np.tile(np.arange(k), n_query), counts.ravel())
    flat_counts = counts.ravel()
    offsets = np.arange(flat_counts.sum()) - np.repeat(np.cumsum(flat_counts) - flat_counts, flat_counts)
    anchor = order[np.repeat(starts[idx.ravel()], flat_counts) + offsets]
    rank = np.arange(len(rows)) - np.repeat(np.concatenate([[0], np.cumsum(counts.sum(axis=1))[:-1]]), counts.sum(axis=1))
    use = rank < k  # Seurat counts at most k_weight + 1 anchors per query cell
    rows, position, anchor = rows[use], position[use], anchor[use]
    values = 1.0 - np.exp(-relative[rows, position] * scores[anchor] / (2.0 / sd_weight) ** 2)
    weights = sp.csr_matrix((values, (rows, anchor)), shape=(n_query, len(anchor_cells)))
    totals = np.asarray(weights.sum(axis=1)).ravel()
    return sp.diags(np.where(totals > 0, 1.0 / np.where(totals > 0, totals, 1.0), 0.0)) @ weights


def _guide_tree(similarity: np.ndarray) -> list[tuple[int, int]]:
    """Merge order of complete-linkage clustering on ``1 / similarity`` (``BuildSampleTree``),
    as pairs of node ids (``< n``: datasets, ``n + i``: the group made at merge ``i``)."""
    from scipy.cluster.hierarchy import linkage
    from scipy.spatial.distance import squareform

    with np.errstate(divide="ignore"):
        distance = np.where(similarity > 0, 1.0 / np.where(similarity > 0, similarity, 1.0), np.inf)
    np.fill_diagonal(distance, 0.0)
    finite = distance[np.isfinite(distance)]
    distance[~np.isfinite(distance)] = (finite.max() if finite.size else 1.0) * 10 + 1.0
    tree = linkage(squareform(distance, checks=False), method="complete")
    return [(int(a), int(b)) for a, b in tree[:, :2]]


def seurat_integrate(
    features: Any,
    batch: Any,
    *,
    anchor_features: np.ndarray | None = None,
    n_dims: int = 30,
    k_anchor: int = 5,
    k_filter: int | None = 200,
    k_score: int = 30,
    max_features: int = 200,
    k_weight: int = 100,
    sd_weight: float = 1.0,
    n_pcs_weight: int = 30,
    seed: int = 0,
) -> SeuratResult:
    """Seurat v3 CCA-anchor integration of cells x features ``features`` (log-normalised
    expression, or an embedding) across batches.

    ``anchor_features`` (column indices) are used to find anchors and weights; all columns are
    corrected (Seurat's ``features.to.integrate``).
    """
    data = np.asarray(features.toarray() if hasattr(features, "toarray") else features, dtype=np.float64)
    codes, names = batch_codes(batch)
    anchor_cols = np.arange(data.shape[1]) if anchor_features is None else np.asarray(anchor_features)
    members = [np.flatnonzero(codes == b) for b in range(len(names))]
    n_batches = len(names)
    scaled = [_scale(data[m][:, anchor_cols]) for m in members]

    # anchors between every pair of datasets (both directions are the same anchors)
    pair_anchors: dict[tuple[int, int], Anchors] = {}
    similarity = np.zeros((n_batches, n_batches))
    for i in range(n_batches):
        for j in range(i + 1, n_batches):
            dims = int(min(n_dims, len(members[i]) - 1, len(members[j]) - 1, len(anchor_cols)))
            found = find_anchors(
                scaled[i],
                scaled[j],
                data[members[i]][:, anchor_cols],
                data[members[j]][:, anchor_cols],
                n_dims=dims,
                k_anchor=k_anchor,
                k_filter=k_filter,
                k_score=k_score,
                max_features=max_features,
                seed=seed,
            )
            pair_anchors[(i, j)] = found
            similarity[i, j] = similarity[j, i] = 2 * len(found.cells1) / min(len(members[i]), len(members[j]))

    result = SeuratResult(corrected=data.copy())
    result.n_anchors = {f"{names[i]}-{names[j]}": len(a.cells1) for (i, j), a in pair_anchors.items()}
    groups: dict[int, list[int]] = {b: [b] for b in range(n_batches)}
    current = data.copy()  # corrected values so far (every merge corrects the query group's cells)
    merges = _guide_tree(similarity) if n_batches > 2 else [(0, 1)]
    for step_index, (node_a, node_b) in enumerate(merges):
        group_a, group_b = groups.pop(node_a), groups.pop(node_b)
        cells_a = np.concatenate([members[g] for g in group_a])
        cells_b = np.concatenate([members[g] for g in group_b])
        if len(cells_b) > len(cells_a):  # the larger group is the reference
            group_a, group_b, cells_a, cells_b = group_b, group_a, cells_b, cells_a
        position_a = {cell: pos for pos, cell in enumerate(cells_a)}
        position_b = {cell: pos for pos, cell in enumerate(cells_b)}
        ref_rows, query_rows, scores = [], [], []
        for ga in group_a:
            for gb in group_b:
                key, flip = ((ga, gb), False) if ga < gb else ((gb, ga), True)
                found = pair_anchors[key]
                first, second = (found.cells2, found.cells1) if flip else (found.cells1, found.cells2)
                ref_rows.append(np.array([position_a[members[ga][c]] for c in first], dtype=np.int64))
                query_rows.append(np.array([position_b[members[gb][c]] for c in second], dtype=np.int64))
                scores.append(found.scores)
        ref_idx, query_idx, score = np.concatenate(ref_rows), np.concatenate(query_rows), np.concatenate(scores)
        merged = np.vstack([current[cells_a], current[cells_b]])
        if len(ref_idx):
            pcs, _ = randomized_pca(_scale(merged[:, anchor_cols]), n_pcs_weight, seed=seed)
            query_pcs = pcs[len(cells_a) :]
            weights = _anchor_weights(query_pcs, query_idx, score, k_weight, sd_weight, seed)
            difference = current[cells_b][query_idx] - current[cells_a][ref_idx]  # anchors x features
            current[cells_b] = current[cells_b] - weights @ difference
        label_a = "+".join(names[g] for g in group_a)
        label_b = "+".join(names[g] for g in group_b)
        result.merges.append(f"{label_b} -> {label_a} ({len(ref_idx)} anchors)")
        groups[n_batches + step_index] = group_a + group_b
    result.corrected = current
    return result


class SeuratV3(BatchIntegrationModel):
    """Seurat v3 anchors (Stuart et al. 2019, Cell 177:1888-1902): CCA between each pair of
    datasets on scaled anchor features, L2-normalised canonical vectors, mutual nearest
    neighbours (``k_anchor``) as anchors, filtered (``k_filter``) and scored by shared
    neighbours (``k_score``); the datasets are merged along a guide tree and each query cell is
    corrected by its ``k_weight`` nearest anchors' expression differences (see
    :func:`seurat_integrate`).

    The pipeline log-normalises and flags ``n_top_genes`` batch-aware highly variable genes as
    anchor features; every gene is corrected, and the scored embedding is the PCA (``n_comps``)
    of the scaled corrected anchor features, as in Seurat's workflow. With ``use_rep`` the given
    embedding's dimensions are the features and the corrected embedding is returned as is.
    """

    name = "seuratv3"
    transductive = True
    output_kind = "corrected"

    class Params(EmbeddingInput):
        n_dims: int = Field(30, ge=2, description="canonical vectors used for anchors (dims = 1:30)")
        k_anchor: int = Field(5, ge=1, description="neighbours of the mutual-neighbour anchor search")
        k_filter: int | None = Field(200, ge=1, description="neighbours of the anchor filter (None: no filtering)")
        k_score: int = Field(30, ge=1, description="neighbours of the shared-neighbour anchor score")
        max_features: int = Field(200, ge=2, description="features spanning the filtering space")
        k_weight: int = Field(100, ge=1, description="anchors weighting each query cell")
        sd_weight: float = Field(1.0, gt=0, description="bandwidth of the anchor weight kernel")
        n_pcs_weight: int = Field(30, ge=2, description="PCs of the space in which anchor weights are computed")

    def build_pipeline(self) -> tuple[Step, ...]:
        if self.params.use_rep is not None:
            return ()
        return (
            step("log_normalize"),
            step("highly_variable_genes", n_top_genes=self.params.n_top_genes, batch_key=self.keys.batch_key, subset=False),
        )

    def _fit(self, data: Any) -> None:
        p = self.params
        settings = dict(
            n_dims=p.n_dims,
            k_anchor=p.k_anchor,
            k_filter=p.k_filter,
            k_score=p.k_score,
            max_features=p.max_features,
            k_weight=p.k_weight,
            sd_weight=p.sd_weight,
            n_pcs_weight=p.n_pcs_weight,
            seed=self.seed,
        )
        batch = data.obs[self.keys.batch_key].to_numpy()
        if p.use_rep is not None:
            result = seurat_integrate(input_embedding(data, p), batch, **settings)
            self.output_ = IntegrationOutput(embedding=result.corrected.astype(np.float32))
        else:
            hvg = np.flatnonzero(data.var["highly_variable"].to_numpy()) if "highly_variable" in data.var else None
            result = seurat_integrate(data.X, batch, anchor_features=hvg, **settings)
            corrected = result.corrected.astype(np.float32)
            columns = hvg if hvg is not None else np.arange(corrected.shape[1])
            self.output_ = IntegrationOutput(embedding=corrected_embedding(corrected[:, columns], n_comps=p.n_comps), corrected=corrected)
        self.notes_ = {"merges": "; ".join(result.merges), "anchors": ", ".join(f"{k}: {v}" for k, v in result.n_anchors.items())}

    def _predict(self, data: Any) -> Any:
        return self.output_
