"""Metrics of cross-modality correspondence."""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

__all__ = ["foscttm", "label_transfer_accuracy", "matching_score", "top1_accuracy"]


def matching_score(partner: Any, scores: Any) -> float:
    """NeurIPS 2021 match-modality score: mean probability on the true partner.

    Parameters
    ----------
    partner
        ``partner[i]`` is the column of the true match of row ``i``.
    scores
        Non-negative (rows x columns) scores; each row is normalised to sum to one.
    """
    matrix = sp.csr_matrix(scores, dtype=np.float64)
    totals = np.asarray(matrix.sum(axis=1)).ravel()
    hit = np.asarray(matrix[np.arange(matrix.shape[0]), np.asarray(partner)]).ravel()
    return float(np.mean(np.divide(hit, totals, out=np.zeros_like(hit), where=totals > 0)))


def top1_accuracy(partner: Any, scores: Any) -> float:
    """Fraction of rows whose highest score is on the true partner (ties: the first column).

    Parameters
    ----------
    partner
        ``partner[i]`` is the column of the true match of row ``i``.
    scores
        Non-negative (rows x columns) scores.
    """
    matrix = sp.csr_matrix(scores, dtype=np.float64)
    if matrix.shape[0] == 0:
        return float("nan")
    best = np.asarray(matrix.argmax(axis=1)).ravel()
    has_score = np.diff(matrix.indptr) > 0  # an all-zero row matches nothing
    return float(np.mean((best == np.asarray(partner)) & has_score))


def foscttm(truth: Any, embeddings: tuple[Any, Any], chunk: int = 2048) -> float | None:
    """Fraction Of Samples Closer Than the True Match (Liu et al. 2019), averaged both ways.

    For each cell, the fraction of cells of the other modality that are closer to it than its
    true partner; 0 is perfect, 0.5 is random. ``None`` when the pairing is unknown.
    """
    partner = getattr(truth, "partner", None)
    if partner is None:
        return None
    emb1, emb2 = (np.asarray(e, dtype=np.float64) for e in embeddings)
    partner = np.asarray(partner)
    emb2 = emb2[partner]  # row i of emb2 is now the partner of row i of emb1
    n = emb1.shape[0]
    sq1 = (emb1**2).sum(1)
    sq2 = (emb2**2).sum(1)
    true_d = ((emb1 - emb2) ** 2).sum(1)
    # the expanded distances below carry rounding error; ties with the true pair are not "closer"
    threshold = true_d - 1e-9 * (1.0 + true_d)
    closer_rows = np.zeros(n)
    closer_cols = np.zeros(n)
    for start in range(0, n, chunk):
        stop = min(start + chunk, n)
        d = sq1[start:stop, None] + sq2[None, :] - 2 * emb1[start:stop] @ emb2.T
        closer_rows[start:stop] = (d < threshold[start:stop, None]).sum(1)
        closer_cols += (d < threshold[None, :]).sum(0)
    return float((closer_rows.mean() + closer_cols.mean()) / (2 * (n - 1)))


def label_transfer_accuracy(truth: Any, embeddings: tuple[Any, Any], k: int = 5) -> float | None:
    """Accuracy of mod2 labels predicted by a k-nearest-neighbour vote among mod1 cells."""
    from sklearn.neighbors import KNeighborsClassifier

    labels1, labels2 = getattr(truth, "labels1", None), getattr(truth, "labels2", None)
    if labels1 is None or labels2 is None:
        return None
    emb1, emb2 = embeddings
    classifier = KNeighborsClassifier(n_neighbors=min(k, len(labels1))).fit(emb1, np.asarray(labels1).astype(str))
    return float(np.mean(classifier.predict(emb2) == np.asarray(labels2).astype(str)))
