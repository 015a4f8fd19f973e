"""Predicted against observed values as a density (hexbin) with the y = x line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dance.core.plotting.figure import new_figure, save_figure, set_title

__all__ = ["plot_predicted_vs_observed"]


def plot_predicted_vs_observed(
    observed: Any,
    predicted: Any,
    path: str | Path,
    *,
    title: str = "",
    xlabel: str = "observed",
    ylabel: str = "predicted",
    note: str = "",
) -> Path:
    """Hexbin of ``predicted`` against ``observed`` on equal axes, counts on a log colour scale.

    A scatter of a million entries is a solid blob; hexagon counts on a log scale show where the
    bulk lies and the tails at once. Points on the dashed y = x line are predicted exactly.

    Parameters
    ----------
    observed, predicted
        Values of the same entries (any shape; flattened).
    path
        PNG to write.
    title
        Figure title (with the error metric: :meth:`PlotContext.title`).
    xlabel, ylabel
        Axis labels (say the scale, e.g. ``log1p(count)``).
    note
        Panel title (e.g. which entries are shown).

    Returns
    -------
    Path
        ``path``.
    """
    import numpy as np
    from matplotlib.colors import LogNorm

    x = np.asarray(observed, dtype=float).ravel()
    y = np.asarray(predicted, dtype=float).ravel()
    if x.shape != y.shape:
        raise ValueError(f"observed and predicted must hold the same number of values; got {x.size} and {y.size}")
    finite = np.isfinite(x) & np.isfinite(y)
    x, y = x[finite], y[finite]
    figure = new_figure(7.2, 6.0)
    ax = figure.add_subplot()
    if x.size == 0:
        ax.text(0.5, 0.5, "no entries to compare", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
    else:
        low, high = float(min(x.min(), y.min())), float(max(x.max(), y.max()))
        margin = 0.03 * (high - low) if high > low else 0.5
        low, high = low - margin, high + margin
        bins = ax.hexbin(x, y, gridsize=60, extent=(low, high, low, high), norm=LogNorm(), mincnt=1, cmap="viridis", linewidths=0)
        ax.plot([low, high], [low, high], linestyle="--", color="crimson", linewidth=1, label="y = x")
        ax.set_xlim(low, high)
        ax.set_ylim(low, high)
        ax.set_aspect("equal")
        ax.set_xlabel(xlabel, fontsize=9)
        ax.set_ylabel(ylabel, fontsize=9)
        ax.legend(loc="upper left", fontsize=8, frameon=False)
        colourbar = figure.colorbar(bins, ax=ax, shrink=0.8, pad=0.02)
        colourbar.set_label("entries per hexagon (log scale)", fontsize=8)
        colourbar.ax.tick_params(labelsize=7)
    ax.set_title(note or f"{x.size:,} entries", fontsize=9)
    if title:
        set_title(figure, title)
    return save_figure(figure, path)
