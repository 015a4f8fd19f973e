"""Write the embedded SNARE-seq subset (``snareseq_chen2019_subset``) from the full dataset.

The subset is what ``dance run multiomics_integration`` runs on by default: a seeded random
3,000 of the 10,309 cells (the same cells in both modalities, every cell type kept in its
share), all 1,677 genes, and the 10,000 peaks open in the most cells of the full dataset (the
"top features" selection of Signac's ``FindTopFeatures``, Stuart et al. 2021, Nat Methods
18:1333), so that a GLUE run on two CPU cores takes minutes instead of an hour. Layout, obs,
var and uns are the full files' (the same loader reads both).

Usage::

    python dance-multi/scripts/snareseq_subset.py ../shared/data/multimodal/snareseq_chen2019 \
        dance-multi/src/dance/multi/data

then put the printed sha256 and sizes into ``dance/multi/datasets.py``.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import anndata as ad
import numpy as np
import scipy.sparse as sp

N_CELLS = 3_000
N_PEAKS = 10_000
SEED = 0


def main(source: Path, target: Path) -> None:
    rna = ad.read_h5ad(source / "snareseq_chen2019_rna.h5ad")
    atac = ad.read_h5ad(source / "snareseq_chen2019_atac.h5ad")
    assert (rna.obs_names == atac.obs_names).all()
    cells = np.sort(np.random.default_rng(SEED).choice(rna.n_obs, N_CELLS, replace=False))
    open_cells = np.asarray((sp.csr_matrix(atac.X) > 0).sum(axis=0)).ravel()
    # most open first; ties by position so the choice does not depend on the sort algorithm
    peaks = np.sort(np.lexsort((np.arange(atac.n_vars), -open_cells))[:N_PEAKS])
    target.mkdir(parents=True, exist_ok=True)
    for name, adata in (("rna", rna[cells].copy()), ("atac", atac[cells][:, peaks].copy())):
        adata.X = sp.csr_matrix(adata.X)
        path = target / f"snareseq_chen2019_subset_{name}.h5ad"
        adata.write_h5ad(path, compression="gzip")
        print(path.name, adata.shape, hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_size)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
