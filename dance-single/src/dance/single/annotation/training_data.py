"""Helpers shared by the annotation models: training labels, dense matrices, gene alignment."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp

from dance.core.errors import DanceInputError

if TYPE_CHECKING:
    from anndata import AnnData

    from dance.core.tasks.cell_type_annotation import CellTypeAnnotationModel

__all__ = ["dense", "genes_of", "training_labels"]


def dense(x: Any, dtype: Any = np.float32) -> np.ndarray:
    """A dense numpy array of ``x`` (dense or scipy sparse)."""
    return np.asarray(x.toarray() if sp.issparse(x) else x, dtype=dtype)


def training_labels(model: CellTypeAnnotationModel, data: AnnData) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(train_mask, classes, codes)``: the training cells, their sorted cell types and each
    training cell's index into ``classes``."""
    train = model.train_mask(data)
    labels = data.obs[model.keys.label_key].astype(str).to_numpy()[train]
    classes, codes = np.unique(labels, return_inverse=True)
    return train, classes.astype(object), codes.astype(np.int64)


def genes_of(data: AnnData, genes: Any, what: str) -> Any:
    """``X`` of ``data`` restricted to ``genes`` (in that order); a clear error when some are missing."""
    missing = genes.difference(data.var_names)
    if len(missing):
        raise DanceInputError(
            f"{what} was fitted on genes absent from this data ({len(missing)} missing, e.g. {list(missing[:3])}); "
            "predict on data with the training genes",
            field="var_names",
        )
    if data.var_names.equals(genes):
        return data.X
    return data[:, genes].X
