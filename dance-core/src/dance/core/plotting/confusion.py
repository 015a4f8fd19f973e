"""Row-normalised confusion matrix of predicted against true classes; predicted class counts
when there is no truth."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dance.core.plotting.figure import new_figure, save_figure, set_title
from dance.core.plotting.palette import natural_key

__all__ = ["confusion_table", "plot_class_counts", "plot_confusion_matrix"]

#: class names longer than this are shortened on the axes
MAX_LABEL = 28


def confusion_table(y_true: Any, y_pred: Any) -> tuple[Any, list[str], list[str], Any]:
    """Row-normalised confusion matrix with its row and column classes and each row's cell count.

    Rows are the true classes; columns are the same classes in the same order (so correct
    predictions lie on the diagonal) followed by classes only ever predicted (e.g. ``unknown``).

    Returns
    -------
    fractions, rows, columns, counts
        ``fractions[i, j]``: fraction of cells of true class ``rows[i]`` predicted ``columns[j]``;
        ``counts[i]``: number of cells of class ``rows[i]``.
    """
    import numpy as np
    from sklearn.metrics import confusion_matrix

    y_true = np.asarray(y_true).astype(str)
    y_pred = np.asarray(y_pred).astype(str)
    rows = sorted(set(y_true.tolist()), key=natural_key)
    columns = rows + sorted(set(y_pred.tolist()) - set(rows), key=natural_key)
    if not rows:
        return np.zeros((0, 0)), [], [], np.zeros(0, dtype=int)
    matrix = confusion_matrix(y_true, y_pred, labels=columns)[: len(rows)]
    counts = matrix.sum(axis=1)
    return matrix / np.maximum(counts, 1)[:, None], rows, columns, counts


def _short(label: str) -> str:
    return label if len(label) <= MAX_LABEL else label[: MAX_LABEL - 1] + "…"


def plot_confusion_matrix(y_true: Any, y_pred: Any, path: str | Path, *, title: str = "") -> Path:
    """Heat map of the row-normalised confusion matrix of the evaluated cells.

    Each row (a true class, labelled with its number of cells) shows where its cells were
    assigned; the colour bar gives the fraction. Cells and fonts shrink as classes grow so 40+
    classes stay legible; below 13 classes the fractions are written in the cells.

    Parameters
    ----------
    y_true, y_pred
        True and predicted label of each evaluated cell.
    path
        PNG to write.
    title
        Figure title (with the accuracy: :meth:`PlotContext.title`).

    Returns
    -------
    Path
        ``path``.
    """
    import numpy as np
    from matplotlib.patches import Rectangle

    fractions, rows, columns, counts = confusion_table(y_true, y_pred)
    n = max(len(columns), 1)
    cell = 0.7 if n <= 6 else 0.42 if n <= 12 else 0.3 if n <= 25 else 0.22
    fontsize = 9 if n <= 12 else 7 if n <= 25 else 6
    row_labels = [f"{_short(r)} ({c})" for r, c in zip(rows, counts, strict=True)]
    label_inches = max([len(t) for t in [*row_labels, *columns]] + [4]) * 0.55 * fontsize / 72
    width = max(len(columns) * cell + label_inches + 1.6, 4.5)
    height = max(max(len(rows), 1) * cell + label_inches + 1.3, 3.5)
    figure = new_figure(width, height)
    ax = figure.add_subplot()
    if not rows:
        ax.text(0.5, 0.5, "no evaluated cells", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
    else:
        image = ax.imshow(fractions, cmap="Blues", vmin=0.0, vmax=1.0, aspect="equal", interpolation="nearest")
        ax.set_xticks(np.arange(len(columns)), [_short(c) for c in columns], rotation=90, fontsize=fontsize)
        ax.set_yticks(np.arange(len(rows)), row_labels, fontsize=fontsize)
        ax.set_xlabel("predicted class", fontsize=fontsize + 1)
        ax.set_ylabel("true class (cells)", fontsize=fontsize + 1)
        # thin white lines between cells keep rows apart when many are pale
        ax.set_xticks(np.arange(len(columns) + 1) - 0.5, minor=True)
        ax.set_yticks(np.arange(len(rows) + 1) - 0.5, minor=True)
        ax.grid(which="minor", color="white", linewidth=0.5)
        ax.tick_params(which="minor", length=0)
        # outline the diagonal (correct predictions) so the eye finds it among 40 classes
        for i in range(len(rows)):
            ax.add_patch(Rectangle((i - 0.5, i - 0.5), 1, 1, fill=False, edgecolor="dimgrey", linewidth=0.6, zorder=3))
        if n <= 12:
            for (i, j), value in np.ndenumerate(fractions):
                if value > 0:
                    ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=7, color="white" if value > 0.5 else "black")
        colourbar = figure.colorbar(image, ax=ax, shrink=min(1.0, 4.0 / max(height - label_inches, 1.0)), pad=0.02)
        colourbar.set_label("fraction of the true class", fontsize=8)
        colourbar.ax.tick_params(labelsize=7)
    if title:
        set_title(figure, title)
    return save_figure(figure, path)


def plot_class_counts(labels: Any, path: str | Path, *, title: str = "", what: str = "cells") -> Path:
    """Horizontal bars: how many ``what`` were assigned each class, most frequent on top.

    The figure for annotations without a truth to compare to (an unlabelled query).

    Parameters
    ----------
    labels
        Predicted class of each cell.
    path
        PNG to write.
    title
        Figure title.
    what
        What is counted, for the axis label.

    Returns
    -------
    Path
        ``path``.
    """
    import numpy as np

    from dance.core.plotting.palette import categorical_palette

    names, counts = np.unique(np.asarray(labels).astype(str), return_counts=True)
    order = np.lexsort((names, -counts))
    names, counts = names[order], counts[order]
    fontsize = 8 if len(names) <= 25 else 6
    label_inches = max([len(_short(n)) for n in names] + [4]) * 0.55 * fontsize / 72
    figure = new_figure(max(6.5, label_inches + 4.5), max(2.5, 0.2 * len(names) + 1.4))
    ax = figure.add_subplot()
    positions = np.arange(len(names))
    ax.barh(positions, counts, color=categorical_palette(len(names)))
    ax.set_yticks(positions, [_short(n) for n in names], fontsize=fontsize)
    ax.invert_yaxis()
    ax.set_xlabel(f"{what} predicted (of {int(counts.sum()):,})", fontsize=9)
    ax.set_title("predicted classes (no true labels to compare with)", fontsize=9)
    ax.spines[["top", "right"]].set_visible(False)
    if title:
        set_title(figure, title)
    return save_figure(figure, path)
