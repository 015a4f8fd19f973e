"""Integration metrics of GLUE (Cao & Gao 2022, "Multi-omics single-cell data integration and
regulatory inference with graph-linked embedding", Nat Biotechnol 40:1458-1466), as the reference
package ``scglue`` 0.4.1 (``scglue.metrics``) defines them.

Every metric is ``fn(truth, (emb1, emb2)) -> float | None`` for the task
``multiomics_integration`` (``truth`` a :class:`~dance.core.tasks.multiomics_integration.MultiomicsTruth`).
The cells scored are both modalities' cells stacked (``emb1`` rows, then ``emb2`` rows), their cell
types ``labels1`` then ``labels2``, and their "batch" (omics layer) the modality they come from.
All are in [0, 1], higher is better, and deterministic.

==========================  =======================================================================
metric                      definition
==========================  =======================================================================
``map``                     mean average precision of cell types among the ``k`` nearest cells,
                            ``k = max(round(0.01 n), 1)`` (biology conservation)
``cell_type_asw``           (mean silhouette of the cell types + 1) / 2 (biology conservation)
``neighbor_conservation``   per modality: Jaccard index of each cell's ``k`` nearest cells in the
                            shared space and in its modality's unintegrated representation
                            (``MultiomicsTruth.representations``), mean over cells, then over
                            modalities (biology conservation)
``seurat_alignment_score``  1 - excess of same-modality cells among the ``k`` nearest cells of
                            modality-balanced subsamples, over 4 seeded repeats (omics mixing)
``omics_layer_asw``         per cell type: mean of 1 - |silhouette of the modalities|; mean over
                            cell types (omics mixing)
``graph_connectivity``      per cell type: share of its cells in the largest connected component of
                            the 15-NN graph restricted to it; mean over types (omics mixing)
``glue_overall``            0.6 * mean(biology conservation) + 0.4 * mean(omics mixing)
==========================  =======================================================================

Neighbours come from :func:`dance.core.neighbors.knn` (FAISS, exact up to 200,000 cells);
silhouettes from the exact chunked kernel :func:`dance.core.metrics.scib_kernels.silhouette_samples`,
on a seeded subsample above :data:`~dance.core.metrics.scib_metrics.MAX_SILHOUETTE_CELLS` cells
(scglue uses every cell). ``cell_type_asw`` and ``graph_connectivity`` are the scIB metrics of
:mod:`dance.core.metrics.scib_metrics`, whose definitions are the same; scglue's omics-layer ASW
differs from scIB's batch ASW (see :func:`omics_layer_asw`), and is computed here.

The task calls its metrics in turn on one prediction: they share one kNN search of the shared
space, and ``glue_overall`` reuses the values already computed. The module keeps the inputs of
the latest call (the stacked cells, that search, the values), keyed by a hash of their content,
so a changed embedding is always scored afresh.
"""

from __future__ import annotations

import hashlib
from functools import cached_property
from typing import Any

import numpy as np
import scipy.sparse as sp

__all__ = [
    "BIO_METRICS",
    "MIXING_METRICS",
    "cell_type_asw",
    "glue_overall",
    "graph_connectivity",
    "mean_average_precision",
    "neighbor_conservation",
    "omics_layer_asw",
    "seurat_alignment_score",
]

#: fraction of the cells taken as neighbours by MAP, SAS and neighbour conservation (scglue's default)
NEIGHBOR_FRAC = 0.01
#: subsampling repeats of the Seurat alignment score (scglue's default)
SAS_REPEATS = 4
#: neighbours (self included) of the kNN graph of graph connectivity (scanpy's default)
GRAPH_NEIGHBORS = 15
#: seed of every random choice (SAS subsamples; silhouette subsamples of very large inputs)
SEED = 0
#: registry names of the biology-conservation and omics-mixing metrics averaged by :func:`glue_overall`
BIO_METRICS = ("map", "cell_type_asw", "neighbor_conservation")
MIXING_METRICS = ("seurat_alignment_score", "omics_layer_asw", "graph_connectivity")


# ---------------------------------------------------------------------- inputs
def _cell_types(truth: Any) -> np.ndarray | None:
    """``labels1`` then ``labels2`` as strings; None unless both are known."""
    labels1, labels2 = getattr(truth, "labels1", None), getattr(truth, "labels2", None)
    if labels1 is None or labels2 is None:
        return None
    return np.concatenate([np.asarray(labels1).astype(str), np.asarray(labels2).astype(str)])


