"""Cell-type proportions on the spots: one map per cell type, predicted above true."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from dance.core.plotting.categorical import Colouring
from dance.core.plotting.figure import panel_figure, save_figure
from dance.core.plotting.palette import category_colours
from dance.core.plotting.spots import frame_spots, panel_shape, spot_size

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["dominant_type_panels", "plot_proportion_maps", "shown_cell_types"]

#: inches of one spot map
PANEL = 2.3


def shown_cell_types(predicted: pd.DataFrame, truth: pd.DataFrame | None, max_types: int) -> tuple[list[str], int]:
    """The cell types to map, most abundant first (mean predicted proportion), and how many exist.

    Types of the truth the model did not predict count as predicted 0; ties keep the column order.
    """
    import numpy as np

    types = [str(c) for c in predicted.columns]
    if truth is not None:
        types += [str(c) for c in truth.columns if str(c) not in types]
    means = predicted.set_axis([str(c) for c in predicted.columns], axis=1).reindex(columns=types, fill_value=0.0).mean(axis=0)
    order = np.argsort(-means.to_numpy(), kind="stable")
    return [types[i] for i in order[:max_types]], len(types)


def plot_proportion_maps(
    coords: Any,
    predicted: pd.DataFrame,
    truth: pd.DataFrame | None,
    path: str | Path,
    *,
    title: str = "",
    max_types: int = 20,
    y_down: bool = False,
    note: str = "",
) -> Path:
    """A map of the spots per cell type coloured by its proportion, with the true map under it.

    All maps share one 0..max colour scale (square-root spaced), so a type's abundance compares
    across types and between prediction and truth. Types are laid out in a grid (most abundant first); beyond
    ``max_types`` only the most abundant are shown and the panel caption says so.

    Parameters
    ----------
    coords
        Spots x 2 coordinates.
    predicted
        Predicted proportions, spots x cell types (columns named by type).
    truth
        True proportions (same spots), or None.
    path
        PNG to write.
    title
        Figure title (with the error metric: :meth:`PlotContext.title`).
    max_types
        Cell types shown at most.
    y_down
        Whether the y axis points down (image coordinates).
    note
        Added to the caption (e.g. that the spots have no coordinates).

    Returns
    -------
    Path
        ``path``.
    """
    import numpy as np
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import PowerNorm

    coords = np.asarray(coords, dtype=float)
    types, n_types = shown_cell_types(predicted, truth, max_types)
    frames = [("predicted", predicted)] + ([("true", truth)] if truth is not None else [])
    values = {
        kind: frame.set_axis([str(c) for c in frame.columns], axis=1).reindex(columns=types, fill_value=0.0).to_numpy(dtype=float)
        for kind, frame in frames
    }
    top = max(max(float(v.max()) for v in values.values()) if types else 0.0, 1e-6)
    # one scale for every map; square-root spacing, because most proportions are small and a
    # linear scale leaves 0.05 and 0.25 the same dark shade
    norm = PowerNorm(0.5, vmin=0.0, vmax=top)
    n_columns = max(1, min(len(types), 5))
    blocks = int(np.ceil(len(types) / n_columns)) if types else 1
    n_rows = blocks * len(frames)
    # smaller maps when there are many, so 20 types with their truth stay one screenful or two
    width, height = panel_shape(coords, PANEL if len(types) <= 10 else 0.8 * PANEL)
    figure, grid = panel_figure(n_rows, [0.0] * n_columns, panel=width, panel_height=height, title=title, gap=0.12, row_gap=0.3, right=1.0)
    size = spot_size(coords, max(width, height))
    for index, cell_type in enumerate(types):
        block, column = divmod(index, n_columns)
        for offset, (kind, _) in enumerate(frames):
            ax = grid[block * len(frames) + offset][column]
            frame_spots(ax, coords, y_down=y_down)
            ax.scatter(
                coords[:, 0], coords[:, 1], c=values[kind][:, index], s=size, cmap="viridis", norm=norm, linewidths=0, rasterized=True
            )
            ax.set_title(cell_type if offset == 0 else f"{cell_type} (true)", fontsize=8)
            if column == 0:
                ax.set_ylabel(kind, fontsize=9)
    for index in range(len(types), blocks * n_columns):  # the unused end of the last block
        block, column = divmod(index, n_columns)
        for offset in range(len(frames)):
            grid[block * len(frames) + offset][column].set_axis_off()
    caption = [f"{len(types)} most abundant of {n_types} cell types" if len(types) < n_types else f"{n_types} cell types"]
    caption += ["rows: predicted, then true" if truth is not None else "no true proportions"]
    caption += [note] if note else []
    figure_width, figure_height = figure.get_size_inches()
    bar_height = min(3.0, figure_height - 1.2)
    bar = figure.add_axes(
        (1 - 0.75 / figure_width, (figure_height - bar_height) / 2 / figure_height, 0.14 / figure_width, bar_height / figure_height)
    )
    colourbar = figure.colorbar(ScalarMappable(norm=norm, cmap="viridis"), cax=bar)
    colourbar.set_label("proportion (square-root scale)", fontsize=8)
    colourbar.ax.tick_params(labelsize=7)
    figure.text(0.5, 0.1 / figure_height, "; ".join(caption), ha="center", va="bottom", fontsize=9)
    return save_figure(figure, path)


def dominant_type_panels(predicted: pd.DataFrame, truth: pd.DataFrame | None) -> list[Colouring]:
    """Panels of each spot's most abundant predicted (and true) cell type, one colour per type in both."""
    import numpy as np

    frames = [("dominant predicted type", predicted)] + ([("dominant true type", truth)] if truth is not None else [])
    types = [str(c) for _, frame in frames for c in frame.columns]
    colours = category_colours(types)
    return [
        Colouring(title, np.asarray(frame.columns.astype(str))[frame.to_numpy().argmax(axis=1)].astype(object), colours=colours)
        for title, frame in frames
    ]
