"""Task ``joint_embedding``: one low-dimensional embedding of cells measured in two modalities.

Input
    :class:`~dance.core.containers.Modalities` of paired cells (same cells, same order).
    ``mod1.obs['cell_type']`` (optional) is hidden from the model and used as truth. In the
    challenge layout the cell types come from a solution file (``--solution``), joined onto
    ``mod1`` by cell name (:func:`dance.core.data.solutions.merge_solution`).
Prediction
    The joint embedding, cells x dims.
Output
    ``obsm['X_<model>']`` in ``output_mod1.h5ad`` and ``output_mod2.h5ad``.
Metrics (``fn(truth, evaluation)``)
    ``ari`` and ``nmi`` of Leiden clusters of the embedding (at the NMI-optimal resolution, as
    scIB and the NeurIPS 2021 joint-embedding task do) against the cell types.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dance.core.errors import DanceInputError
from dance.core.models.base import DanceModel
from dance.core.specs import FieldSpec, TaskSpec
from dance.core.tasks.base import LabelTruth, TaskContract, drop_obs_column

if TYPE_CHECKING:
    from anndata import AnnData

    from dance.core.containers import Modalities
    from dance.core.keys import DataKeys
    from dance.core.plotting.context import PlotContext

__all__ = ["SPEC", "JointEmbedding", "JointEmbeddingModel"]

SPEC = TaskSpec(
    name="joint_embedding",
    summary="Embed cells measured in two modalities into one low-dimensional space",
    target="dance.core.tasks.joint_embedding:JointEmbedding",
    input_kind="modalities",
    roles=("mod1", "mod2"),
    inputs=(
        FieldSpec(role="mod1", slot="X", description="first modality"),
        FieldSpec(role="mod2", slot="X", description="second modality, same cells (paired)"),
        FieldSpec(role="mod1", slot="obs", key="cell_type", option="label_key", required=False, description="cell types, for evaluation"),
    ),
    outputs=(FieldSpec(role="mod1", slot="obsm", key="X_{model}", description="joint embedding"),),
    metrics=("ari", "nmi"),
)


class JointEmbeddingModel(DanceModel):
    """Base class: ``predict`` returns one embedding row per cell."""

    task = "joint_embedding"


class JointEmbedding(TaskContract):
    spec = SPEC
    model_base = JointEmbeddingModel

    def check(self, data: Modalities, keys: DataKeys, *, stage: str = "fit", needs_counts: bool = False) -> None:
        from dance.core import validation as v

        super().check(data, keys, stage=stage, needs_counts=needs_counts)
        v.check_same_cells(data.mod1, data.mod2, data.names)

    def holdout(self, data: Modalities, keys: DataKeys, *, seed: int) -> tuple[Modalities, LabelTruth | None]:
        self.validate(data, keys, stage="evaluate")
        view = data.copy()
        truth = None
        for adata in (view.mod1, view.mod2):
            if truth is None and keys.label_key in adata.obs.columns:
                truth = LabelTruth.from_column(adata.obs[keys.label_key].astype(object).to_numpy())
            drop_obs_column(adata, keys.label_key)
        return view, truth

    def check_prediction(self, prediction: Any, data: Modalities, keys: DataKeys, *, model: DanceModel | None = None) -> Any:
        return embedding_array(prediction, data.mod1.n_obs, "joint embedding")

    def evaluation_inputs(self, prediction: Any, truth: LabelTruth, keys: DataKeys, *, model: DanceModel | None = None) -> tuple[Any, Any]:
        from dance.core.metrics.scib_metrics import EmbeddingEvaluation

        return truth, EmbeddingEvaluation(prediction[truth.positions], labels=truth.labels, seed=getattr(model, "seed", 0))

    def store_prediction(self, data: Modalities, prediction: Any, keys: DataKeys, *, key: str, model: DanceModel | None = None) -> None:
        """``obsm[key]`` of both modalities: the joint embedding."""
        data.mod1.obsm[key] = prediction
        data.mod2.obsm[key] = prediction

    def write_output(
        self, data: Modalities, prediction: Any, keys: DataKeys, *, model_name: str, model: DanceModel | None = None
    ) -> dict[str, AnnData]:
        mod1, mod2 = data.mod1.copy(), data.mod2.copy()
        mod1.obsm[f"X_{model_name}"] = prediction
        mod2.obsm[f"X_{model_name}"] = prediction
        return {"output_mod1": mod1, "output_mod2": mod2}

    def plot(
        self, outputs: dict[str, AnnData], prediction: Any, truth: LabelTruth | None, keys: DataKeys, *, context: PlotContext, folder: Any
    ) -> dict[str, Any]:
        """``umap.png``: UMAP of the joint embedding coloured by cell type and by batch when
        known; the coordinates are kept as ``obsm['X_umap']`` of both outputs."""
        from pathlib import Path

        from dance.core.plotting.categorical import Colouring, values_at
        from dance.core.plotting.embedding import plot_umaps

        mod1 = outputs["output_mod1"]
        panels = []
        if truth is not None:
            panels.append(Colouring("cell type", values_at(mod1.n_obs, truth.positions, truth.labels)))
        if keys.batch_key in mod1.obs.columns:
            panels.append(Colouring("batch", mod1.obs[keys.batch_key].astype(object).to_numpy()))
        rep = f"X_{context.model}"
        path = Path(folder) / "umap.png"
        coords = plot_umaps({rep: prediction}, panels, path, title=context.title(f"UMAP of {rep}"), seed=context.seed)
        for stem in ("output_mod1", "output_mod2"):
            outputs[stem].obsm["X_umap"] = coords[rep]
        return {"plot": path}


def embedding_array(prediction: Any, n_obs: int, what: str) -> Any:
    """A finite float32 (n_obs x dims>=1) array, or a clear error."""
    import numpy as np
    import scipy.sparse as sp

    from dance.core import validation as v

    array = np.asarray(prediction.toarray() if sp.issparse(prediction) else prediction, dtype=np.float32)
    if array.ndim != 2 or array.shape[0] != n_obs or array.shape[1] < 1:
        raise DanceInputError(f"{what} must be (cells={n_obs}) x (dims >= 1); got {array.shape}", field="prediction")
    v.check_finite(array, what)
    return array
