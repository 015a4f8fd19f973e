"""GLUE's integration consistency score: does the shared space agree with the guidance graph?

Cao & Gao (2022, Nat Biotechnol 40:1458; ``scglue.models.dx.integration_consistency``): the cells of
every modality are grouped into metacells by k-means on their joint embedding; each modality's
counts are summed per metacell, normalised to the median total and log-transformed; for every
gene-peak edge of the guidance graph the Spearman correlation of the two features across the
metacells both modalities share is taken, and the score is the weighted mean of ``sign x
correlation``. An embedding that aligns the modalities correctly makes linked features co-vary
(GLUE's reading rule: above 0.05 the integration is consistent with the prior knowledge); a
misaligned one mixes unrelated metacells and the score falls towards 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from dance.core.errors import DanceInputError

if TYPE_CHECKING:
    from dance.multi.guidance_graph import GuidanceGraph

__all__ = ["CONSISTENT_ABOVE", "METACELL_COUNTS", "integration_consistency"]

#: GLUE's reading rule: a score above this means the integration agrees with the guidance graph
CONSISTENT_ABOVE = 0.05
#: the numbers of metacells GLUE evaluates (those above the smaller modality's cells are skipped)
METACELL_COUNTS = (10, 20, 50, 100, 200)


def _kmeans_labels(embedding: np.ndarray, n_clusters: int, seed: int) -> tuple[np.ndarray, str]:
    """k-means labels: FAISS as scglue uses it, else scikit-learn."""
    try:
        import faiss
    except ImportError:  # pragma: no cover - faiss-cpu is a dance-core dependency
        from sklearn.cluster import KMeans

        return KMeans(n_clusters=n_clusters, random_state=seed, n_init=1).fit_predict(embedding), "scikit-learn k-means"
    data = np.ascontiguousarray(embedding, dtype=np.float32)
    kmeans = faiss.Kmeans(data.shape[1], n_clusters, seed=seed, gpu=False)
    kmeans.train(data)
    _, labels = kmeans.index.search(data, 1)
    return labels.ravel(), "FAISS k-means"


def _metacell_profiles(counts: Any, labels: np.ndarray, metacells: np.ndarray) -> np.ndarray:
    """Counts summed per metacell (rows in ``metacells``' order), normalised to the median total
    and ``log1p`` (scglue's ``count_prep``)."""
    index = np.searchsorted(metacells, labels)
    member = sp.csr_matrix((np.ones(labels.size), (index, np.arange(labels.size))), shape=(metacells.size, labels.size))
    summed = np.asarray((member @ sp.csr_matrix(counts, dtype=np.float64)).todense())
    totals = summed.sum(axis=1, keepdims=True)
    return np.log1p(summed / np.where(totals > 0, totals, 1.0) * np.median(totals))


def _ranked_z(profiles: np.ndarray) -> np.ndarray:
    """Each feature's ranks across metacells (ties averaged), standardised; NaN where constant."""
    from scipy.stats import rankdata

    ranks = rankdata(profiles, axis=0)
    mean = ranks.mean(axis=0)
    std = ranks.std(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (ranks - mean) / np.where(std > 0, std, np.nan)


def integration_consistency(
    embeddings: Sequence[np.ndarray],
    counts: Sequence[Any],
    graph: GuidanceGraph,
    *,
    metacell_counts: Sequence[int] = METACELL_COUNTS,
    seed: int = 0,
) -> pd.DataFrame:
    """GLUE's integration consistency score at several numbers of metacells.

    Parameters
    ----------
    embeddings
        Each modality's cells in the shared space (cells x dimensions, the same dimensions).
    counts
        Each modality's raw counts (cells x features, in the order of ``graph.features``: the
        first modality's features, then the second's, ...).
    graph
        The guidance graph (:func:`dance.multi.guidance_graph.guidance_graph`); its self-loops are
        left out.
    metacell_counts
        Numbers of metacells; those above the smaller modality's cells are skipped.
    seed
        Seed of the k-means.

    Returns
    -------
    pandas.DataFrame
        ``n_meta``, ``consistency`` and ``edges`` (edges with a defined correlation) per number of
        metacells; ``attrs['kmeans']`` names the k-means used.
    """
    if len(embeddings) != len(counts) or len(embeddings) < 2:
        raise DanceInputError(
            "integration_consistency needs an embedding and a count matrix for each of two or more modalities", field="embeddings"
        )
    widths = [np.asarray(c.shape)[1] for c in counts]
    if sum(widths) != len(graph.features):
        raise DanceInputError(
            f"the counts hold {sum(widths)} features and the guidance graph {len(graph.features)}; they must be the same features in the same order",
            field="graph",
        )
    sizes = [np.asarray(e).shape[0] for e in embeddings]
    joint = np.vstack([np.asarray(e, dtype=np.float32) for e in embeddings])
    offsets = np.cumsum([0, *sizes])
    edges = graph.kind == "fwd"  # each reverse edge has its forward edge's weight and correlation
    source, target = graph.source[edges], graph.target[edges]
    weight = graph.weight[edges].astype(np.float64)
    sign = graph.sign[edges].astype(np.float64)
    rows: list[dict[str, float]] = []
    method = ""
    for n_meta in metacell_counts:
        if n_meta > min(sizes):
            continue
        labels, method = _kmeans_labels(joint, n_meta, seed)
        per_modality = [labels[offsets[i] : offsets[i + 1]] for i in range(len(sizes))]
        common = np.unique(per_modality[0])
        for part in per_modality[1:]:
            common = np.intersect1d(common, part)
        if common.size < 3:
            continue
        z_parts = []
        for part, matrix in zip(per_modality, counts, strict=True):
            keep = np.isin(part, common)
            z_parts.append(_ranked_z(_metacell_profiles(sp.csr_matrix(matrix)[keep], part[keep], common)))
        z = np.hstack(z_parts)
        corr = np.einsum("ij,ij->j", z[:, source], z[:, target]) / common.size
        defined = ~np.isnan(corr)
        score = float((sign[defined] * weight[defined] * corr[defined]).sum() / weight[defined].sum()) if defined.any() else float("nan")
        rows.append({"n_meta": n_meta, "consistency": score, "edges": int(defined.sum())})
    frame = pd.DataFrame(rows, columns=["n_meta", "consistency", "edges"])
    frame.attrs["kmeans"] = method
    return frame
