from __future__ import annotations

import anndata as ad
import numpy as np
from figure_checks import read_png

from dance.core.plotting.categorical import Colouring
from dance.core.plotting.spots import panel_shape, plot_spot_panels, spot_coordinates, spot_pitch, tissue_image


def spots_with_image() -> ad.AnnData:
    adata = ad.AnnData(np.zeros((4, 1), dtype=np.float32))
    adata.obsm["spatial"] = np.array([[10.0, 10.0], [30.0, 10.0], [10.0, 30.0], [30.0, 30.0]])
    image = np.full((20, 20, 3), 0.5, dtype=np.float32)
    adata.uns["spatial"] = {"lib": {"images": {"lowres": image}, "scalefactors": {"tissue_lowres_scalef": 0.5}}}
    return adata


def test_tissue_image_and_its_scale():
    image, scale = tissue_image(spots_with_image())
    assert image.shape == (20, 20, 3) and scale == 0.5
    assert tissue_image(ad.AnnData(np.zeros((2, 1), dtype=np.float32))) is None


def test_spots_without_coordinates_are_laid_on_a_grid():
    coords, note = spot_coordinates(ad.AnnData(np.zeros((10, 1), dtype=np.float32)), "spatial")
    assert coords.shape == (10, 2) and len({tuple(c) for c in coords}) == 10 and "no coordinates" in note
    coords, note = spot_coordinates(spots_with_image(), "spatial")
    assert note == "" and spot_pitch(coords) == 20.0


def test_panels_follow_the_section_shape():
    wide = np.column_stack([np.arange(40) % 20, np.arange(40) // 20]).astype(float)
    width, height = panel_shape(wide, 5.0)
    assert width == 5.0 and height < 2.5
    assert panel_shape(wide[:, ::-1], 5.0)[1] == 5.0


def test_spot_panels_over_the_tissue_image(tmp_path):
    adata = spots_with_image()
    panels = [Colouring("domains", np.array(["1", "1", "2", None], dtype=object), missing="not annotated")]
    plot_spot_panels(adata.obsm["spatial"], panels, tmp_path / "s.png", image=tissue_image(adata), title="spatial")
    read_png(tmp_path / "s.png", min_width=400)
