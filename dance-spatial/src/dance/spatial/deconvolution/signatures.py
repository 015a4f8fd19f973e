"""Cell-type signature matrices from a reference (shared by the deconvolution models)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import scipy.sparse as sp

if TYPE_CHECKING:
    from anndata import AnnData

    from dance.core.keys import DataKeys


def dense(matrix: object) -> np.ndarray:
    return np.asarray(matrix.toarray() if sp.issparse(matrix) else matrix, dtype=np.float64)


def signature_matrix(reference: AnnData, keys: DataKeys, cell_types: list[str]) -> np.ndarray:
    """Types x genes mean expression per cell of each type.

    A single-cell reference gives the mean profile of each type's cells (so a spot's profile is
    the sum over its cells); a pseudo-spot reference (known ``obsm[proportions]``, cells per spot
    unknown) gives, per gene, the non-negative least-squares solution of
    ``X_ref ~ proportions @ signature``.
    """
    x = dense(reference.X)
    if keys.label_key in reference.obs.columns:
        labels = reference.obs[keys.label_key].astype(str).to_numpy()
        return np.vstack([x[labels == t].mean(axis=0) for t in cell_types])
    proportions = reference.obsm[keys.proportions_key]
    p = proportions[cell_types].to_numpy() if isinstance(proportions, pd.DataFrame) else np.asarray(proportions, dtype=np.float64)
    from scipy.optimize import nnls

    return np.column_stack([nnls(p, x[:, g])[0] for g in range(x.shape[1])])
