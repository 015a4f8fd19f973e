"""Helpers shared by the deep clustering models of this folder (no model lives here).

* :func:`expression_tensors`: the model inputs every ZINB model needs from the preprocessed copy:
  the normalised expression ``X``, the raw counts and the size factors that ``normalize_total``
  recorded in ``obs['size_factor']``.
* :func:`resolve_n_clusters`: the number of clusters, from the parameters (the task passes the
  number of labelled types, DANCE's protocol) or estimated from a learned embedding, with the
  source recorded in the model's notes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp

if TYPE_CHECKING:
    import torch
    from anndata import AnnData

    from dance.core.keys import DataKeys

__all__ = ["dense", "expression_tensors", "resolve_n_clusters", "torch_generator"]


def dense(matrix: Any) -> np.ndarray:
    """A dense float32 copy of a dense or sparse matrix."""
    return np.asarray(matrix.toarray() if sp.issparse(matrix) else matrix, dtype=np.float32)


def expression_tensors(adata: AnnData, keys: DataKeys, device: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(x, counts, size_factors)`` on ``device``: preprocessed ``X``, raw counts, library size / median."""
    import torch

    from dance.core import validation as v

    x = torch.from_numpy(dense(adata.X)).to(device)
    counts = torch.from_numpy(dense(v.counts_matrix(adata, keys))).to(device)
    if "size_factor" in adata.obs.columns:
        size_factors = adata.obs["size_factor"].to_numpy(dtype=np.float32)
    else:  # a custom pipeline without normalize_total: size factors from the counts, as normalize_total computes them
        totals = counts.sum(dim=1).cpu().numpy()
        median = np.median(totals[totals > 0]) if (totals > 0).any() else 1.0
        size_factors = np.where(totals > 0, totals / median, 1.0).astype(np.float32)
    return x, counts, torch.from_numpy(np.ascontiguousarray(size_factors)).to(device)


def torch_generator(seed: int, device: str) -> torch.Generator:
    """A seeded generator on ``device`` for shuffling and noise (independent of torch's global one)."""
    import torch

    return torch.Generator(device=device).manual_seed(int(seed))


def resolve_n_clusters(model: Any, embedding: np.ndarray | None = None, *, n_neighbors: int = 20, resolution: float = 0.8) -> int:
    """``model.params.n_clusters``, or the number of Louvain communities of ``embedding``'s kNN graph.

    Writes ``n_clusters`` and ``n_clusters_estimated`` (True when estimated) into ``model.notes_``.
    """
    from dance.single.nn.clustering import estimate_n_clusters

    notes = model.__dict__.setdefault("notes_", {})
    if model.params.n_clusters is not None:
        notes.update(n_clusters=int(model.params.n_clusters), n_clusters_estimated=False)
        return int(model.params.n_clusters)
    if embedding is None:
        raise ValueError("the number of clusters is unknown and no embedding was given to estimate it")
    n, _ = estimate_n_clusters(embedding, seed=model.seed, n_neighbors=n_neighbors, resolution=resolution)
    notes.update(n_clusters=n, n_clusters_estimated=True, n_clusters_estimate="louvain on the learned embedding")
    return n
