"""Scatter plots of points coloured by a categorical value (cells on a UMAP, spots on a slide)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dance.core.plotting.figure import legend_layout, text_inches
from dance.core.plotting.palette import MISSING_COLOUR, category_colours, matched_colours, natural_key

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["Colouring", "legend_width", "matched_panels", "missing_mask", "scatter_categories", "values_at"]


@dataclass(frozen=True)
class Colouring:
    """What one panel colours its points by.

    Attributes
    ----------
    title
        Panel title (``"predicted clusters"``).
    values
        One label per point; None (or NaN) marks a point without a value, drawn grey underneath.
    colours
        Colour of each label; scanpy's palette in natural label order when None.
    names
        Legend text of each label, when it differs from the label.
    missing
        Legend text of points without a value.
    """

    title: str
    values: Any
    colours: Mapping[str, Any] | None = None
    names: Mapping[str, str] | None = None
    missing: str = "no label"


def values_at(n: int, positions: Any, values: Any) -> Any:
    """An object array of ``n`` entries holding ``values`` at ``positions`` and None elsewhere
    (the labels of the evaluated cells spread over all cells)."""
    import numpy as np

    spread = np.full(n, None, dtype=object)
    spread[np.asarray(positions, dtype=int)] = np.asarray(values, dtype=object)
    return spread


def matched_panels(predicted: Any, annotated: Any | None, *, predicted_title: str, annotated_title: str) -> list[Colouring]:
    """A panel of predicted groups and, when there is an annotation, one of the annotated groups,
    each predicted group coloured like the annotated group it matches (:func:`matched_colours`)."""
    import numpy as np

    predicted = np.asarray(predicted).astype(str)
    if annotated is None or missing_mask(annotated).all():
        return [Colouring(predicted_title, predicted)]
    names, predicted_colours, annotated_colours = matched_colours(predicted, annotated)
    return [
        Colouring(predicted_title, predicted, colours=predicted_colours, names=names),
        Colouring(annotated_title, annotated, colours=annotated_colours, missing="not annotated"),
    ]


def missing_mask(values: Any) -> Any:
    """True where a label is absent (None or a float NaN)."""
    import numpy as np

    return np.array([value is None or (isinstance(value, float) and value != value) for value in values], dtype=bool)


def legend_width(colouring: Colouring) -> float:
    """Inches the legend of ``colouring`` takes beside its panel (columns as :func:`legend_outside` makes them)."""
    import numpy as np

    values = np.asarray(colouring.values, dtype=object)
    missing = missing_mask(values)
    labels = sorted({str(v) for v in values[~missing]}, key=natural_key)
    texts = [(colouring.names or {}).get(label, label) for label in labels] + ([colouring.missing] if missing.any() else [])
    if not texts:
        return 0.3
    columns, fontsize = legend_layout(len(texts))
    # matplotlib fills the columns top to bottom, each as wide as its own longest entry (plus the
    # marker and the space between columns)
    per_column = int(np.ceil(len(texts) / columns))
    chunks = [texts[start : start + per_column] for start in range(0, len(texts), per_column)]
    return sum(text_inches(max(len(text) for text in chunk), fontsize) + 0.3 for chunk in chunks) + 0.1


def scatter_categories(ax: Axes, coords: Any, colouring: Colouring, *, size: float, seed: int = 0) -> list[Any]:
    """Draw ``coords`` coloured by ``colouring.values`` on ``ax``; returns the legend handles.

    Points are drawn in one seeded random order rather than category by category, so no category
    is systematically hidden under the others; points without a value go underneath, in grey.
    """
    import numpy as np
    from matplotlib.lines import Line2D

    coords = np.asarray(coords, dtype=float)
    values = np.asarray(colouring.values, dtype=object)
    missing = missing_mask(values)
    labels = sorted({str(v) for v in values[~missing]}, key=natural_key)
    colours = dict(category_colours(labels))
    if colouring.colours is not None:
        colours.update({label: colouring.colours[label] for label in labels if label in colouring.colours})
    if missing.any():
        ax.scatter(coords[missing, 0], coords[missing, 1], s=size, c=MISSING_COLOUR, linewidths=0, rasterized=True)
    present = np.flatnonzero(~missing)
    order = present[np.random.default_rng(seed).permutation(len(present))]
    if len(order):
        point_colours = [colours[str(values[i])] for i in order]
        ax.scatter(coords[order, 0], coords[order, 1], s=size, c=point_colours, linewidths=0, rasterized=True)
    names = colouring.names or {}
    handles = [Line2D([], [], marker="o", linestyle="", color=colours[label], label=names.get(label, label)) for label in labels]
    if missing.any():
        handles.append(Line2D([], [], marker="o", linestyle="", color=MISSING_COLOUR, label=colouring.missing))
    return handles
