"""Spots on a tissue section: coordinates, marker size, the tissue image, categorical spot panels."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dance.core.plotting.categorical import Colouring, legend_width, scatter_categories
from dance.core.plotting.figure import legend_outside, panel_figure, save_figure

if TYPE_CHECKING:
    from anndata import AnnData
    from matplotlib.axes import Axes

__all__ = ["frame_spots", "panel_shape", "plot_spot_panels", "spot_coordinates", "spot_pitch", "spot_size", "tissue_image"]


def tissue_image(adata: AnnData) -> tuple[Any, float] | None:
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


def spot_coordinates(adata: AnnData, key: str) -> tuple[Any, str]:
    """2-D coordinates of the spots and a note for the title.

    ``obsm[key]`` when present; otherwise the spots on a square grid in input order (pseudo-spots
    have no position), with the note saying so.
    """
    import numpy as np

    if key in adata.obsm:
        return np.asarray(adata.obsm[key], dtype=float)[:, :2], ""
    n = adata.n_obs
    side = int(np.ceil(np.sqrt(n)))
    grid = np.column_stack([np.arange(n) % side, -(np.arange(n) // side)]).astype(float)
    return grid, "no coordinates: spots in input order"


def spot_pitch(coords: Any) -> float:
    """Median distance between neighbouring spots (1 for a single spot)."""
    import numpy as np
    from scipy.spatial import cKDTree

    coords = np.asarray(coords, dtype=float)
    if len(coords) < 2:
        return 1.0
    distances, _ = cKDTree(coords).query(coords, k=2)
    return float(np.median(distances[:, 1])) or 1.0


def spot_size(coords: Any, panel_inches: float) -> float:
    """Marker area (points^2) at which neighbouring spots in a panel of ``panel_inches`` nearly touch."""
    import numpy as np

    coords = np.asarray(coords, dtype=float)
    pitch = spot_pitch(coords)
    span = max(float(np.ptp(coords[:, 0])), float(np.ptp(coords[:, 1])), pitch) + 2 * pitch
    return max(2.0, (0.9 * pitch / span * panel_inches * 72) ** 2)


def panel_shape(coords: Any, longest: float) -> tuple[float, float]:
    """``(width, height)`` inches of a map of the spots whose longer side is ``longest`` inches,
    following the section's shape (within 1:2.5), so wide sections leave no empty band."""
    import numpy as np

    coords = np.asarray(coords, dtype=float)
    pad = 2 * spot_pitch(coords)
    ratio = float(np.clip((np.ptp(coords[:, 1]) + pad) / (np.ptp(coords[:, 0]) + pad), 0.4, 2.5))
    return (longest, longest * ratio) if ratio <= 1 else (longest / ratio, longest)


def frame_spots(ax: Axes, coords: Any, *, image: tuple[Any, float] | None = None, y_down: bool | None = None) -> None:
    """Equal aspect, no ticks, one spot pitch of margin; the tissue image underneath when given.

    The y axis points down (image coordinates) when ``y_down`` (default: when there is an image).
    """
    import numpy as np

    coords = np.asarray(coords, dtype=float)
    if image is not None:
        picture, scale = image
        ax.imshow(picture, extent=(0, picture.shape[1] / scale, picture.shape[0] / scale, 0), alpha=0.6)
    pad = spot_pitch(coords)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xlim(coords[:, 0].min() - pad, coords[:, 0].max() + pad)
    low, high = coords[:, 1].min() - pad, coords[:, 1].max() + pad
    ax.set_ylim((high, low) if (image is not None if y_down is None else y_down) else (low, high))


def plot_spot_panels(
    coords: Any,
    colourings: Sequence[Colouring],
    path: str | Path,
    *,
    image: tuple[Any, float] | None = None,
    title: str = "",
    y_down: bool | None = None,
) -> Path:
    """Side-by-side maps of the spots, each coloured by a categorical value, legends outside.

    Parameters
    ----------
    coords
        Spots x 2 coordinates.
    colourings
        One per panel (e.g. predicted domains, annotated domains).
    path
        PNG to write.
    image
        ``(image, pixels per coordinate unit)`` of the tissue, drawn underneath (:func:`tissue_image`).
    title
        Figure title.
    y_down
        Whether the y axis points down (default: when there is an image).

    Returns
    -------
    Path
        ``path``.
    """
    import numpy as np

    coords = np.asarray(coords, dtype=float)
    width, height = panel_shape(coords, 5.0)
    figure, axes = panel_figure(1, [legend_width(c) for c in colourings], panel=width, panel_height=height, title=title)
    size = spot_size(coords, max(width, height))
    for ax, colouring in zip(axes[0], colourings, strict=True):
        frame_spots(ax, coords, image=image, y_down=y_down)
        handles = scatter_categories(ax, coords, colouring, size=size)
        ax.set_title(colouring.title, fontsize=10)
        legend_outside(ax, handles)
    return save_figure(figure, path)
