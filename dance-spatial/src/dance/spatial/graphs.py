"""Spatial geometry shared by the spatial models: lattice spacing, tissue images, SpaGCN's
histology-aware coordinates and Gaussian spot graphs, stLearn's morphology tiles.

Coordinates are ``obsm[keys.spatial_key]``; for Visium data read by
:func:`dance.core.data.visium.read_visium` they are full-resolution pixels (x = column,
y = row) and ``uns['spatial'][library]`` holds the images and their ``scalefactors``.

* :func:`histology_coordinates` (registered transform ``histology_coordinates``) adds SpaGCN's
  third coordinate, the scaled colour intensity of the tissue around each spot (Hu et al. 2021,
  Nat Methods 18:1342-1351, Methods "Calculating the adjacency matrix"), so distances between
  spots reflect histology as well as position.
* :func:`gaussian_adjacency` and :func:`search_length_scale` build SpaGCN's weighted graph
  ``exp(-d^2 / 2 l^2)`` with ``l`` chosen so that the average total weight of a spot's
  neighbours equals a target ``p``.
* :func:`morphology_features` gives each spot a feature vector of the image tile under it (used
  by stLearn's SME normalisation).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from dance.core import validation as v
from dance.core.errors import DanceInputError

if TYPE_CHECKING:
    from anndata import AnnData

    from dance.core.keys import DataKeys

__all__ = [
    "SpotImage",
    "gaussian_adjacency",
    "histology_coordinates",
    "histology_intensity",
    "lattice_neighbours",
    "morphology_features",
    "neighbour_fraction",
    "pairwise_distances",
    "search_length_scale",
    "spot_image",
    "spot_spacing",
]


def spot_spacing(coords: np.ndarray) -> float:
    """Median distance between a spot and its nearest neighbour (the lattice pitch)."""
    from dance.core.neighbors import knn

    coords = np.asarray(coords, dtype=np.float64)
    if coords.shape[0] < 2:
        return 1.0
    _, distances = knn(coords, 2)
    spacing = float(np.median(distances[:, 1]))
    return spacing if spacing > 0 else 1.0


def lattice_neighbours(coords: np.ndarray) -> int:
    """Direct neighbours of a spot on the array: 6 on a hexagonal lattice (Visium), 4 on a square one (ST).

    Counted as the median number of spots within 1.2 x the lattice pitch, rounded to 4 or 6.
    """
    from dance.core.neighbors import radius_neighbors

    coords = np.asarray(coords, dtype=np.float64)
    if coords.shape[0] < 7:
        return 4
    radius = 1.2 * spot_spacing(coords)
    counts = np.diff(radius_neighbors(coords, radius).indptr)
    return 6 if np.median(counts) > 4.5 else 4


def pairwise_distances(coords: np.ndarray) -> np.ndarray:
    """Dense Euclidean distances between all spots (float32)."""
    from scipy.spatial.distance import cdist

    coords = np.asarray(coords, dtype=np.float64)
    return cdist(coords, coords).astype(np.float32)


# ---------------------------------------------------------------------- images
class SpotImage:
    """A tissue image and where each spot lies on it.

    Attributes
    ----------
    image
        ``height x width x channels`` array (RGB, values as read).
    rows, cols
        Pixel position of each spot on ``image``.
    scale
        Image pixels per coordinate unit (``tissue_hires_scalef`` for the hires image).
    spot_diameter
        Spot diameter in image pixels (from ``spot_diameter_fullres``; 1 pitch when unknown).
    """

    def __init__(self, image: np.ndarray, rows: np.ndarray, cols: np.ndarray, scale: float, spot_diameter: float) -> None:
        self.image = image
        self.rows = rows
        self.cols = cols
        self.scale = scale
        self.spot_diameter = spot_diameter


def spot_image(adata: AnnData, keys: DataKeys, *, prefer: tuple[str, ...] = ("hires", "lowres")) -> SpotImage | None:
    """The tissue image of ``adata`` (Space Ranger layout in ``uns['spatial']``), or None.

    Coordinates are taken as full-resolution pixels and mapped to the image with its scale
    factor (``tissue_hires_scalef`` / ``tissue_lowres_scalef``).
    """
    libraries = adata.uns.get("spatial")
    if not isinstance(libraries, dict) or not libraries:
        return None
    coords = v.require_obsm(adata, keys.spatial_key, what="spot coordinates", min_cols=2, option="spatial_key")
    for library in libraries.values():
        if not isinstance(library, dict):
            continue
        images = library.get("images") or {}
        factors = library.get("scalefactors") or {}
        for resolution in prefer:
            image = images.get(resolution)
            if image is None:
                continue
            image = np.asarray(image)
            if image.ndim == 2:
                image = image[:, :, None]
            scale = float(factors.get(f"tissue_{resolution}_scalef", 1.0))
            cols = np.rint(coords[:, 0] * scale).astype(int)
            rows = np.rint(coords[:, 1] * scale).astype(int)
            if rows.min() < 0 or cols.min() < 0 or rows.max() >= image.shape[0] or cols.max() >= image.shape[1]:
                raise DanceInputError(
                    f"spot coordinates fall outside the {resolution} image ({image.shape[1]} x {image.shape[0]} pixels at scale "
                    f"{scale:g}); obsm['{keys.spatial_key}'] must be full-resolution pixels (x = column, y = row)",
                    field=f"obsm['{keys.spatial_key}']",
                )
            diameter = float(factors.get("spot_diameter_fullres", 0.0)) * scale
            if diameter <= 0:
                diameter = spot_spacing(coords) * scale
            return SpotImage(image[:, :, :3], rows, cols, scale, max(diameter, 1.0))
    return None


def histology_intensity(image: SpotImage, *, beta: float = 49.0) -> np.ndarray:
    """SpaGCN's colour value of each spot: the mean RGB of the ``beta`` x ``beta`` square (full-resolution
    pixels) around it, channels averaged with weights proportional to their variance across spots."""
    half = max(1, round(beta * image.scale / 2))
    img = image.image.astype(np.float64)
    # summed-area table: the mean of any square is four lookups
    table = np.zeros((img.shape[0] + 1, img.shape[1] + 1, img.shape[2]))
    table[1:, 1:] = img.cumsum(0).cumsum(1)
    top = np.clip(image.rows - half, 0, img.shape[0])
    bottom = np.clip(image.rows + half + 1, 0, img.shape[0])
    left = np.clip(image.cols - half, 0, img.shape[1])
    right = np.clip(image.cols + half + 1, 0, img.shape[1])
    sums = table[bottom, right] - table[top, right] - table[bottom, left] + table[top, left]
    area = ((bottom - top) * (right - left)).clip(min=1)[:, None]
    means = sums / area
    variances = means.var(axis=0)
    if variances.sum() <= 0:
        return means.mean(axis=1)
    return (means * variances).sum(axis=1) / variances.sum()


def histology_coordinates(
    adata: AnnData,
    *,
    keys: DataKeys,
    beta: float = 49.0,
    alpha: float = 1.0,
    key_added: str = "spatial_histology",
) -> AnnData:
    """SpaGCN's histology-aware coordinates in ``obsm[key_added]``: ``(x, y, z)`` where ``z`` is
    the standardised colour intensity of the tissue around the spot scaled to ``alpha`` times the
    larger spread of ``x`` and ``y`` (Hu et al. 2021). Without an image, ``(x, y)``.

    ``uns['histology']`` records whether an image was used.
    """
    coords = np.asarray(
        v.require_obsm(adata, keys.spatial_key, what="spot coordinates", min_cols=2, option="spatial_key"), dtype=np.float64
    )
    coords = coords[:, :2]
    image = spot_image(adata, keys)
    if image is None:
        adata.obsm[key_added] = coords.copy()
        adata.uns["histology"] = {"used": False, "reason": "no tissue image in uns['spatial']"}
        return adata
    colour = histology_intensity(image, beta=beta)
    spread = colour.std()
    z = (colour - colour.mean()) / spread if spread > 0 else np.zeros_like(colour)
    z = z * max(coords[:, 0].std(), coords[:, 1].std()) * alpha
    adata.obsm[key_added] = np.column_stack([coords, z])
    adata.uns["histology"] = {"used": True, "beta": float(beta), "alpha": float(alpha), "image_scale": image.scale}
    return adata


# ---------------------------------------------------------------------- SpaGCN's Gaussian graph
def gaussian_adjacency(distances: np.ndarray, length_scale: float) -> np.ndarray:
    """``exp(-d^2 / (2 l^2))`` for every pair of spots (the diagonal is 1)."""
    d = np.asarray(distances, dtype=np.float64)
    return np.exp(-(d**2) / (2.0 * length_scale**2)).astype(np.float32)


def neighbour_fraction(distances: np.ndarray, length_scale: float) -> float:
    """Average over spots of the summed weight of all other spots: SpaGCN's ``p``."""
    d = np.asarray(distances, dtype=np.float64)
    return float(np.exp(-(d**2) / (2.0 * length_scale**2)).sum(axis=1).mean() - 1.0)


