"""Every dataset of dance-single loads, with the conventional keys, from local files."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from dance.core import load_dataset, registry
from dance.core.keys import DataKeys

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


IMPUTATION = {
    # name: (n_obs, n_vars after dropping genes without counts, n_cell_types, unlabelled cells)
    "pbmc4k_10x": (4271, 2000, 8, 0),
    "worm_neuron_all_genes": (4186, 13488, 10, 0),
    "mouse_bladder_2100": (2100, 19079, 16, 0),
    "cbmc_citeseq": (8617, 2000, 15, 0),
    "cite_pbmc10k_rna": (6661, 1000, 5, 120),
    "snareseq_chen2019_rna": (10309, 1677, 23, 0),
}


@pytest.mark.parametrize("name", sorted(IMPUTATION))
def test_imputation_datasets_are_rna_counts_with_cell_types(name, shared_data_env):
    n_obs, n_vars, n_types, unlabelled = IMPUTATION[name]
    adata = load_dataset(name, "imputation")
    assert adata.shape == (n_obs, n_vars)
    assert adata.obs["cell_type"].nunique() == n_types and adata.obs["cell_type"].isna().sum() == unlabelled
    assert not adata.obsm  # no proteins or embeddings next to the counts
    registry.contract("imputation").validate(adata, DataKeys(), stage="evaluate")  # counts, no gene without counts


def test_imputation_datasets_of_dance_that_are_not_offline_are_listed_with_their_urls():
    """DANCE's mouse brain (10x neuron_10k_v3) and mouse embryo (GSE65525) sets: registered with their
    upstream URLs, hashes pinned at first download, and never needed by a test or a default run."""
    listed = {d.name: d for d in registry.datasets("imputation")}
    brain, embryo = listed["mouse_brain_10k_v3"], listed["mouse_embryo_klein2015"]
    assert brain.files[0].url == (
        "https://cf.10xgenomics.com/samples/cell-exp/3.0.0/neuron_10k_v3/neuron_10k_v3_filtered_feature_bc_matrix.h5"
    )
    assert [f.filename for f in embryo.files] == [
        "GSM1599494_ES_d0_main.csv.bz2",
        "GSM1599497_ES_d2_LIFminus.csv.bz2",
        "GSM1599498_ES_d4_LIFminus.csv.bz2",
        "GSM1599499_ES_d7_LIFminus.csv.bz2",
    ]
    assert all(f.url.startswith("https://ftp.ncbi.nlm.nih.gov/geo/samples/GSM1599nnn/") for f in embryo.files)
    for spec in (brain, embryo):
        assert all(f.sha256 is None for f in spec.files) and "pinned at first download" in spec.description
    assert registry.default_dataset("imputation").name == "pbmc4k_10x"


def test_offline_only_imputation_datasets_say_so_without_a_download(tmp_path, monkeypatch):
    from dance.core.errors import DataFileMissingError

    monkeypatch.setenv("DANCE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("DANCE_CACHE_DIR", str(tmp_path / "cache"))
    for name in ("mouse_brain_10k_v3", "mouse_embryo_klein2015"):
        with pytest.raises(DataFileMissingError):
            load_dataset(name, "imputation", download=False)


def test_klein_loader_reads_the_geo_layout(tmp_path):
    """GSE65525: per day a bz2 CSV of genes x cells counts, no header, gene names first."""
    import bz2

    from dance.single.loaders import load_klein_es

    files = {}
    for name, cells in (("GSM1599494_ES_d0_main.csv.bz2", 2), ("GSM1599497_ES_d2_LIFminus.csv.bz2", 1)):
        rows = [f"Gene{g}," + ",".join(str(g * 10 + c) for c in range(cells)) for g in range(3)]
        rows.append("Empty," + ",".join("0" for _ in range(cells)))
        path = tmp_path / name
        path.write_bytes(bz2.compress(("\n".join(rows) + "\n").encode()))
        files[f"imputation/GSE65525/{name}"] = path
    adata = load_klein_es(files, "imputation")
    assert adata.obs["cell_type"].tolist() == ["d0", "d0", "d2"]
    assert list(adata.var_names) == ["Gene0", "Gene1", "Gene2"]  # the gene without counts is dropped
    assert adata.X.toarray().tolist() == [[0, 10, 20], [1, 11, 21], [0, 10, 20]]


def test_10x_loader_reads_a_cell_ranger_matrix(shared_data_env):
    from dance.single.loaders import load_10x_h5_counts

    path = shared_data_env / "spatial" / "visium_tiny_10x" / "filtered_feature_bc_matrix.h5"
    adata = load_10x_h5_counts({"imputation/x.h5": path}, "imputation")
    assert adata.shape == (100, 47) and sp.issparse(adata.X)  # the genes without counts dropped
    assert (np.asarray((adata.X != 0).sum(axis=0)).ravel() > 0).all()
