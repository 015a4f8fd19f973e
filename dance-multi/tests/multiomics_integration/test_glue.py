"""GLUE's parts: balancing weights, the graph's edge sampler and propagation, the AUTO schedule."""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd

from dance.multi.guidance_graph import guidance_graph
from dance.multi.multiomics_integration.glue import _auto_schedule, _EdgeSampler, _propagation, balancing_weights


def small_graph():
    genes = pd.DataFrame({"gene_name": ["A", "B"], "chrom": "chr1", "start": [1_000, 50_000], "end": [5_000, 60_000], "strand": "+"})
    rna = ad.AnnData(np.zeros((2, 2), dtype=np.float32), var=pd.DataFrame(index=["A", "B"]))
    atac = ad.AnnData(
        np.zeros((2, 3), dtype=np.float32), var=pd.DataFrame(index=["chr1:2000-2500", "chr1:55000-55500", "chr1:90000-90500"])
    )
    return guidance_graph(rna, atac, annotation=genes)


def test_a_cell_type_missing_from_the_other_modality_gets_little_discriminator_weight():
    rng = np.random.default_rng(0)
    shared = [rng.normal(loc, 0.05, size=(150, 8)) for loc in (np.eye(8)[0] * 3, np.eye(8)[1] * 3)]
    only_rna = rng.normal(np.eye(8)[2] * 3, 0.05, size=(150, 8))
    rna = np.vstack([*shared, only_rna])
    atac = np.vstack(shared)
    w_rna, w_atac = balancing_weights([rna, atac], seed=0)
    assert np.isclose(w_rna.mean(), 1) and np.isclose(w_atac.mean(), 1)
    assert w_rna[300:].mean() < 0.1 * w_rna[:300].mean()


def test_negative_edges_are_never_graph_edges_and_positives_follow_the_weights():
    graph = small_graph()
    sampler = _EdgeSampler(graph, neg_samples=5, seed=0)
    source, target, sign, label = sampler.sample()
    existing = set(zip(graph.source.tolist(), graph.target.tolist(), strict=True))
    negatives = [(s, t) for s, t, y in zip(source, target, label, strict=True) if y == 0]
    assert negatives and not any(pair in existing for pair in negatives)
    assert (label == 1).sum() * 5 == (label == 0).sum() and set(sign.tolist()) == {1}


def test_propagation_divides_by_the_root_of_the_weighted_in_degree():
    graph = small_graph()
    dense = _propagation(graph, "cpu").to_dense().numpy()
    # feature 'A' (index 0) receives its self-loop and the edge from its peak: both weight 1
    assert np.isclose(dense[0, 0], 1 / np.sqrt(2)) and np.isclose(dense[0, 2], 1 / np.sqrt(2))
    assert np.isclose(dense[4, 4], 1.0)  # the unlinked peak keeps only its self-loop


def test_auto_schedule_matches_scglues_rules_on_snareseq():
    # 10,309 cells, 10 % held out, minibatches of 128, lr 2e-3: 72.5 minibatches per epoch
    assert _auto_schedule(10_309, 128, 0.1, 2e-3) == {"align_burnin": 56, "max_epochs": 332, "patience": 28, "reduce_lr_patience": 14}
