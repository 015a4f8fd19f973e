"""Task ``joint_embedding``: one low-dimensional embedding of cells measured in two modalities.

Input
    :class:`~dance.core.containers.Modalities` of paired cells (same cells, same order).
    ``mod1.obs['cell_type']`` (optional) is hidden from the model and used as truth.
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

    def validate(self, data: Modalities, keys: DataKeys, *, stage: str = "fit", needs_counts: bool = False) -> None:
        from dance.core import validation as v

        super().validate(data, keys, stage=stage, needs_counts=needs_counts)
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
        from dance.core.metrics.embedding import EmbeddingEvaluation

        return truth, EmbeddingEvaluation(prediction[truth.positions], labels=truth.labels, seed=getattr(model, "seed", 0))

    def write_output(
        self, data: Modalities, prediction: Any, keys: DataKeys, *, model_name: str, model: DanceModel | None = None
    ) -> dict[str, AnnData]:
        mod1, mod2 = data.mod1.copy(), data.mod2.copy()
        mod1.obsm[f"X_{model_name}"] = prediction
        mod2.obsm[f"X_{model_name}"] = prediction
        return {"output_mod1": mod1, "output_mod2": mod2}


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
