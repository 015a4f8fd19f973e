"""Task ``cell_type_deconvolution``: estimate the cell-type proportions of each spatial spot.

Input
    :class:`~dance.core.containers.SpotsAndReference`: ``spots`` (expression; ``obsm['spatial']``
    for methods that use it; true proportions in ``obsm['proportions']``, a DataFrame with one
    column per cell type, when known) and a ``reference``: single cells with
    ``obs['cell_type']``, or pseudo-spots with known ``obsm['proportions']``.
Hold-out
    The true proportions are removed from the spots the model sees.
Prediction
    Proportions, spots x cell types (a DataFrame whose columns are the reference's cell types,
    or an array in the order of :func:`reference_cell_types`); rows are normalised to sum to 1.
Output
    ``obsm['proportions']`` of ``output.h5ad`` holds the prediction; the truth, when the input
    had it, is kept as ``obsm['proportions_true']``. ``dance run`` also maps each cell type's
    proportion and the dominant cell type per spot (PNG).
Metrics (``fn(true, predicted)``, spots x types arrays with aligned columns)
    ``mse`` (mean squared error over all entries), ``jsd`` (mean Jensen-Shannon divergence of
    spot distributions, base 2).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from dance.core.errors import DanceInputError
from dance.core.models.base import DanceModel
from dance.core.specs import FieldSpec, TaskSpec
from dance.core.tasks.base import BrokenInput, TaskContract, drop_obs_column

if TYPE_CHECKING:
    import pandas as pd
    from anndata import AnnData

    from dance.core.containers import SpotsAndReference
    from dance.core.keys import DataKeys
    from dance.core.plotting.context import PlotContext

__all__ = ["SPEC", "CellTypeDeconvolution", "CellTypeDeconvolutionModel", "reference_cell_types"]

SPEC = TaskSpec(
    name="cell_type_deconvolution",
    summary="Estimate the cell-type proportions of each spatial spot from a reference",
    target="dance.core.tasks.cell_type_deconvolution:CellTypeDeconvolution",
    input_kind="spots_reference",
    roles=("spots", "reference"),
    inputs=(
        FieldSpec(role="spots", slot="X", description="spot expression"),
        FieldSpec(
            role="spots", slot="obsm", key="spatial", option="spatial_key", required=False, description="coordinates (spatial methods)"
        ),
        FieldSpec(
            role="spots",
            slot="obsm",
            key="proportions",
            option="proportions_key",
            required=False,
            description="true proportions, for evaluation",
        ),
        FieldSpec(role="reference", slot="X", description="reference expression"),
        FieldSpec(
            role="reference",
            slot="obs",
            key="cell_type",
            option="label_key",
            description="cell types (or obsm['proportions'] of pseudo-spots)",
        ),
    ),
    outputs=(
        FieldSpec(role="spots", slot="obsm", key="proportions", description="predicted proportions (DataFrame, one column per type)"),
    ),
    metrics=("mse", "jsd"),
)


class CellTypeDeconvolutionModel(DanceModel):
    """Base class: ``predict`` returns spots x cell-type proportions."""

    task = "cell_type_deconvolution"
    #: a single spot can be deconvolved; the reference is checked by the contract (two types at least)
    min_cells = 1

    def cell_types(self, data: SpotsAndReference) -> list[str]:
        """The reference's cell types, in the column order predictions use."""
        return reference_cell_types(data.reference, self.keys)


def reference_cell_types(reference: AnnData, keys: DataKeys) -> list[str]:
    """Sorted cell types of a single-cell reference, or the proportion columns of a pseudo-spot one."""
    import pandas as pd

    if keys.label_key in reference.obs.columns:
        return sorted(reference.obs[keys.label_key].dropna().astype(str).unique())
    value = reference.obsm[keys.proportions_key]
    if isinstance(value, pd.DataFrame):
        return [str(c) for c in value.columns]
    return [str(c) for c in reference.uns.get("cell_types", range(value.shape[1]))]


def proportions_frame(value: Any, index: Any, columns: list[str] | None = None) -> pd.DataFrame:
    """A proportions DataFrame from an obsm entry or a model's array."""
    import numpy as np
    import pandas as pd

    if isinstance(value, pd.DataFrame):
        frame = value.copy()
        frame.columns = frame.columns.astype(str)
        frame.index = index
        return frame
    array = np.asarray(value, dtype=float)
    return pd.DataFrame(array, index=index, columns=columns if columns is not None else [str(i) for i in range(array.shape[1])])


