"""Task ``batch_integration``: remove batch effects while keeping biological variation.

Input
    One AnnData with ``obs['batch']`` (at least two batches, none empty) and expression in ``X``
    (raw counts for models that need them; some models read an embedding such as
    ``obsm['X_pca']`` made by their pipeline). ``obs['cell_type']`` is optional: it enables the
    bio-conservation metrics, and label-aware methods (scANVI, supervised OT) may use it.

    An input may hold an *embedding* instead of expression (e.g. Harmony's PCs): it then names the
    ``obsm`` key of that embedding in ``uns['dance_embedding']`` (``X`` may hold the same values).
    :meth:`BatchIntegration.suggest_params` passes that key as ``use_rep`` to every model that has
    the parameter, so embedding-based models integrate it as is instead of log-normalising PCs;
    models without it (count-based ones) refuse such input with their usual error.
Prediction
    An :class:`IntegrationOutput`: an integrated embedding (cells x dims), and for methods that
    correct features (``output_kind = "corrected"``, e.g. ComBat) the corrected expression, whose
    PCA is the embedding that is scored. Models may return a plain array; ``predict`` wraps it.
Output
    ``obsm['X_<model>']``; corrected expression in ``layers['<model>_corrected']``.
Hold-out
    Nothing is hidden. The truth keeps the batch and label of every cell and the *unintegrated*
    embedding (the declared embedding, else PCA of log-normalised, scaled expression of 2,000
    highly variable genes: what the ``pca`` control outputs), which PCR comparison needs.
Metrics (scIB, Luecken et al. 2022, Nat Methods; ``fn(truth, evaluation)``, see
:mod:`dance.core.metrics.scib_metrics`)
    Bio-conservation (:data:`BIO_METRICS`): ``nmi``, ``ari`` (Leiden clusters at the NMI-optimal
    resolution vs labels), ``asw_label``, ``isolated_label_f1``, ``isolated_label_asw``,
    ``clisi``. Batch correction (:data:`BATCH_METRICS`): ``asw_batch``, ``graph_connectivity``,
    ``ilisi``, ``kbet``, ``pcr_comparison``. Aggregates: ``bio_conservation`` and
    ``batch_correction`` (means of the available metrics of each group) and ``overall`` =
    0.6 bio + 0.4 batch, as in scIB. Metrics needing labels are absent when the input has none.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from dance.core.errors import DanceInputError
from dance.core.models.base import DanceModel
from dance.core.specs import FieldSpec, TaskSpec
from dance.core.tasks.base import BrokenInput, TaskContract, drop_obs_column
from dance.core.transforms.representation import (
    EMBEDDING_UNS_KEY,
    corrected_embedding,
    declared_embedding,
    unintegrated_embedding,
)

if TYPE_CHECKING:
    from anndata import AnnData

    from dance.core.keys import DataKeys
    from dance.core.plotting.context import PlotContext

__all__ = [
    "BATCH_METRICS",
    "BIO_METRICS",
    "EMBEDDING_UNS_KEY",
    "SPEC",
    "BatchIntegration",
    "BatchIntegrationModel",
    "IntegrationOutput",
    "IntegrationTruth",
    "declared_embedding",
    "unintegrated_embedding",
]

#: ``uns`` key with which an input declares that ``X`` holds an embedding: its value is the
#: ``obsm`` key of that embedding (e.g. ``"X_pca"``)

BIO_METRICS = ("nmi", "ari", "asw_label", "isolated_label_f1", "isolated_label_asw", "clisi")
BATCH_METRICS = ("asw_batch", "graph_connectivity", "ilisi", "kbet", "pcr_comparison")

SPEC = TaskSpec(
    name="batch_integration",
    summary="Integrate cells from several batches into one space, keeping cell types apart",
    target="dance.core.tasks.batch_integration:BatchIntegration",
    input_kind="single",
    roles=("adata",),
    inputs=(
        FieldSpec(role="adata", slot="X", description="expression (raw counts for models that need them)"),
        FieldSpec(role="adata", slot="obs", key="batch", option="batch_key", description="batch of each cell (at least two)"),
        FieldSpec(
            role="adata",
            slot="obs",
            key="cell_type",
            option="label_key",
            required=False,
            description="cell types, for bio-conservation metrics",
        ),
    ),
    outputs=(
        FieldSpec(role="adata", slot="obsm", key="X_{model}", description="integrated embedding"),
        FieldSpec(
            role="adata",
            slot="layers",
            key="{model}_corrected",
            required=False,
            description="corrected expression (feature-correcting models)",
        ),
    ),
    metrics=(*BIO_METRICS, *BATCH_METRICS, "bio_conservation", "batch_correction", "overall"),
)


class BatchIntegrationModel(DanceModel):
    """Base class of integration models.

    ``output_kind = "embedding"``: ``_predict`` returns cells x dims. ``"corrected"``: it
    returns the corrected cells x genes matrix.
    """

    task = "batch_integration"
    output_kind: ClassVar[Literal["embedding", "corrected"]] = "embedding"


@dataclass
class IntegrationOutput:
    """An integrated embedding and, for feature-correcting methods, the corrected expression."""

    embedding: Any
    corrected: Any | None = None


@dataclass
class IntegrationTruth:
    """Batch and (optional) cell-type label of every cell, and the unintegrated embedding."""

    batch: Any
    labels: Any | None
    unintegrated: Any | None = None


class BatchIntegration(TaskContract):
    spec = SPEC
    model_base = BatchIntegrationModel

    @property
    def headline_metric(self) -> str:
        return "overall"

    def check(self, data: AnnData, keys: DataKeys, *, stage: str = "fit", needs_counts: bool = False) -> None:
        from dance.core import validation as v

        super().check(data, keys, stage=stage, needs_counts=needs_counts)
        v.require_batches(data, keys)

    def holdout(self, data: AnnData, keys: DataKeys, *, seed: int) -> tuple[AnnData, IntegrationTruth]:
        self.validate(data, keys, stage="evaluate")
        labels = None
        if keys.label_key in data.obs.columns and data.obs[keys.label_key].notna().all():
            labels = data.obs[keys.label_key].astype(str).to_numpy()
        truth = IntegrationTruth(
            batch=data.obs[keys.batch_key].astype(str).to_numpy(), labels=labels, unintegrated=unintegrated_embedding(data, keys, seed=seed)
        )
        return data.copy(), truth

    def suggest_params(
        self, model_cls: type[DanceModel], data: AnnData, keys: DataKeys, params: dict[str, Any]
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """``use_rep`` for inputs that declare an embedding (``uns['dance_embedding']``), when the
        model has that parameter and it was not given."""
        rep = declared_embedding(data)
        fields = getattr(getattr(model_cls, "Params", None), "model_fields", {})
        if rep is not None and "use_rep" in fields and params.get("use_rep") is None:
            params = {**params, "use_rep": rep}
            note = f"obsm['{rep}'] integrated as is: the input declares it an embedding (uns['{EMBEDDING_UNS_KEY}'])"
            return params, {"use_rep": note}
        return params, {}

    def check_prediction(self, prediction: Any, data: AnnData, keys: DataKeys, *, model: DanceModel | None = None) -> IntegrationOutput:
        import numpy as np
        import scipy.sparse as sp

        from dance.core import validation as v

        kind = getattr(model, "output_kind", "embedding")
        if not isinstance(prediction, IntegrationOutput):
            prediction = (
                IntegrationOutput(embedding=None, corrected=prediction) if kind == "corrected" else IntegrationOutput(embedding=prediction)
            )
        if prediction.corrected is not None:
            corrected = prediction.corrected
            if corrected.shape != (data.n_obs, data.n_vars):
                raise DanceInputError(
                    f"corrected expression must have shape {(data.n_obs, data.n_vars)}; got {corrected.shape}", field="prediction"
                )
            v.check_finite(corrected, "corrected expression")
            if prediction.embedding is None:
                prediction.embedding = corrected_embedding(corrected)
        embedding = np.asarray(
            prediction.embedding.toarray() if sp.issparse(prediction.embedding) else prediction.embedding, dtype=np.float32
        )
        if embedding.ndim != 2 or embedding.shape[0] != data.n_obs or embedding.shape[1] < 2:
            raise DanceInputError(
                f"integrated embedding must be (cells={data.n_obs}) x (dims >= 2); got {embedding.shape}", field="prediction"
            )
        v.check_finite(embedding, "integrated embedding")
        prediction.embedding = embedding
        return prediction

    def evaluation_inputs(
        self, prediction: IntegrationOutput, truth: IntegrationTruth, keys: DataKeys, *, model: DanceModel | None = None
    ) -> tuple[Any, Any]:
        from dance.core.metrics.scib_metrics import EmbeddingEvaluation

        if not isinstance(prediction, IntegrationOutput):
            prediction = IntegrationOutput(embedding=prediction)
        seed = getattr(model, "seed", 0)
        evaluation = EmbeddingEvaluation(
            prediction.embedding, labels=truth.labels, batch=truth.batch, seed=seed, unintegrated=getattr(truth, "unintegrated", None)
        )
        return truth, evaluation

    def aggregate(self, metrics: dict[str, float]) -> dict[str, float]:
        import numpy as np

        bio = [metrics[m] for m in BIO_METRICS if m in metrics]
        batch = [metrics[m] for m in BATCH_METRICS if m in metrics]
        if bio:
            metrics["bio_conservation"] = float(np.mean(bio))
        if batch:
            metrics["batch_correction"] = float(np.mean(batch))
        if bio and batch:
            metrics["overall"] = 0.6 * metrics["bio_conservation"] + 0.4 * metrics["batch_correction"]
        return metrics

    def store_prediction(
        self, data: AnnData, prediction: IntegrationOutput, keys: DataKeys, *, key: str, model: DanceModel | None = None
    ) -> None:
        """``obsm[key]``: the integrated embedding; ``layers[key]``: the corrected expression of
        feature-correcting methods."""
        data.obsm[key] = prediction.embedding
        if prediction.corrected is not None:
            data.layers[key] = prediction.corrected

    def write_output(
        self, data: AnnData, prediction: IntegrationOutput, keys: DataKeys, *, model_name: str, model: DanceModel | None = None
    ) -> dict[str, AnnData]:
        out = data.copy()
        out.obsm[f"X_{model_name}"] = prediction.embedding
        if prediction.corrected is not None:
            out.layers[f"{model_name}_corrected"] = prediction.corrected
        return {"output": out}

    def plot(
        self,
        outputs: dict[str, AnnData],
        prediction: IntegrationOutput,
        truth: IntegrationTruth | None,
        keys: DataKeys,
        *,
        context: PlotContext,
        folder: Any,
    ) -> dict[str, Any]:
        """``umap.png``: UMAPs of the unintegrated embedding (PCA of log-normalised HVG
        expression, top row) and of the integrated one (``obsm['X_<model>']``, bottom row),
        coloured by batch and by cell type when known: batches should mix, types stay apart.
        The integrated coordinates are kept as ``obsm['X_umap']``."""
        from pathlib import Path

        from dance.core.plotting.categorical import Colouring
        from dance.core.plotting.embedding import plot_umaps

        out = outputs["output"]
        batch = truth.batch if truth is not None else out.obs[keys.batch_key].astype(str).to_numpy()
        panels = [Colouring("batch", batch)]
        if truth is not None and truth.labels is not None:
            panels.append(Colouring("cell type", truth.labels))
        rep = f"X_{context.model}"
        embeddings, what = {rep: prediction.embedding}, f"UMAP of {rep}"
        if truth is not None and truth.unintegrated is not None:
            embeddings, what = {"unintegrated": truth.unintegrated, **embeddings}, f"UMAP before (top) and after {rep} (bottom)"
        path = Path(folder) / "umap.png"
        coords = plot_umaps(embeddings, panels, path, title=context.title(what), seed=context.seed)
        out.obsm["X_umap"] = coords[rep]
        return {"plot": path}

    def broken_inputs(self, data: AnnData, keys: DataKeys) -> list[BrokenInput]:
        copy = data.copy()
        drop_obs_column(copy, keys.batch_key)
        return [BrokenInput("batch column removed", copy, f"obs['{keys.batch_key}']"), *super().broken_inputs(data, keys)]
