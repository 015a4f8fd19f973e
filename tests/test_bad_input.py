"""Bad input: one clear error naming the field, exit status 2, and the input file untouched."""

from __future__ import annotations

import numpy as np
import pytest
from support import dance, sha256

from dance.core.testing import synthetic_data


def check_refused(completed, *fragments: str) -> None:
    assert completed.returncode == 2, (completed.stdout, completed.stderr)
    lines = [line for line in completed.stderr.strip().splitlines() if line.strip()]
    assert lines[0].startswith("error:") and "Traceback" not in completed.stderr
    message = " ".join(completed.stderr.split())
    for fragment in fragments:
        assert fragment in message, message


@pytest.fixture
def h5ad(tmp_path):
    def write(adata, name="input.h5ad"):
        path = tmp_path / name
        adata.write_h5ad(path)
        return path, sha256(path)

    return write


def test_missing_label_column(h5ad, tmp_path):
    adata = synthetic_data("cell_type_annotation")
    del adata.obs["cell_type"]
    path, digest = h5ad(adata)
    check_refused(
        dance("run", "cell_type_annotation", "--data", str(path), "-o", str(tmp_path / "o")), "obs['cell_type'] is missing", "--label-key"
    )
    assert sha256(path) == digest


def test_negative_values_where_counts_are_required(h5ad, tmp_path):
    adata = synthetic_data("imputation")
    adata.X[3, 2] = -1.0
    path, digest = h5ad(adata)
    check_refused(dance("run", "imputation", "--data", str(path), "-o", str(tmp_path / "o")), "X has negative values", "raw counts")
    assert sha256(path) == digest


def _imputation_input(change):
    adata = synthetic_data("imputation")
    change(adata)
    return adata


@pytest.mark.parametrize(
    ("change", "fragments"),
    [
        # log-normalised values where counts are required
        (lambda a: setattr(a, "X", np.log1p(a.X / a.X.sum(axis=1, keepdims=True) * 1e4)), ("X holds non-integer values", "raw counts")),
        # nothing to hold out: no cell with more than 5 non-zero counts
        (lambda a: a.X.__setitem__((slice(None), slice(5, None)), 0.0), ("X has no cell with more than 5 non-zero counts",)),
        # a gene without any count
        (lambda a: a.X.__setitem__((slice(None), 4), 0.0), ("X has 1 gene(s) with no counts in any cell (e.g. 'gene_4')", "filter_genes")),
    ],
    ids=["log-normalised", "too-few-non-zeros", "all-zero-gene"],
)
def test_imputation_refuses_input_it_cannot_hold_entries_out_of(h5ad, tmp_path, change, fragments):
    path, digest = h5ad(_imputation_input(change))
    check_refused(dance("run", "imputation", "--data", str(path), "-o", str(tmp_path / "o")), *fragments)
    assert sha256(path) == digest


def test_nan_in_the_matrix(h5ad, tmp_path):
    adata = synthetic_data("clustering")
    adata.X[0, 0] = np.nan
    path, digest = h5ad(adata)
    check_refused(dance("run", "clustering", "--data", str(path), "-o", str(tmp_path / "o")), "NaN")
    assert sha256(path) == digest


def test_cells_that_do_not_match_between_modalities(h5ad, tmp_path):
    data = synthetic_data("joint_embedding")
    data.mod2.obs_names = [f"x{i}" for i in range(data.mod2.n_obs)]
    first, d1 = h5ad(data.mod1, "rna.h5ad")
    second, d2 = h5ad(data.mod2, "adt.h5ad")
    check_refused(
        dance("run", "joint_embedding", "--data", str(first), "--data2", str(second), "-o", str(tmp_path / "o")),
        "mod2.obs_names do not match",
    )
    assert (sha256(first), sha256(second)) == (d1, d2)


def test_corrupt_h5ad(tmp_path):
    path = tmp_path / "corrupt.h5ad"
    path.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\x00" * 64)
    digest = sha256(path)
    check_refused(dance("run", "clustering", "--data", str(path)), "corrupt.h5ad is not a readable .h5ad file")
    assert sha256(path) == digest


