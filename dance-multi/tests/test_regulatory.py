"""GLUE's regulatory inference: planted gene-peak similarities are found, chance ones are not."""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd
import pytest

from dance.core.errors import DanceInputError
from dance.multi.guidance_graph import guidance_graph
from dance.multi.regulatory import regulatory_inference


def test_planted_links_score_high_with_small_q_values():
    rng = np.random.default_rng(0)
    n_genes = 200
    genes = pd.DataFrame(
        {
            "gene_name": [f"g{i}" for i in range(n_genes)],
            "chrom": "chr1",
            "start": np.arange(n_genes) * 100_000 + 10_000,
            "end": np.arange(n_genes) * 100_000 + 20_000,
            "strand": "+",
        }
    )
    peaks = [f"chr1:{i * 100_000 + 15_000}-{i * 100_000 + 15_500}" for i in range(n_genes)]
    rna = ad.AnnData(np.zeros((1, n_genes), dtype=np.float32), var=pd.DataFrame(index=genes["gene_name"]))
    atac = ad.AnnData(np.zeros((1, n_genes), dtype=np.float32), var=pd.DataFrame(index=peaks))
    graph = guidance_graph(rna, atac, annotation=genes)
    embedding = rng.normal(size=(2 * n_genes, 16))
    planted = np.arange(20)  # the first 20 peaks get their gene's embedding plus a little noise
    embedding[n_genes + planted] = embedding[planted] + 0.1 * rng.normal(size=(20, 16))
    table = regulatory_inference(graph, [embedding, embedding + 0.01 * rng.normal(size=embedding.shape)], seed=0)
    assert list(table.columns) == ["gene", "peak", "distance", "score", "pval", "qval"] and len(table) == n_genes
    found = table.set_index("gene").loc[[f"g{i}" for i in planted]]
    assert (found["score"] > 0.9).all() and (found["qval"] < 0.05).all()
    rest = table[~table["gene"].isin(found.index)]
    assert (rest["qval"] < 0.05).mean() < 0.05
    greater = regulatory_inference(graph, embedding, alternative="greater")
    assert (greater.set_index("gene").loc[found.index, "pval"] < 0.01).all()
    with pytest.raises(DanceInputError, match="one row per graph feature"):
        regulatory_inference(graph, embedding[:10])
