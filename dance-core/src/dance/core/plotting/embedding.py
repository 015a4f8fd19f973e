"""UMAP of a cell embedding and panels of it coloured by prediction, cell type, batch or modality."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dance.core.plotting.categorical import Colouring, legend_width, scatter_categories
from dance.core.plotting.figure import legend_outside, panel_figure, save_figure

if TYPE_CHECKING:
    from anndata import AnnData

    from dance.core.keys import DataKeys

__all__ = ["EmbeddingRow", "expression_embedding", "modality_panels", "plot_embedding_panels", "plot_umaps", "umap_coordinates"]

#: inches of one UMAP panel (square)
PANEL = 3.8


def umap_coordinates(embedding: Any, *, seed: int = 0, n_neighbors: int = 15) -> Any:
    """2-D UMAP coordinates of the rows of ``embedding`` (float32, cells x 2).

    The kNN graph is built like ``sc.pp.neighbors(use_rep=...)`` but with FAISS and NumPy
    (:func:`dance.core.transforms.graphs.knn_graph`, equal to scanpy's connectivities), which
    avoids pynndescent's multi-second compilation; the layout is ``sc.tl.umap`` with
    ``random_state=seed``, so the same embedding and seed give the same picture.

    Parameters
    ----------
    embedding
        Cells x dims (dense or sparse).
    seed
        UMAP's random state.
    n_neighbors
        Neighbours per cell (the cell included, as in scanpy); fewer for tiny inputs.

    Returns
    -------
    numpy.ndarray
        Cells x 2. Inputs of fewer than 4 cells, too small for UMAP, are returned as their first
        two dimensions.
    """
    import anndata as ad
    import numpy as np
    import scanpy as sc

    from dance.core.transforms.graphs import knn_graph

    x = np.asarray(embedding.toarray() if hasattr(embedding, "toarray") else embedding, dtype=np.float32)
    if x.ndim == 1:
        x = x[:, None]
    n = x.shape[0]
    if n < 4:
        padded = np.zeros((n, 2), dtype=np.float32)
        padded[:, : min(2, x.shape[1])] = x[:, :2]
        return padded
    # a bare AnnData: the graph and UMAP parameters scanpy adds stay out of the user's output
    work = ad.AnnData(obs={"_": np.zeros(n)}, obsm={"X_embedding": x})
    knn_graph(work, n_neighbors=int(min(n_neighbors, n - 1)), use_rep="X_embedding", seed=seed)
    sc.tl.umap(work, random_state=seed)
    return np.asarray(work.obsm["X_umap"], dtype=np.float32)


@dataclass(frozen=True)
class EmbeddingRow:
    """One row of panels: 2-D coordinates of the cells, what each panel colours them by, and the
    axis name (``"UMAP"`` labels the axes UMAP1 and UMAP2)."""

    coords: Any
    colourings: Sequence[Colouring]
    label: str = "UMAP"


def _point_size(n: int) -> float:
    # half scanpy's 120,000 / cells: clusters of a few thousand cells keep their shape instead of
    # merging into blobs; bounded so tiny and huge inputs stay visible
    return float(min(40.0, max(0.3, 60_000 / max(n, 1))))


def plot_embedding_panels(rows: Sequence[EmbeddingRow], path: str | Path, *, title: str = "", seed: int = 0) -> Path:
    """Square scatter panels of 2-D cell coordinates, one row per embedding, legends outside.

    Parameters
    ----------
    rows
        Each row has its own coordinates (e.g. UMAP before and after integration) and panels.
    path
        PNG to write.
    title
        Figure title (model, dataset and headline metric: :meth:`PlotContext.title`).
    seed
        Drawing order of the points.

    Returns
    -------
    Path
        ``path``.
    """
    import numpy as np

    n_columns = max(len(row.colourings) for row in rows)
    # each column leaves room for its widest legend: a two-batch legend leaves no gap beside a
    # 40-type one
    legends = [max((legend_width(row.colourings[c]) for row in rows if c < len(row.colourings)), default=0.0) for c in range(n_columns)]
    figure, axes = panel_figure(len(rows), legends, panel=PANEL, title=title)
    for r, row in enumerate(rows):
        coords = np.asarray(row.coords, dtype=float)
        size = _point_size(len(coords))
        for c in range(n_columns):
            ax = axes[r][c]
            if c >= len(row.colourings):
                ax.set_axis_off()
                continue
            colouring = row.colourings[c]
            handles = scatter_categories(ax, coords, colouring, size=size, seed=seed)
            ax.set_title(colouring.title, fontsize=10)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_xlabel(f"{row.label}1", fontsize=8)
            ax.set_ylabel(f"{row.label}2", fontsize=8)
            if handles:
                legend_outside(ax, handles)
    return save_figure(figure, path)


def plot_umaps(
    embeddings: Mapping[str, Any], colourings: Sequence[Colouring], path: str | Path, *, title: str = "", seed: int = 0
) -> dict[str, Any]:
    """UMAP of each embedding, one row of panels per embedding, each panel one colouring.

    Parameters
    ----------
    embeddings
        Cells x dims arrays by name (e.g. ``{"unintegrated PCA": ..., "X_harmony": ...}``); with
        several, each panel title starts with the embedding's name.
    colourings
        What the cells are coloured by (prediction, cell type, batch, modality); with none, one
        panel of uncoloured cells.
    path
        PNG to write.
    title
        Figure title (:meth:`PlotContext.title`).
    seed
        UMAP's random state and the drawing order.

    Returns
    -------
    dict
        The UMAP coordinates (cells x 2) of each embedding, by name, to store as ``obsm['X_umap']``.
    """
    import numpy as np

    coords = {name: umap_coordinates(embedding, seed=seed) for name, embedding in embeddings.items()}
    rows = []
    for name, xy in coords.items():
        shown = list(colourings) or [Colouring("cells (nothing to colour by)", np.full(len(xy), "cell", dtype=object))]
        if len(coords) > 1:
            shown = [replace(colouring, title=f"{name}: {colouring.title}") for colouring in shown]
        rows.append(EmbeddingRow(xy, shown))
    plot_embedding_panels(rows, path, title=title, seed=seed)
    return coords


def expression_embedding(adata: AnnData, keys: DataKeys, *, seed: int = 0) -> Any:
    """PCA (50 components) of log-normalised, scaled expression of the 2,000 most variable genes.

    What is drawn for models that keep no embedding of their own (``embedding_``): the standard
    scanpy view of the data, computed on a copy exactly as
    :func:`dance.core.transforms.representation.unintegrated_embedding` computes it.
    """
    from dance.core.transforms.representation import unintegrated_embedding

    return unintegrated_embedding(adata, keys, seed=seed)


def modality_panels(sizes: tuple[int, int], labels: tuple[Any | None, Any | None], names: tuple[str, str]) -> list[Colouring]:
    """Panels for the cells of two modalities stacked in one embedding (mod1's rows first).

    One panel by modality, then one per modality with known labels: its cells coloured by cell
    type, the other modality's grey underneath, the same type in the same colour in both, so
    aligned types sit in the same place in the two panels.

    Parameters
    ----------
    sizes
        Number of cells of each modality.
    labels
        Cell type of each cell of each modality, or None where unknown.
    names
        The modalities' names.
    """
    import numpy as np

    from dance.core.plotting.palette import category_colours

    panels = [Colouring("modality", np.repeat(list(names), list(sizes)).astype(object))]
    known = [np.asarray(values, dtype=object) for values in labels if values is not None]
    colours = category_colours(np.concatenate(known)) if known else {}
    for side in (0, 1):
        if labels[side] is None:
            continue
        values = np.full(sum(sizes), None, dtype=object)
        start = 0 if side == 0 else sizes[0]
        values[start : start + sizes[side]] = np.asarray(labels[side], dtype=object)
        panels.append(Colouring(f"cell type, {names[side]} cells", values, colours=colours, missing=f"{names[1 - side]} cells"))
    return panels