class CellTypeDeconvolution(TaskContract):
    spec = SPEC
    model_base = CellTypeDeconvolutionModel

    def check(self, data: SpotsAndReference, keys: DataKeys, *, stage: str = "fit", needs_counts: bool = False) -> None:
        from dance.core import validation as v

        super().check(data, keys, stage=stage, needs_counts=needs_counts)
        ref = data.reference
        if keys.label_key in ref.obs.columns:
            v.require_labels(ref, keys, role="reference", min_classes=2)
        elif keys.proportions_key not in ref.obsm:
            v.require_obs(
                ref,
                keys.label_key,
                role="reference",
                what="the cell type of each reference cell (or obsm['proportions'] for a pseudo-spot reference)",
                option="label_key",
            )
        shared = data.spots.var_names.intersection(ref.var_names)
        if len(shared) == 0:
            raise DanceInputError(
                "spots.var_names and reference.var_names share no gene (e.g. spots: "
                f"{', '.join(map(str, data.spots.var_names[:3]))}; reference: {', '.join(map(str, ref.var_names[:3]))}); "
                "both must use the same gene identifiers",
                field="spots.var_names",
            )
        if stage == "evaluate" and keys.proportions_key in data.spots.obsm:
            v.require_obsm(data.spots, keys.proportions_key, role="spots", what="true proportions")

    def holdout(self, data: SpotsAndReference, keys: DataKeys, *, seed: int) -> tuple[SpotsAndReference, Any]:
        self.validate(data, keys, stage="evaluate")
        view = data.copy()
        truth = None
        if keys.proportions_key in view.spots.obsm:
            truth = proportions_frame(view.spots.obsm[keys.proportions_key], view.spots.obs_names, _truth_columns(view.spots, keys))
            del view.spots.obsm[keys.proportions_key]
        return view, truth

    def check_prediction(
        self, prediction: Any, data: SpotsAndReference, keys: DataKeys, *, model: DanceModel | None = None
    ) -> pd.DataFrame:
        import numpy as np

        types = reference_cell_types(data.reference, keys)
        frame = proportions_frame(prediction, data.spots.obs_names, None if hasattr(prediction, "columns") else types)
        if frame.shape[0] != data.spots.n_obs:
            raise DanceInputError(f"proportions must have one row per spot ({data.spots.n_obs}); got {frame.shape[0]}", field="prediction")
        values = frame.to_numpy()
        if not np.isfinite(values).all() or (values < -1e-8).any():
            raise DanceInputError("proportions must be finite and non-negative", field="prediction")
        values = np.clip(values, 0, None)
        totals = values.sum(axis=1, keepdims=True)
        if (totals <= 0).any():
            raise DanceInputError(f"{int((totals <= 0).sum())} spot(s) have all-zero proportions", field="prediction")
        frame.loc[:, :] = values / totals
        return frame

    def evaluation_inputs(
        self, prediction: pd.DataFrame, truth: pd.DataFrame, keys: DataKeys, *, model: DanceModel | None = None
    ) -> tuple[Any, Any]:
        columns = list(truth.columns)
        aligned = prediction.reindex(columns=columns, fill_value=0.0).to_numpy()
        return truth.to_numpy(), aligned

    def store_prediction(
        self, data: SpotsAndReference, prediction: pd.DataFrame, keys: DataKeys, *, key: str, model: DanceModel | None = None
    ) -> None:
        """``spots.obsm[key]``: the proportions (a DataFrame, one column per cell type)."""
        data.spots.obsm[key] = prediction.set_axis(data.spots.obs_names)

    def write_output(
        self, data: SpotsAndReference, prediction: pd.DataFrame, keys: DataKeys, *, model_name: str, model: DanceModel | None = None
    ) -> dict[str, AnnData]:
        out = data.spots.copy()
        if keys.proportions_key in out.obsm:
            out.obsm["proportions_true"] = proportions_frame(out.obsm[keys.proportions_key], out.obs_names, _truth_columns(out, keys))
        out.obsm["proportions"] = prediction
        out.uns["dance_model"] = model_name
        return {"output": out}

    def plot(
        self,
        outputs: dict[str, AnnData],
        prediction: pd.DataFrame,
        truth: pd.DataFrame | None,
        keys: DataKeys,
        *,
        context: PlotContext,
        folder: Any,
    ) -> dict[str, Any]:
        """``proportions.png``: one map of the spots per cell type coloured by its predicted
        proportion (shared 0..max scale), the true map under it when known; at most 20 types, the
        most abundant. ``dominant_cell_type.png``: each spot coloured by its most abundant
        predicted type, next to the true one. Spots without coordinates are laid out on a grid."""
        from dance.core.plotting.proportions import dominant_type_panels, plot_proportion_maps
        from dance.core.plotting.spots import plot_spot_panels, spot_coordinates, tissue_image

        spots = outputs["output"]
        coords, note = spot_coordinates(spots, keys.spatial_key)
        y_down = "spatial" in spots.uns
        maps = plot_proportion_maps(
            coords, prediction, truth, Path(folder) / "proportions.png", title=context.title(), y_down=y_down, note=note
        )
        dominant = plot_spot_panels(
            coords,
            dominant_type_panels(prediction, truth),
            Path(folder) / "dominant_cell_type.png",
            image=tissue_image(spots),
            title=context.title(f"dominant cell type{f' ({note})' if note else ''}"),
            y_down=y_down,
        )
        return {"plot": maps, "plot_dominant": dominant}

    def broken_inputs(self, data: SpotsAndReference, keys: DataKeys) -> list[BrokenInput]:
        copy = data.copy()
        drop_obs_column(copy.reference, keys.label_key)
        copy.reference.obsm.pop(keys.proportions_key, None)
        return [BrokenInput("reference labels removed", copy, f"reference.obs['{keys.label_key}']"), *super().broken_inputs(data, keys)]


def _truth_columns(spots: AnnData, keys: DataKeys) -> list[str] | None:
    value = spots.obsm[keys.proportions_key]
    if hasattr(value, "columns"):
        return None
    names = spots.uns.get("cell_types")
    return [str(c) for c in names] if names is not None else None