def test_unknown_model_name():
    check_refused(dance("run", "clustering", "--model", "leidn"), "unknown model 'leidn'", "did you mean 'leiden'")


def test_unknown_task_name():
    check_refused(dance("run", "clusterng"), "unknown task 'clusterng'", "did you mean 'clustering'")


def test_unknown_dataset_name():
    check_refused(dance("run", "clustering", "--dataset", "pbmc_4k"), "unknown dataset 'pbmc_4k'", "pbmc4k_10x")


def test_missing_reference_for_deconvolution(h5ad, tmp_path):
    spots, _ = h5ad(synthetic_data("cell_type_deconvolution").spots, "spots.h5ad")
    check_refused(dance("run", "cell_type_deconvolution", "--data", str(spots)), "--reference")


def test_unknown_parameter():
    check_refused(dance("run", "clustering", "--set", "n_neighbours=10"), "unknown parameter 'n_neighbours'", "did you mean 'n_neighbors'")


def _unpaired_rna_atac(tmp_path, *, peak_names=None, gene_names=None, strand="+", chrom="chr1", lognormal_atac=False):
    """Two small files and an annotation table: genes G0.. every 10 kb on chr1, a peak in each gene."""
    import anndata as ad
    import pandas as pd
    import scipy.sparse as sp

    rng = np.random.default_rng(0)
    genes = [f"G{i}" for i in range(20)]
    rna = ad.AnnData(sp.csr_matrix(rng.poisson(2.0, size=(60, 20)).astype(np.float32)))
    rna.var_names = gene_names or genes
    atac_values = rng.poisson(0.5, size=(60, 20)).astype(np.float32)
    atac = ad.AnnData(sp.csr_matrix(np.log1p(atac_values) * 1.3 if lognormal_atac else atac_values))
    atac.var_names = peak_names or [f"chr1-{10_000 * i + 500}-{10_000 * i + 900}" for i in range(20)]
    atac.obs_names = [f"atac_{i}" for i in range(60)]
    table = pd.DataFrame(
        {"gene_name": genes, "chrom": chrom, "start": [10_000 * i for i in range(20)], "end": [10_000 * i + 5_000 for i in range(20)]}
    )
    table["strand"] = strand
    paths = {"rna": tmp_path / "rna.h5ad", "atac": tmp_path / "atac.h5ad", "annotation": tmp_path / "genes.tsv"}
    rna.write_h5ad(paths["rna"])
    atac.write_h5ad(paths["atac"])
    table.to_csv(paths["annotation"], sep="\t", index=False)
    return paths


@pytest.mark.parametrize(
    "case, fragments",
    [
        ({}, None),
        ({"peak_names": [f"peak{i}" for i in range(20)]}, ("mod2.var_names", "not peaks named chrom:start-end")),
        ({"gene_names": [f"X{i}" for i in range(20)]}, ("mod1: none of the 20 genes", "is in the annotation")),
        ({"strand": "."}, ("have no strand", "promoter=0")),
        ({"chrom": "chr2"}, ("no gene is within reach of any peak", "same genome build")),
        ({"lognormal_atac": True}, ("mod2.X holds non-integer values", "raw counts are required")),
    ],
    ids=["good", "peaks-not-parsed", "genes-not-in-annotation", "no-strand", "other-build", "no-counts"],
)
def test_glue_refuses_bad_input_in_one_line(tmp_path, case, fragments):
    paths = _unpaired_rna_atac(tmp_path, **case)
    digests = {name: sha256(path) for name, path in paths.items()}
    args = ["run", "multiomics_integration", "--model", "glue", "--data", str(paths["rna"]), "--data2", str(paths["atac"])]
    settings = [f'annotation="{paths["annotation"]}"', "max_epochs=1", "latent=4", "hidden=8", "n_components=4", "n_top_genes=10"]
    completed = dance(*args, *[part for s in settings for part in ("--set", s)], "-o", str(tmp_path / "out"))
    if fragments is None:
        assert completed.returncode == 0, completed.stderr
    else:
        check_refused(completed, *fragments)
    assert {name: sha256(path) for name, path in paths.items()} == digests
