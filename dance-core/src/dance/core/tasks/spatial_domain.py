"""Task ``spatial_domain``: partition the spots of a tissue section into spatial domains.

Input
    One AnnData of spots with expression (raw counts for models that need them) and
    ``obsm['spatial']`` coordinates. Annotated domains (``obs['cell_type']`` by convention, or
    the column named by ``--label-key``, e.g. ``layer``) are optional: hidden from the model,
    used as truth (spots without an annotation are not scored), and their number is offered to
    models with an ``n_clusters`` parameter.
Prediction
    One domain label per spot.
Output
    ``obs['<model>_pred']``; ``dance run`` also plots the spots coloured by domain (PNG).
Metrics (``fn(y_true, y_pred)``)
    ``ari``, ``nmi``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from dance.core.models.base import DanceModel
from dance.core.specs import FieldSpec, TaskSpec
from dance.core.tasks.base import BrokenInput, PartitionContract

if TYPE_CHECKING:
    from anndata import AnnData

    from dance.core.keys import DataKeys
    from dance.core.plotting.context import PlotContext

__all__ = ["SPEC", "SpatialDomain", "SpatialDomainModel"]

SPEC = TaskSpec(
    name="spatial_domain",
    summary="Partition the spots of a tissue section into spatial domains",
    target="dance.core.tasks.spatial_domain:SpatialDomain",
    input_kind="single",
    roles=("adata",),
    inputs=(
        FieldSpec(role="adata", slot="X", description="spot expression (raw counts for models that need them)"),
        FieldSpec(role="adata", slot="obsm", key="spatial", option="spatial_key", description="spot coordinates (2 or 3 columns)"),
        FieldSpec(
            role="adata", slot="obs", key="cell_type", option="label_key", required=False, description="annotated domains, for evaluation"
        ),
    ),
    outputs=(FieldSpec(role="adata", slot="obs", key="{model}_pred", description="domain of each spot"),),
    metrics=("ari", "nmi"),
)


class SpatialDomainModel(DanceModel):
    """Base class: ``predict`` returns one domain label per spot (transductive)."""

    task = "spatial_domain"
    transductive = True


class SpatialDomain(PartitionContract):
    spec = SPEC
    model_base = SpatialDomainModel

    def check(self, data: AnnData, keys: DataKeys, *, stage: str = "fit", needs_counts: bool = False) -> None:
        from dance.core import validation as v

        super().check(data, keys, stage=stage, needs_counts=needs_counts)
        v.require_obsm(data, keys.spatial_key, what="spot coordinates", min_cols=2, option="spatial_key")

    def broken_inputs(self, data: AnnData, keys: DataKeys) -> list[BrokenInput]:
        copy = data.copy()
        del copy.obsm[keys.spatial_key]
        return [BrokenInput("coordinates removed", copy, f"obsm['{keys.spatial_key}']"), *super().broken_inputs(data, keys)]

    def plot(
        self, outputs: dict[str, AnnData], prediction: Any, truth: Any, keys: DataKeys, *, context: PlotContext, folder: Any
    ) -> dict[str, Any]:
        """``spatial_domains.png``: the spots coloured by predicted domain, next to the annotated
        domains when present (domains coloured like the annotation they overlap most)."""
        from dance.core.plotting.categorical import matched_panels, values_at
        from dance.core.plotting.spots import plot_spot_panels, spot_coordinates, tissue_image

        data = outputs["output"]
        coords, _ = spot_coordinates(data, keys.spatial_key)
        annotated = None if truth is None else values_at(data.n_obs, truth.positions, truth.labels)
        panels = matched_panels(prediction, annotated, predicted_title="predicted domains", annotated_title="annotated domains")
        path = plot_spot_panels(
            coords,
            panels,
            Path(folder) / "spatial_domains.png",
            image=tissue_image(data),
            title=context.title(),
            y_down="spatial" in data.uns,
        )
        return {"plot": path}
