"""Cross-modality matching scores of a sample of cells, true partners on the diagonal."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dance.core.plotting.figure import new_figure, save_figure, set_title

__all__ = ["matching_sample", "plot_matching_scores"]


def matching_sample(scores: Any, partner: Any | None, *, max_cells: int = 100, seed: int = 0) -> tuple[Any, Any, Any]:
    """Rows and columns of the score matrix to show, and the shown block, row-normalised.

    Rows are normalised over the *whole* row first, as the matching score does, so the shown
    block holds the probabilities the metric reads. With ``partner`` (column of each row's true
    match), a seeded sample of at most ``max_cells`` rows is shown and the columns are their
    partners in the same order: the true pairs lie on the diagonal. Without it, the first
    ``max_cells`` rows and columns are shown as given.

    Returns
    -------
    rows, columns, block
        Indices into the score matrix and the dense ``len(rows) x len(columns)`` block.
    """
    import numpy as np
    import scipy.sparse as sp

    matrix = sp.csr_matrix(scores, dtype=np.float64)
    totals = np.asarray(matrix.sum(axis=1)).ravel()
    normalised = sp.diags(np.divide(1.0, totals, out=np.zeros_like(totals), where=totals > 0)) @ matrix
    n_rows, n_columns = matrix.shape
    if partner is not None:
        partner = np.asarray(partner, dtype=int)
        rows = np.arange(n_rows)
        if n_rows > max_cells:
            rows = np.sort(np.random.default_rng(seed).choice(n_rows, size=max_cells, replace=False))
        columns = partner[rows]
    else:
        rows, columns = np.arange(min(n_rows, max_cells)), np.arange(min(n_columns, max_cells))
    block = normalised[rows][:, columns].toarray()
    return rows, columns, block


def plot_matching_scores(
    scores: Any,
    partner: Any | None,
    path: str | Path,
    *,
    title: str = "",
    max_cells: int = 100,
    seed: int = 0,
    names: tuple[str, str] = ("mod1", "mod2"),
) -> Path:
    """Heat map of row-normalised matching scores (test cells of ``names[0]`` x of ``names[1]``).

    With the truth, the true partners lie on the diagonal and the panel title counts the rows
    whose best score is on the partner; without it the block is shown in the given order.

    Parameters
    ----------
    scores
        Non-negative (test mod1 cells) x (test mod2 cells) scores, dense or sparse.
    partner
        ``partner[i]``: column of row ``i``'s true match, or None.
    path
        PNG to write.
    title
        Figure title (with the matching score: :meth:`PlotContext.title`).
    max_cells
        Rows (and columns) shown at most.
    seed
        Sample of rows.
    names
        Names of the two modalities, for the axes.

    Returns
    -------
    Path
        ``path``.
    """
    import numpy as np
    import scipy.sparse as sp
    from matplotlib.colors import PowerNorm

    rows, _, block = matching_sample(scores, partner, max_cells=max_cells, seed=seed)
    n_rows, n_columns = sp.csr_matrix(scores).shape
    figure = new_figure(7.5, 6.8)
    ax = figure.add_subplot()
    if block.size == 0:
        ax.text(0.5, 0.5, "no test cells to match", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
    else:
        top = max(float(block.max()), 1e-12)
        # most probabilities are tiny: a square-root scale keeps the weak off-diagonal mass visible
        image = ax.imshow(block, cmap="magma_r", norm=PowerNorm(0.5, vmin=0.0, vmax=top), aspect="auto", interpolation="nearest")
        shown = f"{len(rows)} of {n_rows}" if len(rows) < n_rows else f"all {n_rows}"
        ax.set_ylabel(
            f"{names[0]} test cells ({shown}{', seeded sample' if len(rows) < n_rows and partner is not None else ''})", fontsize=9
        )
        if partner is not None:
            ax.set_xlabel(f"{names[1]} test cells: the true partner of each row, same order", fontsize=9)
            best = np.asarray(sp.csr_matrix(scores).argmax(axis=1)).ravel()
            hits = int((best[rows] == np.asarray(partner)[rows]).sum())
            ax.set_title(f"diagonal = true partners; best score on the partner for {hits} of {len(rows)} rows", fontsize=9)
        else:
            ax.set_xlabel(f"{names[1]} test cells ({min(n_columns, max_cells)} of {n_columns}, as given)", fontsize=9)
            ax.set_title("no known pairing: scores as given", fontsize=9)
        ax.tick_params(labelsize=7)
        colourbar = figure.colorbar(image, ax=ax, shrink=0.8, pad=0.02)
        colourbar.set_label("score, row-normalised (square-root scale)", fontsize=8)
        colourbar.ax.tick_params(labelsize=7)
    if title:
        set_title(figure, title)
    return save_figure(figure, path)