def search_length_scale(
    distances: np.ndarray, p: float = 0.5, *, start: float = 0.01, end: float = 1000.0, tol: float = 0.01, max_run: int = 100
) -> float:
    """The length scale ``l`` at which :func:`neighbour_fraction` is within ``tol`` of ``p``.

    Bisection between ``start`` and ``end`` (SpaGCN's ``search_l``; ``p`` grows with ``l``).
    When ``end`` is too small it is doubled until the target is bracketed. After ``max_run``
    halvings the closer end is returned.
    """
    low, high = float(start), float(end)
    p_low, p_high = neighbour_fraction(distances, low), neighbour_fraction(distances, high)
    if p_low > p + tol:
        raise DanceInputError(f"SpaGCN: even l={low:g} gives p={p_low:.3g} > {p:g}; spots are too close together", field="p")
    while p_high < p - tol:
        high *= 2
        p_high = neighbour_fraction(distances, high)
        if high > 1e12:
            raise DanceInputError("SpaGCN: no length scale reaches the target p (are all spots at one place?)", field="p")
    if abs(p_low - p) <= tol:
        return low
    if abs(p_high - p) <= tol:
        return high
    for _ in range(max_run):
        mid = (low + high) / 2
        p_mid = neighbour_fraction(distances, mid)
        if abs(p_mid - p) <= tol:
            return mid
        if p_mid < p:
            low, p_low = mid, p_mid
        else:
            high, p_high = mid, p_mid
    return low if abs(p_low - p) <= abs(p_high - p) else high


