"""Scanorama: panoramic stitching of datasets by mutual nearest neighbours.

Hie B, Bryson B, Berger B (2019) Efficient integration of heterogeneous single-cell
transcriptomes using Scanorama. Nat Biotechnol 37:685-691.

Steps (``scanorama.integrate``):

1. L2-normalise every cell and reduce all cells jointly to ``dimred`` dimensions by randomized
   SVD of the centred matrix (Halko et al. 2011).
2. Matching across all datasets at once: each cell's ``knn`` nearest cells (Manhattan distance on
   L2-normalised vectors) among all datasets before it and, separately, all datasets after it;
   mutual pairs between two datasets are their matches.
3. The panorama graph: a pair of datasets is aligned when the larger of the fractions of their
   cells that take part in matches exceeds ``alpha``; pairs are merged in decreasing order of
   that score (a dataset takes part in at most a few merges).
4. Merging a dataset (or a panorama) into a panorama translates each of its cells by a
   Gaussian-kernel (``exp(-sigma / 2 * |x - m|^2)``) weighted average of the matches' translation
   vectors (matched reference cell minus matched cell).

Differences from the package: exact FAISS (L1) neighbours instead of Annoy's approximate ones;
the SVD is scikit-learn's randomized SVD rather than fbpca's.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from pydantic import Field

from dance.core.neighbors import knn as nearest_neighbours
from dance.core.tasks.batch_integration import BatchIntegrationModel
from dance.core.transforms.pipeline import Step, step
from dance.single.batch_integration._mnn import batch_codes, cosine_normalize, randomized_pca
from dance.single.batch_integration.input_embedding import EmbeddingInput, input_embedding

__all__ = ["Scanorama", "ScanoramaResult", "assemble", "scanorama_integrate"]


@dataclass
class ScanoramaResult:
    """Integrated embedding (input cell order) and the alignments that were merged."""

    embedding: np.ndarray
    alignments: list[tuple[str, str, float]] = field(default_factory=list)


def _matches(
    datasets: list[np.ndarray], knn: int, metric: str, seed: int
) -> tuple[dict[tuple[int, int], float], dict[tuple[int, int], np.ndarray]]:
    """Alignment scores and mutual matches (pairs of row indices) of every dataset pair ``i < j``."""
    normalized = [cosine_normalize(d) for d in datasets]
    sizes = [d.shape[0] for d in datasets]
    # directed[(i, j)]: codes a * n_j + b of cells a of i whose knn (among the datasets on one
    # side of i, pooled) include cell b of j
    directed: dict[tuple[int, int], np.ndarray] = {}
    for i in range(len(datasets)):
        for side in (range(i), range(i + 1, len(datasets))):
            side = list(side)
            if not side:
                continue
            reference = np.vstack([normalized[j] for j in side])
            starts = np.cumsum([0] + [sizes[j] for j in side])
            idx, _ = nearest_neighbours(reference, query=normalized[i], k=knn, metric=metric, seed=seed)
            owner = np.searchsorted(starts, idx, side="right") - 1
            rows = np.broadcast_to(np.arange(sizes[i])[:, None], idx.shape)
            for position, j in enumerate(side):
                hit = owner == position
                directed[(i, j)] = rows[hit].astype(np.int64) * sizes[j] + (idx[hit] - starts[position])
    scores: dict[tuple[int, int], float] = {}
    matches: dict[tuple[int, int], np.ndarray] = {}
    for i in range(len(datasets)):
        for j in range(i + 1, len(datasets)):
            if (i, j) not in directed or (j, i) not in directed:
                continue
            back = directed[(j, i)]
            back = (back % sizes[i]) * sizes[j] + back // sizes[i]  # (b, a) -> code of (a, b)
            mutual = np.intersect1d(directed[(i, j)], back)
            pairs = np.column_stack([mutual // sizes[j], mutual % sizes[j]])
            matches[(i, j)] = pairs
            scores[(i, j)] = max(len(np.unique(pairs[:, 0])) / sizes[i], len(np.unique(pairs[:, 1])) / sizes[j])
    return scores, matches


def _translation(
    current: np.ndarray, reference: np.ndarray, cur_idx: np.ndarray, ref_idx: np.ndarray, sigma: float, chunk: int = 5000
) -> np.ndarray:
    """Each cell's Gaussian-weighted average of the match translation vectors (``transform`` and
    ``batch_bias`` of scanorama, with ``gamma = sigma / 2``); cells with no weight are not moved."""
    if len(cur_idx) == 0:
        return np.zeros_like(current)
    anchors = current[cur_idx]
    bias = reference[ref_idx] - anchors
    anchor_sq = (anchors**2).sum(1)
    out = np.zeros_like(current)
    gamma = 0.5 * sigma
    for start in range(0, current.shape[0], chunk):
        block = current[start : start + chunk]
        d2 = np.maximum((block**2).sum(1)[:, None] + anchor_sq[None, :] - 2 * block @ anchors.T, 0.0)
        weights = np.exp(-gamma * d2)
        total = weights.sum(axis=1)
        total[total == 0] = 1.0
        out[start : start + chunk] = (weights @ bias) / total[:, None]
    return out


def _pairs_between(
    matches: dict[tuple[int, int], np.ndarray], group_a: list[int], group_b: list[int], sizes: list[int]
) -> tuple[np.ndarray, np.ndarray]:
    """Matched rows (into the stacked datasets of ``group_a`` and of ``group_b``) between two groups."""
    start_a = dict(zip(group_a, np.cumsum([0] + [sizes[p] for p in group_a])[:-1], strict=True))
    start_b = dict(zip(group_b, np.cumsum([0] + [sizes[p] for p in group_b])[:-1], strict=True))
    rows_a, rows_b = [], []
    for p in group_a:
        for q in group_b:
            if (p, q) in matches:
                pairs = matches[(p, q)]
                rows_a.append(pairs[:, 0] + start_a[p])
                rows_b.append(pairs[:, 1] + start_b[q])
            elif (q, p) in matches:
                pairs = matches[(q, p)]
                rows_a.append(pairs[:, 1] + start_a[p])
                rows_b.append(pairs[:, 0] + start_b[q])
    if not rows_a:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    return np.concatenate(rows_a), np.concatenate(rows_b)


def scanorama_integrate(
    x: Any,
    batch: Any,
    *,
    dimred: int = 100,
    knn: int = 20,
    sigma: float = 15.0,
    alpha: float = 0.10,
    metric: Literal["manhattan", "euclidean"] = "manhattan",
    seed: int = 0,
) -> ScanoramaResult:
    """Scanorama on cells x features ``x`` (log-normalised expression or an embedding).

    Parameters
    ----------
    x
        Cells x features.
    batch
        Dataset of each cell; datasets are taken in sorted order of their names.
    dimred
        Dimensions of the joint randomized SVD (at most the number of features).
    knn
        Neighbours searched for matches.
    sigma
        Width of the Gaussian kernel that smooths translation vectors (``gamma = sigma / 2``).
    alpha
        Minimum alignment score for two datasets to be merged.
    metric
        Distance of the matching (Manhattan in scanorama).
    seed
        Seed of the randomized SVD.
    """
    x = np.asarray(x.toarray() if hasattr(x, "toarray") else x, dtype=np.float64)
    codes, names = batch_codes(batch)
    reduced, _ = randomized_pca(cosine_normalize(x), dimred, seed=seed)
    members = [np.flatnonzero(codes == b) for b in range(len(names))]
    datasets, merged = assemble([reduced[m] for m in members], knn=knn, sigma=sigma, alpha=alpha, metric=metric, seed=seed)
    result = ScanoramaResult(embedding=np.empty_like(reduced))
    result.alignments = [(names[i], names[j], score) for i, j, score in merged]
    for b, m in enumerate(members):
        result.embedding[m] = datasets[b]
    return result


def assemble(
    datasets: list[np.ndarray],
    *,
    knn: int = 20,
    sigma: float = 15.0,
    alpha: float = 0.10,
    metric: Literal["manhattan", "euclidean"] = "manhattan",
    seed: int = 0,
) -> tuple[list[np.ndarray], list[tuple[int, int, float]]]:
    """Scanorama's ``assemble`` on reduced datasets: find the matches and alignment scores, then
    merge dataset pairs into panoramas in decreasing order of score. Returns the corrected
    datasets and the merged pairs ``(i, j, score)``."""
    datasets = [np.asarray(d, dtype=np.float64) for d in datasets]
    sizes = [d.shape[0] for d in datasets]
    scores, matches = _matches(datasets, knn, metric, seed)
    # scanorama: sorted by score (ties in pair order), reversed, above alpha
    ordered = [pair for pair, value in reversed(sorted(scores.items(), key=operator.itemgetter(1))) if value > alpha]
    merged: list[tuple[int, int, float]] = []
    times_used: dict[int, int] = {}
    panoramas: list[list[int]] = []
    for i, j in ordered:
        times_used[i] = times_used.get(i, 0) + 1
        times_used[j] = times_used.get(j, 0) + 1
        if times_used[i] > 3 and times_used[j] > 3:
            continue
        pano_i = next((p for p in panoramas if i in p), None)
        pano_j = next((p for p in panoramas if j in p), None)
        if pano_i is None and pano_j is None:
            if sizes[i] < sizes[j]:
                i, j = j, i
            pano_i = [i]
            panoramas.append(pano_i)
        if pano_i is None or pano_j is None:  # one dataset joins an existing panorama
            alone, pano = (i, pano_j) if pano_i is None else (j, pano_i)
            reference = np.vstack([datasets[p] for p in pano])
            cur_idx, ref_idx = _pairs_between(matches, [alone], pano, sizes)
            datasets[alone] = datasets[alone] + _translation(datasets[alone], reference, cur_idx, ref_idx, sigma)
            pano.append(alone)
        else:  # the panorama holding i moves onto the one holding j (also when they are one already)
            current = np.vstack([datasets[p] for p in pano_i])
            reference = np.vstack([datasets[p] for p in pano_j])
            cur_idx, ref_idx = _pairs_between(matches, [i], [j], sizes)
            offset_i = int(sum(sizes[p] for p in pano_i[: pano_i.index(i)]))
            offset_j = int(sum(sizes[p] for p in pano_j[: pano_j.index(j)]))
            current = current + _translation(current, reference, cur_idx + offset_i, ref_idx + offset_j, sigma)
            start = 0
            for p in pano_i:
                datasets[p] = current[start : start + sizes[p]]
                start += sizes[p]
            if pano_i is not pano_j:
                pano_i.extend(pano_j)
                panoramas.remove(pano_j)
        merged.append((i, j, float(scores[(min(i, j), max(i, j))])))
    return datasets, merged


class Scanorama(BatchIntegrationModel):
    """Scanorama (Hie, Bryson & Berger 2019, Nat Biotechnol 37:685-691): randomized SVD of
    L2-normalised cells, mutual nearest-neighbour matching across all datasets at once, a
    panorama graph of dataset pairs weighted by their matching fraction, and merging in order of
    that weight with Gaussian-kernel smoothed translation vectors (see
    :func:`scanorama_integrate`). The pipeline log-normalises and keeps ``n_top_genes`` highly
    variable genes; ``use_rep`` integrates an existing embedding (normalised and reduced the same
    way, as scanorama would). Output: the integrated ``dimred``-dimensional embedding.
    """

    name = "scanorama"
    transductive = True

    class Params(EmbeddingInput):
        dimred: int = Field(100, ge=2, description="dimensions of the joint randomized SVD")
        knn: int = Field(20, ge=1, description="neighbours searched for matches")
        sigma: float = Field(15.0, gt=0, description="Gaussian kernel width of the translation smoothing")
        alpha: float = Field(0.10, ge=0, le=1, description="minimum alignment score of merged dataset pairs")
        metric: Literal["manhattan", "euclidean"] = Field("manhattan", description="distance of the matching")

    def build_pipeline(self) -> tuple[Step, ...]:
        if self.params.use_rep is not None:
            return ()
        return (step("log_normalize"), step("highly_variable_genes", n_top_genes=self.params.n_top_genes))

    def _fit(self, data: Any) -> None:
        p = self.params
        x = input_embedding(data, p) if p.use_rep is not None else data.X
        result = scanorama_integrate(
            x,
            data.obs[self.keys.batch_key].to_numpy(),
            dimred=p.dimred,
            knn=p.knn,
            sigma=p.sigma,
            alpha=p.alpha,
            metric=p.metric,
            seed=self.seed,
        )
        self.embedding_ = result.embedding.astype(np.float32)
        self.notes_ = {"alignments": "; ".join(f"{a}<->{b} ({s:.3f})" for a, b, s in result.alignments)}

    def _predict(self, data: Any) -> Any:
        return self.embedding_
