"""From similarities of test cells to the challenge's matching scores."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

__all__ = ["cosine_similarity", "soft_assignment_scores"]


def cosine_similarity(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Rows of ``a`` against rows of ``b`` (dense, cells x cells)."""

    def unit(x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        return x / np.clip(np.linalg.norm(x, axis=1, keepdims=True), 1e-12, None)

    return unit(a) @ unit(b).T


def soft_assignment_scores(
    similarity: np.ndarray, *, top_k: int = 50, temperature: float = 0.05, assignment_weight: float = 0.5
) -> sp.csr_matrix:
    """Non-negative scores, rows of ``similarity`` (mod1 test cells) x its columns (mod2 test
    cells): a softmax over each row's ``top_k`` most similar columns at ``temperature``, mixed with
    the optimal one-to-one assignment (Hungarian algorithm, Kuhn 1955) with ``assignment_weight``,
    as the NeurIPS 2021 matching baselines scored (Lance et al. 2022, PMLR 176:162)."""
    from scipy.optimize import linear_sum_assignment

    n1, n2 = similarity.shape
    k = min(top_k, n2)
    top = np.argpartition(-similarity, k - 1, axis=1)[:, :k]
    logits = np.take_along_axis(similarity, top, axis=1) / temperature
    weights = np.exp(logits - logits.max(axis=1, keepdims=True))
    weights /= weights.sum(axis=1, keepdims=True)
    soft = sp.csr_matrix((weights.ravel(), (np.repeat(np.arange(n1), k), top.ravel())), shape=(n1, n2))
    if assignment_weight <= 0:
        return soft
    rows, cols = linear_sum_assignment(-similarity)
    hard = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n1, n2))
    return ((1 - assignment_weight) * soft + assignment_weight * hard).tocsr()
