"""Getting cells into tensors: rows of (sparse) matrices densified one minibatch at a time, rows of
several row-aligned AnnData together (paired modalities), seeded minibatch orders, and evaluation
in chunks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp
import torch

if TYPE_CHECKING:
    from anndata import AnnData

    from dance.core.keys import DataKeys

__all__ = [
    "AlignedRows",
    "RowMatrix",
    "dense_tensor",
    "encode_in_batches",
    "expression_tensors",
    "minibatch_indices",
    "predict_in_batches",
    "torch_generator",
]

#: above this many entries a sparse matrix stays sparse and minibatches are densified when drawn
DENSE_LIMIT = 50_000_000


def dense_tensor(x: Any, device: str | torch.device = "cpu") -> torch.Tensor:
    """A float32 tensor on ``device`` from a dense or scipy-sparse matrix."""
    if sp.issparse(x):
        x = x.toarray()
    return torch.as_tensor(np.asarray(x, dtype=np.float32)).to(device)


def torch_generator(seed: int, device: str | torch.device = "cpu") -> torch.Generator:
    """A seeded generator on ``device`` for shuffling and noise (independent of torch's global one)."""
    return torch.Generator(device=device).manual_seed(int(seed))


class RowMatrix:
    """Rows of a cells x features matrix as float32 tensors on ``device``.

    Small matrices (up to ``dense_limit`` entries) are densified once and kept on the device;
    larger sparse ones stay in CSR form in memory and each minibatch is densified when it is
    drawn, so atlas-sized count matrices never exist densely.
    """

    def __init__(self, matrix: Any, device: str | torch.device = "cpu", *, dense_limit: int = DENSE_LIMIT) -> None:
        self.device = device
        self.shape = tuple(matrix.shape)
        self.n = self.shape[0]
        if sp.issparse(matrix) and self.shape[0] * self.shape[1] > dense_limit:
            self.csr: sp.csr_matrix | None = sp.csr_matrix(matrix, dtype=np.float32)
            self.dense: torch.Tensor | None = None
        else:
            self.csr = None
            self.dense = dense_tensor(matrix, device)

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, index: torch.Tensor | slice | None) -> torch.Tensor:
        if self.dense is not None:
            if index is None:
                return self.dense
            return self.dense[index if isinstance(index, slice) else index.to(self.dense.device)]
        assert self.csr is not None
        rows = self.csr if index is None else self.csr[index if isinstance(index, slice) else index.cpu().numpy()]
        return torch.as_tensor(rows.toarray(), device=self.device)

    def all(self) -> torch.Tensor:
        """Every row (densified)."""
        return self[None]


class AlignedRows:
    """Row-aligned matrices indexed together: ``rows[index]`` is one batch of each, e.g. the RNA
    and protein of the same cells (paired modalities) or expression, counts and size factors.

    Parameters
    ----------
    matrices
        Matrices (dense, scipy sparse or tensors) with the same number of rows, or
        :class:`RowMatrix` objects.
    """

    def __init__(self, *matrices: Any, device: str | torch.device = "cpu", dense_limit: int = DENSE_LIMIT) -> None:
        if not matrices:
            raise ValueError("AlignedRows needs at least one matrix")
        self.parts = [m if isinstance(m, RowMatrix) else RowMatrix(m, device, dense_limit=dense_limit) for m in matrices]
        sizes = {p.n for p in self.parts}
        if len(sizes) != 1:
            raise ValueError(f"the matrices are not row-aligned: they have {sorted(sizes)} rows")
        self.n = self.parts[0].n

    @classmethod
    def from_anndata(cls, *adatas: AnnData, layers: Sequence[str | None] | None = None, device: str | torch.device = "cpu") -> AlignedRows:
        """Rows of ``X`` (or of the named layers) of AnnData objects holding the same cells in the same order."""
        layers = list(layers) if layers is not None else [None] * len(adatas)
        names = [tuple(map(str, a.obs_names)) for a in adatas]
        if any(n != names[0] for n in names[1:]):
            raise ValueError("the AnnData objects do not hold the same cells in the same order")
        return cls(*(a.X if layer is None else a.layers[layer] for a, layer in zip(adatas, layers, strict=True)), device=device)

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, index: torch.Tensor | slice | None) -> tuple[torch.Tensor, ...]:
        return tuple(p[index] for p in self.parts)


def minibatch_indices(n: int, batch_size: int, *, generator: torch.Generator | None = None, shuffle: bool = True) -> Iterator[torch.Tensor]:
    """Index tensors of consecutive minibatches over ``n`` items: a seeded permutation when
    shuffling (on the generator's device), else ``0..n-1`` in order."""
    device = generator.device if generator is not None else torch.device("cpu")
    order = torch.randperm(n, generator=generator, device=device) if shuffle else torch.arange(n, device=device)
    for start in range(0, n, batch_size):
        yield order[start : start + batch_size]


@torch.no_grad()
def encode_in_batches(encode: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, batch_size: int = 1024) -> torch.Tensor:
    """``encode(x)`` computed in chunks of rows, without gradients (e.g. ``model.encode``)."""
    return torch.cat([encode(x[start : start + batch_size]) for start in range(0, x.shape[0], batch_size)])


@torch.no_grad()
def predict_in_batches(forward: Callable[[torch.Tensor], torch.Tensor], n: int, *, batch_size: int = 4096) -> torch.Tensor:
    """Concatenated ``forward(indices)`` outputs over ``0..n-1`` in batches (no gradients)."""
    outputs = [forward(torch.arange(start, min(start + batch_size, n))) for start in range(0, n, batch_size)]
    return torch.cat(outputs) if outputs else torch.empty(0)


def expression_tensors(adata: AnnData, keys: DataKeys, device: str | torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(x, counts, size_factors)`` on ``device`` for count-likelihood models: the preprocessed
    ``X``, the raw counts and each cell's library size over the median (``obs['size_factor']``
    when ``normalize_total`` recorded it, else computed the same way from the counts)."""
    from dance.core import validation as v

    x = dense_tensor(adata.X, device)
    counts = dense_tensor(v.counts_matrix(adata, keys), device)
    if "size_factor" in adata.obs.columns:
        size_factors = adata.obs["size_factor"].to_numpy(dtype=np.float32)
    else:
        totals = counts.sum(dim=1).cpu().numpy()
        median = np.median(totals[totals > 0]) if (totals > 0).any() else 1.0
        size_factors = np.where(totals > 0, totals / median, 1.0).astype(np.float32)
    return x, counts, torch.from_numpy(np.ascontiguousarray(size_factors)).to(device)
