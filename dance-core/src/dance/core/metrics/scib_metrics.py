"""scIB metrics of an embedding (Luecken et al. 2022, "Benchmarking atlas-level data
integration in single-cell genomics", Nat Methods 19:41-50).

:class:`EmbeddingEvaluation` holds an embedding with its labels and batches (and, for PCR
comparison, the unintegrated embedding) and caches the expensive shared pieces -- one FAISS kNN
search, the UMAP connectivities, the Leiden clusterings over resolutions 0.1-2.0, the
silhouettes -- so every metric of a run computes them once. Metrics are
``fn(truth, evaluation) -> float | None`` (None when the labels or batches they need are absent).

=====================  ==========================================================================
metric                 definition (all in [0, 1], higher is better)
=====================  ==========================================================================
``nmi`` / ``ari``      NMI / ARI of the labels and the Leiden clustering (resolutions 0.1 to 2.0,
                       15-NN UMAP graph) with the highest NMI
``asw_label``          (mean silhouette of the labels + 1) / 2
``isolated_label_f1``  per isolated label (present in the fewest batches): best F1 of one Leiden
                       cluster (any resolution) against it; mean over isolated labels (scIB)
``isolated_label_asw`` per isolated label: mean rescaled label silhouette of its cells; mean
                       over isolated labels (scib-metrics' ``isolated_labels``)
``clisi``              (L - median cLISI) / (L - 1), LISI of labels over 90 neighbours,
                       perplexity 30, L labels
``asw_batch``          per label: mean of 1 - |silhouette of the batches| within the label;
                       mean over labels (labels in one batch skipped)
``graph_connectivity`` per label: share of its cells in the largest connected component of the
                       15-NN UMAP graph restricted to it; mean over labels
``ilisi``              (median iLISI - 1) / (B - 1), LISI of batches, B batches
``kbet``               per label: kBET acceptance rate on diffusion-map neighbourhoods of the
                       50-NN graph restricted to the label (scib-metrics' ``kbet_per_label``);
                       mean over labels
``pcr_comparison``     (PCR before - PCR after) / PCR before, clipped at 0, PCR = variance of the
                       top 50 PCs explained by the batch; "before" is the unintegrated embedding
=====================  ==========================================================================

Scale: neighbours come from one FAISS search (exact up to 200,000 cells, IVF above). Silhouettes
are exact up to :data:`MAX_SILHOUETTE_CELLS` cells and computed on a seeded label-stratified
subsample above (scIB computes them on all cells; the subsample keeps every label's share);
kBET runs on all cells up to :data:`MAX_KBET_CELLS` and above on a stratified subsample with its
own 50-NN graph (the R kBET also tests a subsample). Clustering, LISI, graph connectivity and
PCR always use every cell.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

import numpy as np
import scipy.sparse as sp

from dance.core.metrics import scib_kernels as scib
from dance.core.metrics.labels import adjusted_rand_index, normalized_mutual_information

__all__ = [
    "MAX_KBET_CELLS",
    "MAX_SILHOUETTE_CELLS",
    "RESOLUTIONS",
    "EmbeddingEvaluation",
    "asw_batch",
    "asw_batch_of_batches",
    "asw_label",
    "cell_cycle_conservation_score",
    "clisi",
    "cluster_ari",
    "cluster_nmi",
    "graph_connectivity",
    "ilisi",
    "isolated_label_asw",
    "isolated_label_f1",
    "kbet",
    "pcr_comparison",
    "trajectory_conservation_score",
]

#: resolutions scanned for the NMI-optimal Leiden clustering, as scIB does
RESOLUTIONS = tuple(round(0.1 * i, 1) for i in range(1, 21))
#: silhouettes (quadratic in cells) are exact up to this many cells, else on a stratified subsample
MAX_SILHOUETTE_CELLS = 50_000
#: kBET runs on every cell up to this many, else on a stratified subsample with its own kNN graph
MAX_KBET_CELLS = 50_000
#: neighbours of the LISI metrics and of the kBET graph (scib-metrics)
LISI_NEIGHBORS = 90
KBET_NEIGHBORS = 50


class EmbeddingEvaluation:
    """An embedding to score, with labels and batches of its cells.

    Parameters
    ----------
    embedding
        Cells x dims.
    labels, batch
        Cell-type and batch of each cell (either may be ``None``).
    seed
        Seed of the Leiden clustering and of every subsample.
    n_neighbors
        Neighbours of the kNN graph used for clustering and graph connectivity (scIB uses 15).
    unintegrated
        The embedding before integration (cells x dims), for PCR comparison.
    expression, genes
        Log-normalised expression before embedding and its gene names, for cell-cycle
        conservation.
    pseudotimes
        True pseudotimes by name (NaN for cells off the trajectory), for trajectory conservation.
    max_silhouette_cells, max_kbet_cells
        Above these sizes, silhouettes / kBET use a label-stratified subsample.
    """

    def __init__(
        self,
        embedding: Any,
        labels: Any | None = None,
        batch: Any | None = None,
        *,
        seed: int = 0,
        n_neighbors: int = 15,
        unintegrated: Any | None = None,
        max_silhouette_cells: int = MAX_SILHOUETTE_CELLS,
        max_kbet_cells: int = MAX_KBET_CELLS,
        expression: Any | None = None,
        genes: Any | None = None,
        pseudotimes: dict[str, Any] | None = None,
    ) -> None:
        self.embedding = np.ascontiguousarray(embedding, dtype=np.float32)
        self.labels = None if labels is None else np.asarray(labels).astype(str)
        self.batch = None if batch is None else np.asarray(batch).astype(str)
        self.seed = seed
        self.n_neighbors = int(min(n_neighbors, max(2, self.embedding.shape[0] - 1)))
        self.unintegrated = None if unintegrated is None else np.asarray(unintegrated, dtype=np.float32)
        self.max_silhouette_cells = int(max_silhouette_cells)
        self.max_kbet_cells = int(max_kbet_cells)
        #: log-normalised expression of the cells before embedding, and its gene names (cell-cycle conservation)
        self.expression = expression
        self.genes = None if genes is None else [str(g) for g in genes]
        #: true pseudotimes of the cells by name (trajectory conservation); NaN off the trajectory
        self.pseudotimes = dict(pseudotimes or {})

    @property
    def n_cells(self) -> int:
        return int(self.embedding.shape[0])

    def _groups(self) -> np.ndarray:
        """Labels, or one group of all cells when there are none."""
        return self.labels if self.labels is not None else np.zeros(self.n_cells, dtype=str)

    # ------------------------------------------------------------------ shared pieces
    @cached_property
    def neighbors(self) -> tuple[np.ndarray, np.ndarray]:
        """``(indices, distances)`` of the nearest cells, self first, from one FAISS search with
        as many neighbours as any metric needs (90 for LISI)."""
        from dance.core.neighbors import knn

        k = int(min(max(self.n_neighbors + 1, LISI_NEIGHBORS, KBET_NEIGHBORS), self.n_cells))
        return knn(self.embedding, k, seed=self.seed)

    def _connectivities(self, k: int) -> sp.csr_matrix:
        from dance.core.neighbors import umap_connectivities

        indices, distances = self.neighbors
        k = min(k, indices.shape[1])
        return umap_connectivities(indices[:, :k], distances[:, :k])

    @cached_property
    def connectivities(self) -> sp.csr_matrix:
        """UMAP connectivities of the ``n_neighbors``-NN graph (self counted, as scanpy)."""
        return self._connectivities(self.n_neighbors)

    @cached_property
    def clusterings(self) -> dict[float, np.ndarray]:
        """Leiden clusters of the kNN graph at each resolution of :data:`RESOLUTIONS`."""
        from dance.core.community import communities, igraph_graph

        graph = igraph_graph(self.connectivities)
        return {
            resolution: np.asarray(communities(self.connectivities, method="leiden", resolution=resolution, seed=self.seed, graph=graph))
            for resolution in RESOLUTIONS
        }

    @cached_property
    def optimal_clusters(self) -> np.ndarray:
        """Leiden clusters at the resolution (0.1 to 2.0) that maximises NMI with the labels."""
        if self.labels is None:
            raise ValueError("optimal clustering needs labels")
        best, best_nmi = None, -1.0
        for clusters in self.clusterings.values():
            nmi = normalized_mutual_information(self.labels, clusters)
            if nmi > best_nmi:
                best, best_nmi = clusters, nmi
        return np.asarray(best)

    @cached_property
    def silhouette_cells(self) -> np.ndarray:
        """Indices of the cells silhouettes are computed on (all, or a stratified subsample)."""
        return scib.stratified_subsample(self._groups(), self.max_silhouette_cells, seed=self.seed)

    @cached_property
    def label_silhouettes(self) -> np.ndarray:
        """Silhouette of each cell of :attr:`silhouette_cells` with respect to the labels."""
        cells = self.silhouette_cells
        return scib.silhouette_samples(self.embedding[cells], self.labels[cells])


# ---------------------------------------------------------------------- bio-conservation
def cluster_nmi(truth: Any, evaluation: EmbeddingEvaluation) -> float | None:
    """NMI between the labels and NMI-optimal Leiden clusters of the embedding."""
    if evaluation.labels is None:
        return None
    return normalized_mutual_information(evaluation.labels, evaluation.optimal_clusters)


def cluster_ari(truth: Any, evaluation: EmbeddingEvaluation) -> float | None:
    """ARI between the labels and NMI-optimal Leiden clusters of the embedding."""
    if evaluation.labels is None:
        return None
    return adjusted_rand_index(evaluation.labels, evaluation.optimal_clusters)


def asw_label(truth: Any, evaluation: EmbeddingEvaluation) -> float | None:
    """Cell-type average silhouette width, rescaled to [0, 1]: (ASW + 1) / 2."""
    if evaluation.labels is None or len(np.unique(evaluation.labels)) < 2:
        return None
    return float((evaluation.label_silhouettes.mean() + 1) / 2)


def isolated_label_asw(truth: Any, evaluation: EmbeddingEvaluation) -> float | None:
    """Mean over isolated labels of the mean rescaled label silhouette of their cells
    (scib-metrics' ``isolated_labels``; scib instead uses the silhouette of label-vs-rest)."""
    if evaluation.labels is None or evaluation.batch is None or len(np.unique(evaluation.labels)) < 2:
        return None
    cells = evaluation.silhouette_cells
    rescaled = (evaluation.label_silhouettes + 1) / 2
    labels = evaluation.labels[cells]
    scores = [
        rescaled[labels == label].mean() for label in scib.isolated_labels(evaluation.labels, evaluation.batch) if (labels == label).any()
    ]
    return float(np.mean(scores)) if scores else None


def isolated_label_f1(truth: Any, evaluation: EmbeddingEvaluation) -> float | None:
    """Mean over isolated labels of the best F1 score of a single Leiden cluster (over all
    resolutions) against the label (scib's ``isolated_labels_f1``)."""
    if evaluation.labels is None or evaluation.batch is None:
        return None
    scores = []
    for label in scib.isolated_labels(evaluation.labels, evaluation.batch):
        is_label = evaluation.labels == label
        n_label = is_label.sum()
        best = 0.0
        for clusters in evaluation.clusterings.values():
            sizes = np.bincount(clusters)
            overlap = np.bincount(clusters[is_label], minlength=len(sizes))
            f1 = 2 * overlap / (sizes + n_label)
            best = max(best, float(f1.max()))
        scores.append(best)
    return float(np.mean(scores)) if scores else None


def clisi(truth: Any, evaluation: EmbeddingEvaluation) -> float | None:
    """Cell-type LISI over 90 neighbours (perplexity 30), scaled: (L - median) / (L - 1)."""
    if evaluation.labels is None:
        return None
    n_labels = len(np.unique(evaluation.labels))
    if n_labels < 2:
        return None
    indices, distances = evaluation.neighbors
    k = min(LISI_NEIGHBORS, indices.shape[1])
    median = float(np.nanmedian(scib.lisi(indices[:, :k], distances[:, :k], evaluation.labels)))
    return (n_labels - median) / (n_labels - 1)


# ---------------------------------------------------------------------- batch correction
def asw_batch(truth: Any, evaluation: EmbeddingEvaluation) -> float | None:
    """Batch ASW per cell type: mean over types of mean(1 - |silhouette of batch|) (scIB).

    Cell types present in a single batch (or with one cell per batch) are skipped, as in scIB.
    Without labels, all cells form one group.
    """
    if evaluation.batch is None:
        return None
    cells = evaluation.silhouette_cells
    labels = evaluation._groups()[cells]
    batch = evaluation.batch[cells]
    scores = []
    for label in np.unique(labels):
        members = labels == label
        batches = batch[members]
        n_batches = len(np.unique(batches))
        if n_batches < 2 or n_batches == members.sum():
            continue
        silhouette = scib.silhouette_samples(evaluation.embedding[cells][members], batches)
        scores.append(np.mean(1 - np.abs(silhouette)))
    return float(np.mean(scores)) if scores else None


def graph_connectivity(truth: Any, evaluation: EmbeddingEvaluation) -> float | None:
    """Mean over cell types of the fraction of its cells in the largest connected component of
    the kNN graph restricted to that type (scIB)."""
    from scipy.sparse.csgraph import connected_components

    if evaluation.labels is None:
        return None
    graph = evaluation.connectivities
    fractions = []
    for label in np.unique(evaluation.labels):
        members = np.flatnonzero(evaluation.labels == label)
        _, component = connected_components(graph[members][:, members], directed=False)
        fractions.append(np.bincount(component).max() / len(members))
    return float(np.mean(fractions))


def ilisi(truth: Any, evaluation: EmbeddingEvaluation) -> float | None:
    """Batch LISI over 90 neighbours (perplexity 30), scaled: (median - 1) / (B - 1)."""
    if evaluation.batch is None:
        return None
    n_batches = len(np.unique(evaluation.batch))
    if n_batches < 2:
        return None
    indices, distances = evaluation.neighbors
    k = min(LISI_NEIGHBORS, indices.shape[1])
    median = float(np.nanmedian(scib.lisi(indices[:, :k], distances[:, :k], evaluation.batch)))
    return (median - 1) / (n_batches - 1)


def kbet(truth: Any, evaluation: EmbeddingEvaluation) -> float | None:
    """kBET acceptance rate per cell type, averaged over types (scIB / scib-metrics'
    ``kbet_per_label``): within each type (at least 10 cells, several batches), neighbourhoods of
    ``k0 = min(70, max(10, mean cells per batch / 4))`` cells in the diffusion map of the 50-NN
    graph restricted to the type are tested; a type whose graph splits into components is scored
    on the components of at least ``3 k0`` cells if they hold 75% of it, else 0. Without labels,
    all cells form one group."""
    from scipy.sparse.csgraph import connected_components

    if evaluation.batch is None or len(np.unique(evaluation.batch)) < 2:
        return None
    labels, batch = evaluation._groups(), evaluation.batch
    if evaluation.n_cells > evaluation.max_kbet_cells:
        from dance.core.neighbors import knn, umap_connectivities

        cells = scib.stratified_subsample(labels, evaluation.max_kbet_cells, seed=evaluation.seed)
        indices, distances = knn(evaluation.embedding[cells], min(KBET_NEIGHBORS, len(cells)), seed=evaluation.seed)
        graph = umap_connectivities(indices, distances)
        labels, batch = labels[cells], batch[cells]
    else:
        graph = evaluation._connectivities(KBET_NEIGHBORS)
    scores = []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        sub_batch = batch[members]
        if len(members) < 10 or len(np.unique(sub_batch)) == 1:
            continue
        sub = graph[members][:, members].tocsr()
        k0 = int(min(70, max(10, np.floor(np.mean(np.unique(sub_batch, return_counts=True)[1]) / 4))))
        n_components, component = connected_components(sub, directed=False)
        if n_components > 1:
            sizes = np.bincount(component)
            keep = np.flatnonzero(np.isin(component, np.flatnonzero(sizes >= 3 * k0)))
            if len(keep) / len(members) < 0.75:
                scores.append(0.0)
                continue
            sub, sub_batch = sub[keep][:, keep], sub_batch[keep]
        try:
            neighbors = scib.diffusion_neighbors(sub, k0, n_comps=min(100, sub.shape[0] - 1), seed=evaluation.seed)
        except (ValueError, RuntimeError):  # eigensolver failure: counted as full rejection, as scib-metrics
            scores.append(0.0)
            continue
        scores.append(scib.kbet_acceptance(neighbors, sub_batch))
    return float(np.mean(scores)) if scores else None


def pcr_comparison(truth: Any, evaluation: EmbeddingEvaluation) -> float | None:
    """Principal component regression comparison (scIB): the relative drop of the batch's share
    of the variance of the top 50 PCs, from the unintegrated to the integrated embedding,
    clipped at 0 (an increase scores 0)."""
    if evaluation.batch is None or evaluation.unintegrated is None or len(np.unique(evaluation.batch)) < 2:
        return None
    before = scib.principal_component_regression(evaluation.unintegrated, evaluation.batch)
    after = scib.principal_component_regression(evaluation.embedding, evaluation.batch)
    if before <= 0:
        return None
    return float(max(0.0, (before - after) / before))


# ---------------------------------------------------------------------- conservation of signals
def cell_cycle_conservation_score(truth: Any, evaluation: EmbeddingEvaluation) -> float:
    """scIB's cell-cycle conservation (``cc_cons``) of the embedding against the expression
    (:func:`dance.core.metrics.conservation.cell_cycle_conservation`); per batch when known."""
    from dance.core.errors import MetricNotComputableError
    from dance.core.metrics.conservation import cell_cycle_conservation

    if evaluation.expression is None or evaluation.genes is None:
        raise MetricNotComputableError("the input has no gene-expression modality to score the cell cycle on")
    return cell_cycle_conservation(evaluation.embedding, evaluation.expression, evaluation.genes, evaluation.batch, seed=evaluation.seed)


def trajectory_conservation_score(truth: Any, evaluation: EmbeddingEvaluation) -> float:
    """scIB's trajectory conservation (``ti_cons_batch_mean``): mean over the known pseudotimes
    (e.g. one from each modality, as the challenge had) of
    :func:`dance.core.metrics.conservation.trajectory_conservation`."""
    from dance.core.errors import MetricNotComputableError
    from dance.core.metrics.conservation import trajectory_conservation

    if not evaluation.pseudotimes:
        raise MetricNotComputableError("the input has no pseudotime of the cells (obs columns 'pseudotime_order_*')")
    if evaluation.labels is None:
        raise MetricNotComputableError("trajectory conservation roots the trajectory in a cell type; the input has no cell types")
    values = [
        trajectory_conservation(evaluation.embedding, pseudotime, evaluation.labels, evaluation.batch, seed=evaluation.seed)
        for pseudotime in evaluation.pseudotimes.values()
    ]
    return float(np.mean(values))


def asw_batch_of_batches(truth: Any, evaluation: EmbeddingEvaluation) -> float | None:
    """:func:`asw_batch`, saying why it is absent when the cells come from one batch (the joint
    embedding task's inputs often do)."""
    from dance.core.errors import MetricNotComputableError

    if evaluation.batch is None or len(np.unique(evaluation.batch)) < 2:
        raise MetricNotComputableError("the cells come from one batch (obs['batch']): there is no batch mixing to score")
    return asw_batch(truth, evaluation)