# ---------------------------------------------------------------------- stLearn's morphology tiles
def morphology_features(image: SpotImage, *, tile_pixels: int = 16, n_components: int = 50, seed: int = 0) -> np.ndarray:
    """One feature vector per spot from the image tile under it.

    Each tile (one spot diameter wide) is averaged down to ``tile_pixels`` x ``tile_pixels`` RGB
    values and the tiles are reduced by PCA to ``n_components``. stLearn extracts tile features
    with an ImageNet ResNet50 instead; pretrained weights are not shipped with dance, so these
    features capture colour and texture at a coarser level.
    """
    from sklearn.decomposition import PCA

    img = image.image.astype(np.float64)
    if img.max() > 1.5:
        img = img / 255.0
    half = max(1.0, image.spot_diameter / 2)
    table = np.zeros((img.shape[0] + 1, img.shape[1] + 1, img.shape[2]))
    table[1:, 1:] = img.cumsum(0).cumsum(1)
    offsets = np.linspace(-half, half, tile_pixels + 1)
    # block edges of every tile; each block is at least one pixel
    r_edges = np.clip(np.rint(image.rows[:, None] + offsets[None, :]).astype(int), 0, img.shape[0] - 1)
    c_edges = np.clip(np.rint(image.cols[:, None] + offsets[None, :]).astype(int), 0, img.shape[1] - 1)
    r0, r1 = r_edges[:, :-1], np.maximum(r_edges[:, 1:], r_edges[:, :-1] + 1)
    c0, c1 = c_edges[:, :-1], np.maximum(c_edges[:, 1:], c_edges[:, :-1] + 1)
    a0, a1, b0, b1 = r0[:, :, None], r1[:, :, None], c0[:, None, :], c1[:, None, :]
    sums = table[a1, b1] - table[a0, b1] - table[a1, b0] + table[a0, b0]
    area = ((a1 - a0) * (b1 - b0))[..., None]
    tiles = (sums / area).reshape(len(image.rows), -1).astype(np.float32)
    n = int(min(n_components, tiles.shape[0] - 1, tiles.shape[1]))
    if n < 1:
        return tiles
    return PCA(n_components=n, random_state=seed).fit_transform(tiles).astype(np.float32)


def as_dense(matrix: Any) -> np.ndarray:
    """A dense float array of a dense or sparse matrix."""
    import scipy.sparse as sp

    return np.asarray(matrix.toarray() if sp.issparse(matrix) else matrix)
