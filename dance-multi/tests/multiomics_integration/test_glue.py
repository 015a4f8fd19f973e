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
    # 2 x 10,309 cells (scglue's epoch runs over the cells of both modalities), 10 % held out,
    # minibatches of 128, lr 2e-3: 145 minibatches per epoch; scglue 0.4.1 logs the same
    # ("Setting `patience` = 14", "`reduce_lr_patience` = 7", "`max_epochs` = 166")
    assert _auto_schedule(20_618, 128, 0.1, 2e-3) == {"align_burnin": 28, "max_epochs": 166, "patience": 14, "reduce_lr_patience": 7}


def test_the_decoders_log_space_likelihood_equals_torchs_negative_binomial_of_its_mean():
    import torch
    from torch.distributions import NegativeBinomial

    from dance.multi.multiomics_integration.glue_module import FeatureDecoder

    def reference(decoder, x, u, v, batch):
        # scglue's form: NegativeBinomial(total_count=theta, logits=log mu - log theta)
        mu, theta = decoder(u, v, batch, x.sum(dim=1, keepdim=True))
        return NegativeBinomial(total_count=theta, logits=torch.log(mu) - torch.log(theta)).log_prob(x).sum()

    torch.manual_seed(0)
    for n_batches in (1, 3):
        decoder = FeatureDecoder(40, n_batches).double()
        with torch.no_grad():
            for parameter in (decoder.scale, decoder.bias, decoder.log_theta):
                parameter.normal_(0, 0.5)
        u, v = torch.randn(16, 5, dtype=torch.float64), torch.randn(40, 5, dtype=torch.float64)
        batch = torch.randint(0, n_batches, (16,))
        x = torch.poisson(torch.full((16, 40), 0.3, dtype=torch.float64))
        fused, expected = decoder.log_likelihood(x, u, v, batch), reference(decoder, x, u, v, batch)
        assert torch.isclose(fused, expected, rtol=1e-9), (n_batches, fused.item(), expected.item())
        for parameter in (decoder.scale, decoder.bias, decoder.log_theta):
            grad = torch.autograd.grad(decoder.log_likelihood(x, u, v, batch), parameter)[0]
            grad_expected = torch.autograd.grad(reference(decoder, x, u, v, batch), parameter)[0]
            assert torch.allclose(grad, grad_expected, rtol=1e-7, atol=1e-9)


def test_negative_targets_follow_the_vertex_degrees():
    graph = small_graph()
    sampler = _EdgeSampler(graph, neg_samples=2000, seed=0)
    _, target, _, label = sampler.sample()
    drawn = np.bincount(target[label == 0], minlength=len(graph.features))
    # the unlinked peak (index 4) has no edge but its self-loop: degree 0, never drawn
    assert drawn[4] == 0 and drawn.sum() > 0


def test_a_glue_run_writes_feature_embeddings_the_regulatory_table_and_the_consistency_curve(tmp_path):
    import anndata as ad
    import pandas as pd

    from dance.core.runner import run

    params = {"max_epochs": 1, "latent": 4, "hidden": 16, "n_components": 8, "batch_size": 32}
    result = run("multiomics_integration", "glue", params=params, out=tmp_path, device="cpu")
    for name in ("regulatory", "consistency", "consistency_plot"):
        assert name in result.outputs
    table = pd.read_csv(tmp_path / "regulatory.csv")
    assert list(table.columns) == ["gene", "peak", "distance", "score", "pval", "qval"] and len(table) == result.notes["glue_graph_edges"]
    assert table["qval"].between(0, 1).all()
    curve = pd.read_csv(tmp_path / "consistency.csv")
    assert list(curve["n_meta"]) == [10, 20, 50, 100, 200] and curve["consistency"].between(-1, 1).all()
    assert set(result.notes["glue_integration_consistency"]) == {10, 20, 50, 100, 200}
    genes = ad.read_h5ad(tmp_path / "output_mod1.h5ad").varm["X_glue"]
    peaks = ad.read_h5ad(tmp_path / "output_mod2.h5ad").varm["X_glue"]
    assert genes.shape[1] == peaks.shape[1] == 4
    # the genes GLUE used have embeddings, the peaks no gene reaches have none
    assert (~np.isnan(genes[:, 0])).sum() == result.notes["glue_genes"]
    assert (~np.isnan(peaks[:, 0])).sum() == result.notes["glue_peaks"]