def _representations(representations: Any, sizes: tuple[int, int]) -> tuple[np.ndarray, np.ndarray] | None:
    """``truth.representations`` as two dense float arrays, checked against the cell counts."""
    from dance.core.errors import DanceInputError

    if representations is None:
        return None
    if len(representations) != 2:
        raise DanceInputError("representations must be a pair (mod1 representation, mod2 representation)", field="representations")
    out = []
    for role, rep, n in zip(("mod1", "mod2"), representations, sizes, strict=True):
        rep = np.asarray(rep.toarray() if sp.issparse(rep) else rep, dtype=np.float64)
        rep = rep.reshape(rep.shape[0], -1)
        if rep.shape[0] != n:
            raise DanceInputError(
                f"the unintegrated representation of {role} has {rep.shape[0]} rows for {n} cells", field="representations"
            )
        out.append(rep)
    return out[0], out[1]


def _n_neighbors(n: int, neighbor_frac: float) -> int:
    """scglue's ``k = max(round(n * neighbor_frac), 1)`` (Python's round: halves to even)."""
    return max(round(n * neighbor_frac), 1)


def _knn(x: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices and distances of the ``k + 1`` nearest cells of each cell, itself first (fewer when
    there are not enough cells)."""
    from dance.core.neighbors import knn

    return knn(x, min(k + 1, x.shape[0]), seed=SEED)


class _Inputs:
    """The stacked cells of one ``(truth, embeddings)`` pair, with what several metrics share: the
    kNN search of the shared space and the metric values already computed."""

    def __init__(self, truth: Any, embeddings: tuple[Any, Any]) -> None:
        emb1, emb2 = (np.asarray(e, dtype=np.float64) for e in embeddings)
        self.sizes = (int(emb1.shape[0]), int(emb2.shape[0]))
        #: cells of both modalities x dims, mod1 first
        self.x = np.concatenate([emb1, emb2])
        #: modality of each cell: 0 (mod1) or 1 (mod2)
        self.modality = np.repeat(np.array([0, 1]), self.sizes)
        self.labels = _cell_types(truth)
        self._representations = getattr(truth, "representations", None)
        self.values: dict[tuple[Any, ...], float | None] = {}
        self._knn: tuple[np.ndarray, np.ndarray] | None = None

    @property
    def n_cells(self) -> int:
        return int(self.x.shape[0])

    @cached_property
    def representations(self) -> tuple[np.ndarray, np.ndarray] | None:
        """Each modality's unintegrated representation (checked only by the metric that reads it)."""
        return _representations(self._representations, self.sizes)

    def digest(self) -> bytes:
        """Fingerprint of everything the metrics read."""
        h = hashlib.blake2b(digest_size=16)
        h.update(repr(self.sizes).encode())
        raw = self._representations
        for part in (self.x, self.labels, *(raw if isinstance(raw, (tuple, list)) else (raw,))):
            if part is None:
                h.update(b"none")
                continue
            if sp.issparse(part):
                part = sp.csr_matrix(part)
                arrays = (part.data, part.indices, part.indptr)
            else:
                part = np.asarray(part)
                arrays = (part,)
            h.update(f"{type(part).__name__}{part.shape}{part.dtype}".encode())
            for array in arrays:
                h.update(np.ascontiguousarray(array).tobytes())
        return h.digest()

    def knn(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Indices and distances of the ``k + 1`` nearest cells of each cell in the shared space,
        itself first: one FAISS search (as deep as the default MAP and the 15-NN graph need)
        serves MAP, the SAS of equal-sized modalities and graph connectivity."""
        needed = min(k + 1, self.n_cells)
        if self._knn is None or self._knn[0].shape[1] < needed:
            default = max(_n_neighbors(self.n_cells, NEIGHBOR_FRAC), GRAPH_NEIGHBORS - 1)
            self._knn = _knn(self.x, max(k, default))
        indices, distances = self._knn
        return indices[:, :needed], distances[:, :needed]


_LAST: list[tuple[bytes, _Inputs]] = []  # the inputs of the latest call: metrics of one run share them


def _inputs(truth: Any, embeddings: tuple[Any, Any]) -> _Inputs:
    """The :class:`_Inputs` of ``(truth, embeddings)``, reused while the same content is scored
    (the task calls every metric in turn on one prediction)."""
    inputs = _Inputs(truth, embeddings)
    key = inputs.digest()
    if _LAST and _LAST[0][0] == key:
        return _LAST[0][1]
    _LAST[:] = [(key, inputs)]
    return inputs


def _memoized(name: str, inputs: _Inputs, params: tuple[Any, ...], compute: Any) -> float | None:
    key = (name, *params)
    if key not in inputs.values:
        inputs.values[key] = compute()
    return inputs.values[key]


# ---------------------------------------------------------------------- biology conservation
def mean_average_precision(truth: Any, embeddings: tuple[Any, Any], *, neighbor_frac: float = NEIGHBOR_FRAC) -> float | None:
    """Mean average precision of cell types in the shared space (Cao & Gao 2022, Nat Biotechnol
    40:1458-1466; scglue's ``mean_average_precision``).

    For each cell of either modality, its ``k = max(round(neighbor_frac * n), 1)`` nearest other
    cells (Euclidean, ``n`` cells of both modalities) are ranked; with ``m_j = 1`` when the
    ``j``-th shares its cell type, the cell's average precision is the mean over the hits ``j``
    of ``(m_1 + ... + m_j) / j`` (0 without a hit). The score is the mean over cells.

    Parameters
    ----------
    truth
        :class:`~dance.core.tasks.multiomics_integration.MultiomicsTruth`; needs ``labels1`` and
        ``labels2``.
    embeddings
        ``(emb1, emb2)``: mod1 cells x dims, mod2 cells x dims.
    neighbor_frac
        Fraction of the cells taken as neighbours.

    Returns
    -------
    float or None
        MAP in [0, 1]; None without the labels of both modalities.
    """
    inputs = _inputs(truth, embeddings)
    labels = inputs.labels
    if labels is None:
        return None

    def compute() -> float:
        indices, _ = inputs.knn(_n_neighbors(inputs.n_cells, neighbor_frac))
        match = labels[indices[:, 1:]] == labels[:, None]
        precision = np.cumsum(match, axis=1) / np.arange(1, match.shape[1] + 1)
        hits = match.sum(axis=1)
        average = np.divide((precision * match).sum(axis=1), hits, out=np.zeros(len(hits)), where=hits > 0)
        return float(average.mean())

    return _memoized("map", inputs, (neighbor_frac,), compute)


def cell_type_asw(truth: Any, embeddings: tuple[Any, Any]) -> float | None:
    """Cell-type average silhouette width, rescaled (Cao & Gao 2022, Nat Biotechnol
    40:1458-1466; scglue's ``avg_silhouette_width``): ``(mean silhouette + 1) / 2`` of the cell
    types over the cells of both modalities, Euclidean distances.

    Computed by scIB's ``asw_label`` of :mod:`dance.core.metrics.scib_metrics` (the same
    definition): exact, on a seeded type-stratified subsample above ``MAX_SILHOUETTE_CELLS`` cells.

    Parameters
    ----------
    truth
        Needs ``labels1`` and ``labels2``.
    embeddings
        ``(emb1, emb2)``.

    Returns
    -------
    float or None
        In [0, 1]; None without the labels of both modalities or with a single cell type.
    """
    from dance.core.metrics.scib_metrics import EmbeddingEvaluation, asw_label

    inputs = _inputs(truth, embeddings)
    if inputs.labels is None:
        return None
    return _memoized("cell_type_asw", inputs, (), lambda: asw_label(truth, EmbeddingEvaluation(inputs.x, inputs.labels, seed=SEED)))


def neighbor_conservation(truth: Any, embeddings: tuple[Any, Any], *, neighbor_frac: float = NEIGHBOR_FRAC) -> float | None:
    """Neighbour conservation (Cao & Gao 2022, Nat Biotechnol 40:1458-1466; scglue's
    ``neighbor_conservation``): how much of each modality's own neighbourhood structure the
    shared space keeps.

    Within each modality, every cell's ``k = max(round(neighbor_frac * n), 1)`` nearest other
    cells of that modality (``n`` counts the cells of *both* modalities, as scglue) are found in
    the shared space (set ``A``) and in the modality's unintegrated representation (set ``B``;
    e.g. the PCA of RNA, the LSI of ATAC); the cell scores the Jaccard index
    ``|A & B| / |A | B|``. The score is the mean over the modality's cells, averaged over the two
    modalities (a modality of one cell is left out).

    Parameters
    ----------
    truth
        Needs ``truth.representations``: ``(mod1 cells x d1, mod2 cells x d2)`` (dense or sparse),
        rows in the order of ``emb1`` and ``emb2``.
    embeddings
        ``(emb1, emb2)``.
    neighbor_frac
        Fraction of the cells taken as neighbours.

    Returns
    -------
    float or None
        In [0, 1]; None without the unintegrated representations.
    """
    inputs = _inputs(truth, embeddings)
    if inputs.representations is None:
        return None

    def compute() -> float | None:
        k = _n_neighbors(inputs.n_cells, neighbor_frac)
        scores = []
        for m, rep in enumerate(inputs.representations):
            n = inputs.sizes[m]
            if n < 2:
                continue
            graphs = []
            for space in (inputs.x[inputs.modality == m], rep):
                indices = _knn(space, k)[0][:, 1:]
                rows = np.repeat(np.arange(n), indices.shape[1])
                graphs.append(sp.csr_matrix((np.ones(rows.size), (rows, indices.ravel())), shape=(n, n)))
            shared = np.asarray(graphs[0].multiply(graphs[1]).sum(axis=1)).ravel()
            union = np.asarray(graphs[0].sum(axis=1) + graphs[1].sum(axis=1)).ravel() - shared
            scores.append(float(np.mean(shared / union)))
        return float(np.mean(scores)) if scores else None

    return _memoized("neighbor_conservation", inputs, (neighbor_frac,), compute)


# ---------------------------------------------------------------------- omics mixing
def seurat_alignment_score(
    truth: Any,
    embeddings: tuple[Any, Any],
    *,
    neighbor_frac: float = NEIGHBOR_FRAC,
    n_repeats: int = SAS_REPEATS,
    random_state: int = SEED,
) -> float | None:
    """Seurat alignment score of the two modalities (Butler et al. 2018, Nat Biotechnol 36:411;
    as Cao & Gao 2022, Nat Biotechnol 40:1458-1466, and scglue's ``seurat_alignment_score``
    compute it).

    Each repeat draws ``m`` cells of each modality without replacement (``m`` the smaller
    modality's size), finds every drawn cell's ``k = max(round(2 m * neighbor_frac), 1)`` nearest
    other drawn cells and counts ``s``, the mean number among them from the cell's own modality;
    the repeat scores ``min(1, (k - s) B / (k (B - 1)))`` with ``B = 2`` modalities (1: as mixed
    as chance, 0: no neighbour from the other modality). The score is the mean over repeats.

    The draws are scglue's exactly: ``numpy.random.RandomState(random_state).choice`` per
    modality, mod1 then mod2, per repeat. When both modalities have the same size every repeat
    takes all cells, and the score is computed once.

    Parameters
    ----------
    truth
        Unused (the modality of each cell is known from the embeddings).
    embeddings
        ``(emb1, emb2)``.
    neighbor_frac, n_repeats, random_state
        As scglue (0.01, 4; the GLUE paper's evaluation used ``random_state=0``).

    Returns
    -------
    float or None
        In [0, 1]; None when a modality has no cell.
    """
    inputs = _inputs(truth, embeddings)
    size = min(inputs.sizes)
    if size == 0:
        return None
    n_groups = 2

    def score(indices: np.ndarray, modality: np.ndarray, k: int) -> float:
        same = (modality[indices[:, 1:]] == modality[:, None]).sum(axis=1).mean()
        # scglue divides by k even when fewer than k other cells were drawn
        return min((k - same) * n_groups / (k * (n_groups - 1)), 1.0)

    def compute() -> float:
        k = _n_neighbors(n_groups * size, neighbor_frac)
        if inputs.sizes[0] == inputs.sizes[1]:
            return score(inputs.knn(k)[0], inputs.modality, k)
        members = [np.flatnonzero(inputs.modality == m) for m in range(n_groups)]
        rs = np.random.RandomState(random_state)  # legacy generator: scglue's draws, stable across NumPy versions
        scores = []
        for _ in range(n_repeats):
            chosen = np.concatenate([rs.choice(m, size, replace=False) for m in members])
            scores.append(score(_knn(inputs.x[chosen], k)[0], inputs.modality[chosen], k))
        return float(np.mean(scores))

    return _memoized("seurat_alignment_score", inputs, (neighbor_frac, n_repeats, random_state), compute)


def omics_layer_asw(truth: Any, embeddings: tuple[Any, Any]) -> float | None:
    """Omics-layer average silhouette width (Cao & Gao 2022, Nat Biotechnol 40:1458-1466;
    scglue's ``avg_silhouette_width_batch``).

    Within each cell type, the silhouette of every cell with respect to the modalities
    (Euclidean); the type scores ``mean(1 - |silhouette|)``; the score is the mean over types.
    As in scglue (where scikit-learn refuses and scglue counts silhouette 0), a type found in
    only one modality, or with as many modalities as cells, scores 1; scIB's batch ASW
    (:func:`dance.core.metrics.scib_metrics.asw_batch`) skips such types instead. Types of more
    than ``MAX_SILHOUETTE_CELLS`` cells are scored on a seeded modality-stratified subsample.

    Parameters
    ----------
    truth
        Needs ``labels1`` and ``labels2``.
    embeddings
        ``(emb1, emb2)``.

    Returns
    -------
    float or None
        In [0, 1]; None without the labels of both modalities.
    """
    from dance.core.metrics.scib_kernels import silhouette_samples, stratified_subsample
    from dance.core.metrics.scib_metrics import MAX_SILHOUETTE_CELLS

    inputs = _inputs(truth, embeddings)
    labels = inputs.labels
    if labels is None:
        return None

    def compute() -> float:
        scores = []
        for label in np.unique(labels):
            members = np.flatnonzero(labels == label)
            modality = inputs.modality[members]
            if not 1 < len(np.unique(modality)) < len(members):
                scores.append(1.0)
                continue
            members = members[stratified_subsample(modality, MAX_SILHOUETTE_CELLS, seed=SEED)]
            silhouette = silhouette_samples(inputs.x[members], inputs.modality[members])
            scores.append(float(np.mean(1 - np.abs(silhouette))))
        return float(np.mean(scores))

    return _memoized("omics_layer_asw", inputs, (), compute)


def graph_connectivity(truth: Any, embeddings: tuple[Any, Any]) -> float | None:
    """Graph connectivity (Luecken et al. 2022, Nat Methods 19:41; as Cao & Gao 2022, Nat
    Biotechnol 40:1458-1466, and scglue's ``graph_connectivity`` compute it).

    The 15-nearest-neighbour graph (self counted; UMAP connectivities, as scanpy's
    ``pp.neighbors`` defaults) of the cells of both modalities; per cell type, the share of its
    cells in the largest connected component of the graph restricted to it; mean over types.
    Computed by scIB's ``graph_connectivity`` of :mod:`dance.core.metrics.scib_metrics` (the
    same definition).

    Parameters
    ----------
    truth
        Needs ``labels1`` and ``labels2``.
    embeddings
        ``(emb1, emb2)``.

    Returns
    -------
    float or None
        In [0, 1]; None without the labels of both modalities.
    """
    from dance.core.metrics.scib_metrics import EmbeddingEvaluation
    from dance.core.metrics.scib_metrics import graph_connectivity as scib_graph_connectivity

    inputs = _inputs(truth, embeddings)
    if inputs.labels is None:
        return None

    def compute() -> float | None:
        evaluation = EmbeddingEvaluation(inputs.x, inputs.labels, seed=SEED, n_neighbors=GRAPH_NEIGHBORS)
        evaluation.neighbors = inputs.knn(GRAPH_NEIGHBORS - 1)  # the shared search; its graph uses these 15
        return scib_graph_connectivity(truth, evaluation)

    return _memoized("graph_connectivity", inputs, (), compute)


# ---------------------------------------------------------------------- overall
_FUNCTIONS = {
    "map": mean_average_precision,
    "cell_type_asw": cell_type_asw,
    "neighbor_conservation": neighbor_conservation,
    "seurat_alignment_score": seurat_alignment_score,
    "omics_layer_asw": omics_layer_asw,
    "graph_connectivity": graph_connectivity,
}


def glue_overall(truth: Any, embeddings: tuple[Any, Any]) -> float | None:
    """Overall integration score of the GLUE benchmark (Cao & Gao 2022, Nat Biotechnol
    40:1458-1466): ``0.6 * biology conservation + 0.4 * omics mixing``.

    Biology conservation is the mean of :data:`BIO_METRICS` (``map``, ``cell_type_asw``,
    ``neighbor_conservation``) and omics mixing the mean of :data:`MIXING_METRICS`
    (``seurat_alignment_score``, ``omics_layer_asw``, ``graph_connectivity``), each over the
    metrics the truth allows (all at their defaults; values already computed for the same
    inputs are reused).

    Parameters
    ----------
    truth
        :class:`~dance.core.tasks.multiomics_integration.MultiomicsTruth`.
    embeddings
        ``(emb1, emb2)``.

    Returns
    -------
    float or None
        In [0, 1]; None when either group has no computable metric.
    """
    groups = []
    for names in (BIO_METRICS, MIXING_METRICS):
        values = [v for v in (_FUNCTIONS[name](truth, embeddings) for name in names) if v is not None]
        if not values:
            return None
        groups.append(float(np.mean(values)))
    return 0.6 * groups[0] + 0.4 * groups[1]
