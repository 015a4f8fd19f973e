from __future__ import annotations

import shutil

import numpy as np
import pytest

from dance.core.containers import Modalities
from dance.core.data.readers import read_any, read_h5ad
from dance.core.data.visium import read_visium
from dance.core.errors import DanceInputError


def test_corrupt_h5ad_gives_one_clear_error(tmp_path):
    path = tmp_path / "broken.h5ad"
    path.write_bytes(b"this is not HDF5 at all")
    with pytest.raises(DanceInputError, match=r"broken.h5ad is not a readable .h5ad file"):
        read_h5ad(path)
    assert path.read_bytes() == b"this is not HDF5 at all"


def test_missing_file(tmp_path):
    with pytest.raises(DanceInputError, match="no such file"):
        read_any(tmp_path / "absent.h5ad")


def test_unsupported_suffix(tmp_path):
    path = tmp_path / "table.csv"
    path.write_text("a,b\n")
    with pytest.raises(DanceInputError, match=r"unsupported file type '\.csv'"):
        read_any(path)


def test_h5mu_modalities(shared_data):
    data = read_any(shared_data / "multimodal" / "CiteFuse_CITEseq_example.h5mu")
    assert isinstance(data, Modalities) and data.names == ("RNA", "ADT")
    assert data.mod1.shape == (500, 19521) and data.mod2.shape == (500, 49) and data.paired


def test_labelled_h5(shared_data):
    adata = read_any(shared_data / "clustering" / "10X_PBMC_top2000.h5")
    assert adata.shape == (4271, 2000) and adata.obs["cell_type"].nunique() == 8
    assert np.allclose(adata.X, np.round(adata.X))


def test_visium_old_layout(shared_data):
    adata = read_visium(shared_data / "spatial" / "visium_tiny_10x")
    assert adata.obsm["spatial"].shape == (adata.n_obs, 2) and adata.n_obs > 0
    library = next(iter(adata.uns["spatial"].values()))
    assert library["scalefactors"]["spot_diameter_fullres"] > 0
    assert adata.obsm["spatial"][0].tolist() == [9811.0, 8513.0]  # x = pixel column, y = pixel row


def test_visium_new_layout_with_header(shared_data, tmp_path):
    source = shared_data / "spatial" / "visium_tiny_10x"
    folder = tmp_path / "outs"
    (folder / "spatial").mkdir(parents=True)
    shutil.copy(source / "filtered_feature_bc_matrix.h5", folder)
    shutil.copy(source / "scalefactors_json.json", folder / "spatial")
    lines = (source / "tissue_positions_list.csv").read_text()
    header = "barcode,in_tissue,array_row,array_col,pxl_row_in_fullres,pxl_col_in_fullres\n"
    (folder / "spatial" / "tissue_positions.csv").write_text(header + lines)
    new, old = read_visium(folder), read_visium(source)
    assert np.array_equal(new.obsm["spatial"], old.obsm["spatial"])


def test_visium_folder_without_positions(shared_data, tmp_path):
    shutil.copy(shared_data / "spatial" / "visium_tiny_10x" / "filtered_feature_bc_matrix.h5", tmp_path)
    with pytest.raises(DanceInputError, match="spot positions are missing"):
        read_visium(tmp_path)


def test_a_space_ranger_folder_is_checksummed_over_the_files_it_reads(shared_data, tmp_path):
    from dance.core.data.checksum import files_checksum
    from dance.core.data.visium import visium_files

    source = shared_data / "spatial" / "visium_tiny_10x"
    files = visium_files(source)
    assert [p.name for p in files] == ["filtered_feature_bc_matrix.h5", "tissue_positions_list.csv", "scalefactors_json.json"]
    copy = tmp_path / "outs"
    shutil.copytree(source, copy)
    assert files_checksum(visium_files(copy)) == files_checksum(files)
    (copy / "scalefactors_json.json").write_text((copy / "scalefactors_json.json").read_text().replace("}", ', "note": 1}'))
    assert files_checksum(visium_files(copy)) != files_checksum(files)
