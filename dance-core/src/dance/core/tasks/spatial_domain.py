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

__all__ = ["SPEC", "SpatialDomain", "SpatialDomainModel", "plot_spot_panels"]

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

    def validate(self, data: AnnData, keys: DataKeys, *, stage: str = "fit", needs_counts: bool = False) -> None:
        from dance.core import validation as v

        super().validate(data, keys, stage=stage, needs_counts=needs_counts)
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
        import numpy as np

        data = outputs["output"]
        model_name = context.model
        coords = np.asarray(data.obsm[keys.spatial_key], dtype=float)[:, :2]
        predicted = np.asarray(prediction).astype(str)
        panels = []
        if truth is not None:
            annotated = np.full(data.n_obs, None, dtype=object)
            annotated[truth.positions] = truth.labels
            names, colours = _matched_colours(predicted, annotated)
            panels.append((f"{model_name}: predicted domains", predicted, colours, names))
            panels.append(("annotated domains", annotated, colours, None))
        else:
            panels.append((f"{model_name}: predicted domains", predicted, None, None))
        path = Path(folder) / "spatial_domains.png"
        plot_spot_panels(
            coords, panels, path, image=_tissue_image(data), title=context.title(), y_down="spatial" in data.uns
        )
        return {"plot": path}


# ---------------------------------------------------------------------- plotting helpers (matplotlib, Agg canvas)
def _palette(n: int) -> list[Any]:
    """``n`` visibly distinct colours: scanpy's categorical palettes (20, 28 or 102 colours; the
    102 are Godsnot's maximally distinct set), repeated only beyond 102 categories."""
    from scanpy.plotting.palettes import default_20, default_28, default_102

    colours = list(default_20 if n <= 20 else default_28 if n <= 28 else default_102)
    while len(colours) < n:
        colours.extend(colours)
    return colours[:n]


def _natural(label: str) -> tuple[int, float, str]:
    """Numbers in numeric order, then text."""
    try:
        return (0, float(label), label)
    except ValueError:
        return (1, 0.0, label)


def _matched_colours(predicted: Any, annotated: Any) -> tuple[dict[str, str], dict[str, Any]]:
    """Colours for the annotation and for each predicted domain: a domain takes the colour of the
    annotated domain it best matches (Hungarian assignment on overlaps); extra domains get new colours."""
    import numpy as np
    from scipy.optimize import linear_sum_assignment

    known = annotated != None  # noqa: E711 - elementwise test on an object array
    truth_names = sorted({str(x) for x in annotated[known]})
    pred_names = sorted(set(predicted.tolist()), key=_natural)
    overlap = np.zeros((len(pred_names), len(truth_names)))
    pred_index = {p: i for i, p in enumerate(pred_names)}
    truth_index = {t: j for j, t in enumerate(truth_names)}
    for p_label, t_label in zip(predicted[known], annotated[known], strict=True):
        overlap[pred_index[p_label], truth_index[str(t_label)]] += 1
    rows, cols = linear_sum_assignment(-overlap) if overlap.size else (np.array([], int), np.array([], int))
    palette = _palette(len(truth_names) + len(pred_names))
    colours: dict[str, Any] = {t: palette[j] for j, t in enumerate(truth_names)}
    names = {}
    spare = len(truth_names)
    assigned = dict(zip(rows.tolist(), cols.tolist(), strict=True))
    for i, p_label in enumerate(pred_names):
        if i in assigned:
            colours[f"pred:{p_label}"] = palette[assigned[i]]
            names[p_label] = f"{p_label} (~{truth_names[assigned[i]]})"
        else:
            colours[f"pred:{p_label}"] = palette[spare]
            names[p_label] = p_label
            spare += 1
    return names, colours


def _tissue_image(adata: Any) -> tuple[Any, float] | None:
    """``(image, pixels per coordinate unit)`` of a Space Ranger library (lowres preferred), or None."""
    import numpy as np

    libraries = adata.uns.get("spatial") if hasattr(adata, "uns") else None
    if not isinstance(libraries, dict):
        return None
    for library in libraries.values():
        if not isinstance(library, dict):
            continue
        images, factors = library.get("images") or {}, library.get("scalefactors") or {}
        for resolution in ("lowres", "hires"):
            if images.get(resolution) is not None:
                return np.asarray(images[resolution]), float(factors.get(f"tissue_{resolution}_scalef", 1.0))
    return None


def plot_spot_panels(
    coords: Any,
    panels: list[tuple[str, Any, dict[str, Any] | None, dict[str, str] | None]],
    path: Path,
    *,
    image: tuple[Any, float] | None = None,
    title: str = "",
    y_down: bool | None = None,
) -> Path:
    """Side-by-side scatter plots of spots coloured by a categorical value, one legend each.

    Each panel is ``(title, values, colours, legend names)``: ``values`` one label per spot (None =
    not annotated, drawn grey); ``colours`` maps a label (or ``'pred:' + label``) to a colour.
    With ``image`` the tissue is drawn underneath; the y axis points down (image coordinates)
    when ``y_down`` (default: when there is an image).
    """
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from scipy.spatial import cKDTree

    coords = np.asarray(coords, dtype=float)
    n = len(coords)
    pitch = 1.0
    if n > 1:
        distances, _ = cKDTree(coords).query(coords, k=2)
        pitch = float(np.median(distances[:, 1])) or 1.0
    span = max(float(np.ptp(coords[:, 0])), float(np.ptp(coords[:, 1])), pitch) + 2 * pitch
    panel_inches = 5.0
    figure = Figure(figsize=(panel_inches * len(panels) + 2.2 * len(panels), panel_inches + 0.8), dpi=120)
    FigureCanvasAgg(figure)
    size = max(2.0, (0.9 * pitch / span * panel_inches * 72) ** 2)
    for index, (panel_title, values, colours, names) in enumerate(panels):
        ax = figure.add_subplot(1, len(panels), index + 1)
        values = np.asarray(values, dtype=object)
        missing = np.array([v is None for v in values])
        if image is not None:
            picture, scale = image
            ax.imshow(picture, extent=(0, picture.shape[1] / scale, picture.shape[0] / scale, 0), alpha=0.6)
        if missing.any():
            ax.scatter(coords[missing, 0], coords[missing, 1], s=size, c="lightgrey", linewidths=0)
        labels = sorted({str(v) for v in values[~missing]}, key=_natural)
        palette = _palette(len(labels))
        handles = []
        for j, label in enumerate(labels):
            chosen = np.array([str(v) == label for v in values]) & ~missing
            colour = palette[j]
            if colours is not None:
                colour = colours.get(f"pred:{label}", colours.get(label, colour)) if names is not None else colours.get(label, colour)
            ax.scatter(coords[chosen, 0], coords[chosen, 1], s=size, color=colour, linewidths=0)
            handles.append(Line2D([], [], marker="o", linestyle="", color=colour, label=(names or {}).get(label, label)))
        if missing.any():
            handles.append(Line2D([], [], marker="o", linestyle="", color="lightgrey", label="not annotated"))
        ax.set_title(panel_title, fontsize=10)
        ax.set_aspect("equal")
        ax.set_xticks([])
        ax.set_yticks([])
        pad = pitch
        ax.set_xlim(coords[:, 0].min() - pad, coords[:, 0].max() + pad)
        low, high = coords[:, 1].min() - pad, coords[:, 1].max() + pad
        ax.set_ylim((high, low) if (image is not None if y_down is None else y_down) else (low, high))
        ax.legend(handles=handles, loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=7, frameon=False, markerscale=1.0)
    if title:
        figure.suptitle(title, fontsize=11)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    return path
