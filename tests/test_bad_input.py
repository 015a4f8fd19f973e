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
