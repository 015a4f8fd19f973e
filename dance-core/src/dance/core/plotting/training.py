"""``training.png``: every loss term of every training stage per epoch (the trainer's history)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from dance.core.plotting.context import PlotContext
from dance.core.plotting.figure import save_figure

__all__ = ["plot_training"]


def plot_training(history: Mapping[str, Mapping[str, Sequence[float]]], path: Path, *, context: PlotContext) -> Path | None:
    """One panel per stage (pretraining, training, ...), one line per loss term against the epoch;
    validation terms (``val_*``) dashed in the colour of their training term. A term whose values
    are all positive and span more than a factor of 20 is drawn on a log scale, so a term that
    falls by orders of magnitude stays readable next to one that does not. Returns None when the
    history is empty."""
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    stages = [(name, terms) for name, terms in history.items() if any(len(v) for v in terms.values())]
    if not stages:
        return None
    figure = Figure(figsize=(5.2 * len(stages), 3.8), dpi=120)
    FigureCanvasAgg(figure)
    colours = [f"C{i}" for i in range(10)]
    for index, (stage, terms) in enumerate(stages):
        ax = figure.add_subplot(1, len(stages), index + 1)
        names = [t for t in terms if not t.startswith("val_")]
        values = [np.asarray(v, dtype=float) for v in terms.values() if len(v)]
        positive = all((v > 0).all() for v in values)
        spread = max(v.max() for v in values) / max(min(v.min() for v in values), 1e-300) if positive else 0.0
        for j, name in enumerate(names):
            colour = colours[j % len(colours)]
            y = np.asarray(terms[name], dtype=float)
            ax.plot(np.arange(1, len(y) + 1), y, color=colour, label=name, linewidth=1.4)
            validation = terms.get(f"val_{name}")
            if validation is not None and len(validation):
                ax.plot(np.arange(1, len(validation) + 1), validation, color=colour, linestyle="--", label=f"{name} (validation)")
        if positive and spread > 20:
            ax.set_yscale("log")
        ax.set_title(f"{stage} ({len(next(iter(terms.values())))} epochs)", fontsize=10)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("epoch")
        ax.set_ylabel("loss (mean per epoch)")
        ax.legend(fontsize=7, frameon=False, loc="upper right")
    figure.suptitle(context.title("training losses"), fontsize=10)
    figure.tight_layout()
    return save_figure(figure, path)
