"""Checksums identifying the exact input of a run."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

__all__ = ["data_checksum", "files_checksum"]


def files_checksum(paths: Iterable[Path]) -> str:
    """sha256 over the sha256 of each file (in the given order)."""
    from dance.core.data.fetch import sha256_of

    digest = hashlib.sha256()
    for path in paths:
        digest.update(f"{Path(path).name}:{sha256_of(Path(path))}\n".encode())
    return digest.hexdigest()


def data_checksum(data: Any) -> str:
    """sha256 of the content of in-memory data: every role's matrix, cell and feature names."""
    from dance.core.containers import roles_of

    digest = hashlib.sha256()
    for role, adata in roles_of(data).items():
        digest.update(role.encode())
        matrix = adata.X
        if sp.issparse(matrix):
            matrix = sp.csr_matrix(matrix)
            for part in (matrix.data, matrix.indices, matrix.indptr):
                digest.update(np.ascontiguousarray(part).tobytes())
        elif matrix is not None:
            digest.update(np.ascontiguousarray(np.asarray(matrix)).tobytes())
        digest.update("\n".join(map(str, adata.obs_names)).encode())
        digest.update("\n".join(map(str, adata.var_names)).encode())
    return digest.hexdigest()
