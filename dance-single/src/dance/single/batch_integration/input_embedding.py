"""Input embedding of integration models: computed by the pipeline, or taken as given.

Models that integrate an embedding (Harmony, fastMNN, Scanorama, Seurat v3 on PCs) share two
parameters, in :class:`EmbeddingInput`:

* ``use_rep=None`` (default): the pipeline computes the unintegrated embedding from expression
  (log-normalised, ``n_top_genes`` highly variable genes, scaled, ``n_comps`` PCs, as scIB does).
* ``use_rep="X_pca"`` (any ``obsm`` key): that embedding is integrated as it is and the pipeline
  is empty. Datasets whose ``X`` already holds PCs (``harmonypy_pbmc_3500``,
  ``harmony_cell_lines``) say so in ``uns['dance_embedding']``; the task contract then sets
  ``use_rep`` for every model that has the parameter (recorded in the run's params and notes),
  so nothing log-normalises PCs.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import Field

from dance.core.errors import DanceInputError
from dance.core.models.base import ModelParams
from dance.core.transforms.pipeline import Step, step

__all__ = ["EmbeddingInput", "embedding_pipeline", "input_embedding"]


class EmbeddingInput(ModelParams):
    """Parameters choosing the embedding an integration model works on."""

    use_rep: str | None = Field(
        None,
        description="obsm key of an existing embedding to integrate as is (no preprocessing); None computes PCs from expression",
    )
    n_top_genes: int = Field(2000, ge=10, description="highly variable genes (when use_rep is None)")
    n_comps: int = Field(50, ge=2, description="principal components (when use_rep is None)")


def embedding_pipeline(params: EmbeddingInput, *, scale: bool = True) -> tuple[Step, ...]:
    """The default pipeline: nothing when ``use_rep`` is set, else log-normalise, HVG, (scale,) PCA."""
    if params.use_rep is not None:
        return ()
    steps = [step("log_normalize"), step("highly_variable_genes", n_top_genes=params.n_top_genes)]
    if scale:
        steps.append(step("scale", max_value=10.0))
    steps.append(step("pca", n_comps=params.n_comps))
    return tuple(steps)


def input_embedding(data: Any, params: EmbeddingInput, default: str = "X_pca") -> np.ndarray:
    """The embedding to integrate (``obsm[use_rep]``, else the pipeline's ``obsm[default]``) as float32."""
    key = params.use_rep or default
    if key not in data.obsm:
        what = "use_rep" if params.use_rep else "the pipeline's output"
        raise DanceInputError(f"obsm['{key}'] ({what}) is missing; available: {sorted(data.obsm.keys())}", field=f"obsm['{key}']")
    value = data.obsm[key]
    value = value.toarray() if hasattr(value, "toarray") else np.asarray(value)
    if value.ndim != 2 or value.shape[1] < 2:
        raise DanceInputError(f"obsm['{key}'] must be cells x dims (>= 2); got shape {value.shape}", field=f"obsm['{key}']")
    if not np.isfinite(value).all():
        raise DanceInputError(f"obsm['{key}'] has NaN or infinite values", field=f"obsm['{key}']")
    return value.astype(np.float32)
