"""Task ``multiomics_integration``: align cells of two *unpaired* modalities in one space.

Input
    :class:`~dance.core.containers.Modalities` of different cells (e.g. scRNA-seq and
    scATAC-seq of the same tissue). When both hold the same cell names (a paired dataset used as
    a benchmark), the pairing is the truth and is hidden from the model. ``obs['cell_type']`` of
    ``mod1`` may be used by the model; that of ``mod2`` is hidden and used as truth.
Hold-out
    With a known pairing, ``mod2``'s cells are shuffled and renamed (``unpaired_0``, ...).
Prediction
    A pair of embeddings in one shared space: ``(mod1 cells x dims, mod2 cells x dims)``.
Output
    ``obsm['X_<model>']`` in ``output_mod1.h5ad`` and ``output_mod2.h5ad``; models that embed the
    features too (GLUE: ``feature_embeddings_frame()``) also ``varm['X_<model>']``.
Metrics (``fn(truth, (emb1, emb2))``)
    ``foscttm``: fraction of samples closer than the true match (lower is better; needs the
    pairing), ``label_transfer_accuracy``: kNN transfer of mod1's labels to mod2 (needs labels).
    The GLUE benchmark's metrics (Cao & Gao 2022, Nat Biotechnol 40:1458-1466; as ``scglue``
    computes them, :mod:`dance.core.metrics.omics_integration`) score both modalities' cells
    stacked, the modality as the batch: biology conservation ``map`` (mean average precision of
    cell types), ``cell_type_asw`` and ``neighbor_conservation`` (needs
    ``MultiomicsTruth.representations``); omics mixing ``seurat_alignment_score``,
    ``omics_layer_asw`` and ``graph_connectivity``; ``glue_overall`` = 0.6 * mean biology
    conservation + 0.4 * mean omics mixing. All but ``seurat_alignment_score`` need the labels of
    both modalities; all are higher-is-better, in [0, 1].
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dance.core.errors import DanceInputError
from dance.core.models.base import DanceModel
from dance.core.specs import FieldSpec, TaskSpec
from dance.core.tasks.base import TaskContract, drop_obs_column
from dance.core.tasks.joint_embedding import embedding_array

if TYPE_CHECKING:
    from anndata import AnnData

    from dance.core.containers import Modalities
    from dance.core.keys import DataKeys
    from dance.core.plotting.context import PlotContext

__all__ = ["SPEC", "MultiomicsIntegration", "MultiomicsIntegrationModel", "MultiomicsTruth"]

SPEC = TaskSpec(
    name="multiomics_integration",
    summary="Align cells of two unpaired modalities (e.g. RNA and ATAC) in one space",
    target="dance.core.tasks.multiomics_integration:MultiomicsIntegration",
    input_kind="modalities",
    roles=("mod1", "mod2"),
    inputs=(
        FieldSpec(role="mod1", slot="X", description="first modality (e.g. RNA)"),
        FieldSpec(role="mod2", slot="X", description="second modality (e.g. ATAC peaks), other cells"),
        FieldSpec(role="mod1", slot="obs", key="cell_type", option="label_key", required=False, description="labels of mod1 cells"),
    ),
    outputs=(
        FieldSpec(role="mod1", slot="obsm", key="X_{model}", description="mod1 cells in the shared space"),
        FieldSpec(role="mod2", slot="obsm", key="X_{model}", description="mod2 cells in the shared space"),
    ),
    metrics=(
        "foscttm",
        "label_transfer_accuracy",
        "map",
        "cell_type_asw",
        "neighbor_conservation",
        "seurat_alignment_score",
        "omics_layer_asw",
        "graph_connectivity",
        "glue_overall",
    ),
)


class MultiomicsIntegrationModel(DanceModel):
    """Base class: ``predict`` returns ``(embedding of mod1 cells, embedding of mod2 cells)``."""

    task = "multiomics_integration"


@dataclass
class MultiomicsTruth:
    """What the metrics of the task score a prediction against.

    Attributes
    ----------
    partner
        ``partner[i]``: row of mod2 (in the view) holding mod1 cell ``i``; None when the
        modalities are unpaired.
    labels1, labels2
        Cell types of mod1's and of mod2's cells (mod2 in the view's row order); None when unknown.
    representations
        ``(mod1 cells x d1, mod2 cells x d2)``: each modality's own *unintegrated* representation
        (e.g. the PCA of RNA, the LSI of ATAC), rows in the view's order; what
        ``neighbor_conservation`` compares the shared space with. None (the default) when not
        computed: that metric is then absent.
    """

    partner: Any | None
    labels1: Any | None
    labels2: Any | None
    representations: tuple[Any, Any] | None = None


#: peak names such as chr1:100-200, chr1-100-200 or chr1_100_200
PEAK_NAME = re.compile(r"^[A-Za-z0-9_.]+?[:_-]\d+[-_]\d+$")


def unintegrated_representation(adata: AnnData, keys: DataKeys, *, n_comps: int = 50, seed: int = 0) -> Any:
    """A modality's own representation before integration, as the GLUE paper's neighbour
    conservation uses it (Cao & Gao 2022, Nat Biotechnol 40:1458): the LSI of peaks (TF-IDF of the
    counts, truncated SVD, first component dropped) when the features are peaks
    (``chr1:100-200``), else the PCA of log-normalised, scaled variable genes
    (:func:`dance.core.transforms.representation.unintegrated_embedding`). Computed on a copy."""
    import anndata
    import numpy as np

    from dance.core.transforms import preprocessing as pp
    from dance.core.transforms.representation import unintegrated_embedding

    names = adata.var_names[: min(50, adata.n_vars)]
    if adata.n_vars > n_comps + 1 and len(names) and all(PEAK_NAME.match(str(n)) for n in names):
        counts = adata.layers.get(keys.counts_layer, adata.X)
        peaks = anndata.AnnData(counts.copy())
        pp.lsi(peaks, n_comps=n_comps, seed=seed)
        return np.asarray(peaks.obsm["X_lsi"], dtype=np.float32)
    return unintegrated_embedding(adata, keys, n_comps=n_comps, seed=seed)


class MultiomicsIntegration(TaskContract):
    spec = SPEC
    preserves_cells = False
    model_base = MultiomicsIntegrationModel

    def holdout(self, data: Modalities, keys: DataKeys, *, seed: int) -> tuple[Modalities, MultiomicsTruth | None]:
        import numpy as np

        from dance.core.containers import Modalities

        self.validate(data, keys, stage="evaluate")

        def labels(adata: AnnData) -> Any:
            return adata.obs[keys.label_key].astype(str).to_numpy() if keys.label_key in adata.obs.columns else None

        labels1, labels2 = labels(data.mod1), labels(data.mod2)
        mod1, mod2 = data.mod1.copy(), data.mod2.copy()
        drop_obs_column(mod2, keys.label_key)
        partner = None
        if data.mod1.n_obs == data.mod2.n_obs and set(data.mod1.obs_names) == set(data.mod2.obs_names):
            rng = np.random.default_rng(seed)
            order = rng.permutation(mod2.n_obs)
            mod2 = mod2[order].copy()
            if labels2 is not None:
                labels2 = labels2[order]
            position = {name: j for j, name in enumerate(mod2.obs_names)}
            partner = np.array([position[name] for name in data.mod1.obs_names])
            mod2.obs_names = [f"unpaired_{j}" for j in range(mod2.n_obs)]
            if labels2 is None and labels1 is not None:
                # paired data label one modality's cells: the other's are their partners' labels
                labels2 = np.empty(mod2.n_obs, dtype=object)
                labels2[partner] = labels1
        if partner is None and (labels1 is None or labels2 is None):
            return Modalities(mod1, mod2, data.names), None
        representations = (unintegrated_representation(mod1, keys, seed=seed), unintegrated_representation(mod2, keys, seed=seed))
        return Modalities(mod1, mod2, data.names), MultiomicsTruth(partner, labels1, labels2, representations)

    def check_prediction(self, prediction: Any, data: Modalities, keys: DataKeys, *, model: DanceModel | None = None) -> Any:
        if not isinstance(prediction, (tuple, list)) or len(prediction) != 2:
            raise DanceInputError("multiomics integration prediction must be a pair (mod1 embedding, mod2 embedding)", field="prediction")
        emb1 = embedding_array(prediction[0], data.mod1.n_obs, "mod1 embedding")
        emb2 = embedding_array(prediction[1], data.mod2.n_obs, "mod2 embedding")
        if emb1.shape[1] != emb2.shape[1]:
            raise DanceInputError(f"the two embeddings must share dimensions; got {emb1.shape[1]} and {emb2.shape[1]}", field="prediction")
        return emb1, emb2

    def store_prediction(self, data: Modalities, prediction: Any, keys: DataKeys, *, key: str, model: DanceModel | None = None) -> None:
        """``obsm[key]`` of each modality: its cells in the shared space."""
        data.mod1.obsm[key] = prediction[0]
        data.mod2.obsm[key] = prediction[1]

    def write_output(
        self, data: Modalities, prediction: Any, keys: DataKeys, *, model_name: str, model: DanceModel | None = None
    ) -> dict[str, AnnData]:
        mod1, mod2 = data.mod1.copy(), data.mod2.copy()
        mod1.obsm[f"X_{model_name}"] = prediction[0]
        mod2.obsm[f"X_{model_name}"] = prediction[1]
        features = getattr(model, "feature_embeddings_frame", None)
        if callable(features):
            # models that embed features too (GLUE): varm, NaN for the features they left out
            frame = features()
            for adata in (mod1, mod2):
                adata.varm[f"X_{model_name}"] = frame.reindex(adata.var_names.astype(str)).to_numpy(dtype=float)
        return {"output_mod1": mod1, "output_mod2": mod2}

    def plot(
        self,
        outputs: dict[str, AnnData],
        prediction: Any,
        truth: MultiomicsTruth | None,
        keys: DataKeys,
        *,
        context: PlotContext,
        folder: Any,
    ) -> dict[str, Any]:
        """``umap.png``: one UMAP of both modalities' cells in the shared space, coloured by
        modality (well aligned: mixed), then by cell type, one panel per modality (mod1's labels;
        mod2's from the truth when known) in the same colours: aligned types sit in the same
        place in both. Each output keeps its cells' coordinates as ``obsm['X_umap']``."""
        from pathlib import Path

        import numpy as np

        from dance.core.plotting.embedding import modality_panels, plot_umaps

        mod1, mod2 = outputs["output_mod1"], outputs["output_mod2"]
        labels1 = mod1.obs[keys.label_key].astype(object).to_numpy() if keys.label_key in mod1.obs.columns else None
        if labels1 is None and truth is not None:
            labels1 = truth.labels1
        labels2 = truth.labels2 if truth is not None else None
        panels = modality_panels((mod1.n_obs, mod2.n_obs), (labels1, labels2), context.modality_names)
        rep = f"X_{context.model}"
        path = Path(folder) / "umap.png"
        stacked = np.vstack([np.asarray(prediction[0]), np.asarray(prediction[1])])
        coords = plot_umaps({rep: stacked}, panels, path, title=context.title(f"UMAP of {rep}, both modalities"), seed=context.seed)[rep]
        mod1.obsm["X_umap"], mod2.obsm["X_umap"] = coords[: mod1.n_obs], coords[mod1.n_obs :]
        return {"plot": path}
