"""Reference values of the GLUE integration metrics, computed by scglue itself.

Not a test (pytest does not collect it): it prints the constants pasted into
``test_omics_integration.py``. It needs the reference package, not dance::

    /work/scglue-venv/bin/python dance-core/tests/metrics/_make_scglue_reference.py

(any environment with ``scglue==0.4.1``, scanpy and scikit-learn). ``synthetic`` is duplicated
verbatim in the test module, which checks that it regenerates the same arrays (``FINGERPRINTS``).
Two scenarios: ``shared`` (4 cell types in both modalities, 300 cells each) and ``unshared``
(mod2 has 250 cells and a fifth type absent from mod1: the Seurat alignment score subsamples
mod1, and the omics-layer ASW meets a one-modality cell type).
"""

from __future__ import annotations

import numpy as np


def synthetic(scenario: str) -> dict[str, np.ndarray]:
    """Embeddings of two modalities (mod2 shifted), their labels and unintegrated representations."""
    rng = np.random.default_rng(20220512)
    dims, n_types = 10, 5
    centres = rng.normal(0.0, 1.0, size=(n_types, dims))
    offset = rng.normal(0.0, 1.0, size=dims)
    if scenario == "shared":
        sizes1, sizes2 = (100, 80, 70, 50, 0), (90, 90, 60, 60, 0)
    else:
        sizes1, sizes2 = (100, 80, 70, 50, 0), (80, 70, 50, 30, 20)
    labels1 = np.repeat([f"type{t}" for t in range(n_types)], sizes1)
    labels2 = np.repeat([f"type{t}" for t in range(n_types)], sizes2)
    codes1 = np.repeat(np.arange(n_types), sizes1)
    codes2 = np.repeat(np.arange(n_types), sizes2)
    emb1 = centres[codes1] + rng.normal(size=(len(codes1), dims))
    emb2 = centres[codes2] + offset + rng.normal(size=(len(codes2), dims))
    projection1 = rng.normal(size=(dims, 12))
    projection2 = rng.normal(size=(dims, 8))
    rep1 = centres[codes1] @ projection1 + 2.0 * rng.normal(size=(len(codes1), 12))
    rep2 = centres[codes2] @ projection2 + 2.0 * rng.normal(size=(len(codes2), 8))
    return {"emb1": emb1, "emb2": emb2, "labels1": labels1, "labels2": labels2, "rep1": rep1, "rep2": rep2}


def fingerprint(data: dict[str, np.ndarray]) -> float:
    """A number that changes if any generated array does (floats only)."""
    return float(sum(np.asarray(data[key]).sum() + np.abs(data[key]).sum() for key in ("emb1", "emb2", "rep1", "rep2")))


def main() -> None:
    import scglue.metrics as m

    for scenario in ("shared", "unshared"):
        data = synthetic(scenario)
        x = np.concatenate([data["emb1"], data["emb2"]])
        cell_type = np.concatenate([data["labels1"], data["labels2"]])
        domain = np.array(["mod1"] * len(data["emb1"]) + ["mod2"] * len(data["emb2"]))
        # scglue's neighbour conservation takes one unintegrated matrix; it only compares cells
        # within a domain, so pad the narrower representation with zero columns (distances unchanged)
        width = max(data["rep1"].shape[1], data["rep2"].shape[1])
        uni = np.concatenate([np.pad(r, ((0, 0), (0, width - r.shape[1]))) for r in (data["rep1"], data["rep2"])])
        values = {
            "map": m.mean_average_precision(x, cell_type),
            "cell_type_asw": m.avg_silhouette_width(x, cell_type),
            "neighbor_conservation": m.neighbor_conservation(x, uni, domain),
            "seurat_alignment_score": m.seurat_alignment_score(x, domain, random_state=0),
            "omics_layer_asw": m.avg_silhouette_width_batch(x, domain, cell_type),
            "graph_connectivity": m.graph_connectivity(x, cell_type),
        }
        print(f"# {scenario}: fingerprint {fingerprint(data)!r}")
        for name, value in values.items():
            print(f'    "{name}": {float(value)!r},')


if __name__ == "__main__":
    main()
