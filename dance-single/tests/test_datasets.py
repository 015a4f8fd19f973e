"""Every dataset of dance-single loads, with the conventional keys, from local files."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dance.core import load_dataset, registry

LOCAL = {
    # name: (task, n_obs, n_vars, n_cell_types)
    "pbmc4k_10x": ("clustering", 4271, 2000, 8),
    "worm_neuron": ("clustering", 4186, 2000, 10),
    "mouse_bladder": ("clustering", 2746, 2003, 16),
    "worm_neuron_all_genes": ("clustering", 4186, 13488, 10),
    "mouse_bladder_2100": ("clustering", 2100, 20670, 16),
    "bmmc_cite_gex": ("cell_type_annotation", 600, 1000, 41),
    "cbmc_citeseq": ("cell_type_annotation", 8617, 2000, 15),
    "pbmc68k_reduced": ("cell_type_annotation", 700, 765, 10),
}


@pytest.mark.parametrize("name", sorted(LOCAL))
def test_local_datasets_load(name, shared_data_env):
    task, n_obs, n_vars, n_types = LOCAL[name]
    adata = load_dataset(name, task)
    assert adata.shape == (n_obs, n_vars)
    assert adata.obs["cell_type"].nunique() == n_types


def test_bmmc_annotation_split_is_by_donor():
    adata = load_dataset("bmmc_cite_gex", "cell_type_annotation")  # embedded in the wheel
    assert (adata.obs.loc[adata.obs["split"] == "train", "batch"] == "s1d1").all()
    assert (adata.obs["split"] == "test").sum() == 289 and "counts" in adata.layers


def test_kang_batches(shared_data_env):
    adata = load_dataset("kang_pbmc_stim", "batch_integration")
    assert sorted(adata.obs["batch"].unique()) == ["CTRL", "STIM"] or adata.obs["batch"].nunique() == 2


def test_every_dataset_has_files_with_checksums_or_a_pin_note():
    for spec in registry.datasets():
        if spec.plugin != "single":
            continue
        for file in spec.files:
            assert file.url or file.source, (spec.name, file.path)
            assert file.sha256 or "pinned" in spec.description, (spec.name, file.path)


def test_mca_loader_reads_the_real_layout(tmp_path):
    """DANCE's MCA files: genes x cells count CSVs, cell-type CSVs with a Cell_type column."""
    from dance.single.loaders import load_mca

    def write(split: str, dataset: str, cells: list[str], genes: list[str], types: list[str]):
        folder = tmp_path / "mca" / split
        folder.mkdir(parents=True, exist_ok=True)
        counts = pd.DataFrame(np.arange(len(genes) * len(cells)).reshape(len(genes), len(cells)), index=genes, columns=cells)
        counts.to_csv(folder / f"mouse_Brain{dataset}_data.csv")
        labels = pd.DataFrame({"Cell": cells, "Cell_type": types, "Cluster_id": 1}).set_index("Cell")
        labels.to_csv(folder / f"mouse_Brain{dataset}_celltype.csv")
        return {
            f"mca/{split}/mouse_Brain{dataset}_data.csv": folder / f"mouse_Brain{dataset}_data.csv",
            f"mca/{split}/mouse_Brain{dataset}_celltype.csv": folder / f"mouse_Brain{dataset}_celltype.csv",
        }

    files = write("train", "753", ["c1", "c2"], ["Gad1", "Snap25", "Mbp"], ["Neuron", "Astrocyte"])
    files |= write("test", "2695", ["c3"], ["Mbp", "Olig2"], ["Oligodendrocyte"])
    adata = load_mca(files, "cell_type_annotation")
    assert list(adata.var_names) == ["Gad1", "Snap25", "Mbp"]
    assert adata.obs["split"].tolist() == ["train", "train", "test"]
    assert adata.obs["cell_type"].tolist() == ["Neuron", "Astrocyte", "Oligodendrocyte"]
    test_row = adata[adata.obs["split"] == "test"].X.toarray().ravel()
    assert test_row.tolist() == [0, 0, 0]  # Mbp count 0 in the test file; genes absent from training are dropped
