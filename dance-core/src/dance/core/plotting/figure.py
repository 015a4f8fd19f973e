"""Figures on an Agg canvas (no pyplot global state), saved as PNG."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["DPI", "legend_layout", "legend_outside", "new_figure", "panel_figure", "save_figure", "set_title", "text_inches", "wrap"]

#: resolution of every figure: sharp enough to read 6-point legend text, small enough to attach to a report
DPI = 120


def new_figure(width: float, height: float, *, layout: str | None = "constrained") -> Figure:
    """A matplotlib Figure of ``width`` x ``height`` inches with its own Agg canvas.

    Pyplot keeps every figure it makes in a global registry (and may pick an interactive backend);
    a bare Figure with an Agg canvas is freed with the object and is safe in threads and servers.
    Constrained layout makes room for legends placed outside the axes.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=DPI, layout=layout)
    FigureCanvasAgg(figure)
    return figure


def save_figure(figure: Figure, path: str | Path) -> Path:
    """Write ``figure`` as a PNG at ``path`` (parent folders created) and return the path.

    The saved area is the drawn one plus a small margin, so a legend a little wider than its
    estimate is never cut off.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=DPI, facecolor="white", bbox_inches="tight", pad_inches=0.12)
    return path


def text_inches(characters: int, fontsize: float) -> float:
    """Approximate width of a line of ``characters`` characters in the default font (DejaVu Sans,
    a little over half an em per character on average)."""
    return characters * 0.52 * fontsize / 72


def wrap(text: str, width: float, fontsize: float) -> str:
    """``text`` broken into lines no wider than ``width`` inches."""
    import textwrap

    characters = max(30, int(width / text_inches(1, fontsize)))
    return "\n".join(textwrap.wrap(text, characters)) if text else ""


def set_title(figure: Figure, text: str, *, fontsize: float = 11) -> None:
    """The figure's title, wrapped onto several lines when it is wider than the figure."""
    figure.suptitle(wrap(text, figure.get_figwidth(), fontsize), fontsize=fontsize)


def panel_figure(
    n_rows: int,
    legend_widths: list[float],
    *,
    panel: float,
    panel_height: float | None = None,
    title: str = "",
    fontsize: float = 11,
    gap: float = 0.3,
    row_gap: float = 0.65,
    right: float = 0.1,
) -> tuple[Figure, list[list[Axes]]]:
    """A figure of ``n_rows`` x ``len(legend_widths)`` panels of ``panel`` x ``panel_height``
    inches (square by default), each column followed by room for its legend (``legend_widths``,
    inches), the title on top; ``gap`` and ``row_gap`` inches between columns and rows (room
    for axis labels and panel titles), ``right`` inches free on the right (for a colour bar).

    Panels are placed in inches rather than by a layout engine: square panels next to legends of
    very different widths (two batches, forty cell types) otherwise come out of different sizes.

    Returns
    -------
    figure, axes
        ``axes[row][column]``.
    """
    left, bottom = 0.45, 0.4
    tall = panel if panel_height is None else panel_height
    width = left + sum(panel + w for w in legend_widths) + gap * (len(legend_widths) - 1) + right
    text = wrap(title, width, fontsize)
    top = 0.45 + (text.count("\n") + 1) * fontsize * 1.3 / 72 if text else 0.4
    height = bottom + n_rows * tall + (n_rows - 1) * row_gap + top
    figure = new_figure(width, height, layout=None)
    if text:
        figure.suptitle(text, fontsize=fontsize, y=1 - 0.12 / height, va="top")
    axes = []
    for r in range(n_rows):
        y = bottom + (n_rows - 1 - r) * (tall + row_gap)
        row, x = [], left
        for legend in legend_widths:
            row.append(figure.add_axes((x / width, y / height, panel / width, tall / height)))
            x += panel + legend + gap
        axes.append(row)
    return figure, axes


def legend_layout(n: int) -> tuple[int, float]:
    """``(columns, font size)`` of a legend of ``n`` entries.

    Up to 14 entries fit one column at 8 points; beyond that the legend grows columns and shrinks
    its font so that 40 cell types, or 150 clusters, stay no taller than a panel (20 rows).
    """
    import math

    if n <= 14:
        return 1, 8
    if n <= 36:
        return 2, 7
    return max(3, math.ceil(n / 20)), 6


def legend_outside(ax: Axes, handles: list[Any], *, title: str | None = None) -> Any:
    """A frameless legend to the right of ``ax`` (columns and font size from :func:`legend_layout`)."""
    columns, fontsize = legend_layout(len(handles))
    return ax.legend(
        handles=handles,
        loc="center left",
        bbox_to_anchor=(1.01, 0.5),
        ncol=columns,
        fontsize=fontsize,
        title=title,
        title_fontsize=fontsize + 1,
        frameon=False,
        handletextpad=0.2,
        columnspacing=0.8,
        borderaxespad=0.2,
    )
