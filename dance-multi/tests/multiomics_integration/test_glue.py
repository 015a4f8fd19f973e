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


TINY = {"max_epochs": 1, "latent": 4, "hidden": 16, "n_components": 8, "batch_size": 32}


def test_a_saved_glue_model_embeds_the_training_cells_as_before_and_new_cells_too(tmp_path):
    from dance.core.data import load_dataset
    from dance.core.models.base import DanceModel
    from dance.core.registry import registry

    data = load_dataset("bmmc_multiome", task="multiomics_integration")
    model = registry.load_model("glue", "multiomics_integration")(params=TINY, seed=0, device="cpu").fit(data)
    before = model.predict(data)
    model.save(tmp_path / "glue")
    loaded = DanceModel.load(tmp_path / "glue", device="cpu")
    after = loaded.predict(data)
    assert all(np.allclose(a, b, atol=1e-5) for a, b in zip(before, after, strict=True))
    # cells it never saw (GLUE is not transductive: the encoders read fitted PCA / LSI projections)
    half = data.copy()
    half.mod1, half.mod2 = data.mod1[:200].copy(), data.mod2[300:].copy()
    new = loaded.predict(half)
    assert np.allclose(new[0], before[0][:200], atol=1e-4) and np.allclose(new[1], before[1][300:], atol=1e-4)
    assert (loaded.feature_embeddings_frame().to_numpy() == model.feature_embeddings_frame().to_numpy()).all()
    written = loaded.write_model_outputs(tmp_path, plots=False)
    assert set(written) == {"regulatory"} and len(pd.read_csv(written["regulatory"])) == model.notes_["glue_graph_edges"]


def triple_omics(n_cells: int = 240, n_types: int = 4, seed: int = 0) -> tuple[ad.AnnData, ad.AnnData, ad.AnnData]:
    """Expression, accessibility and gene-body methylation of different cells of the same four
    types: every gene has two peaks and one methylated region in its body; a type's marker genes
    are expressed, their peaks open and their regions unmethylated."""
    rng = np.random.default_rng(seed)
    n_genes = 80
    starts = np.arange(n_genes) * 100_000 + 50_000
    program = np.full((n_types, n_genes), 0.5)
    for t in range(n_types):
        program[t, t * 20 : (t + 1) * 20] = 8.0
    genes = pd.DataFrame(
        {"chrom": "chr1", "chromStart": starts, "chromEnd": starts + 10_000, "strand": "+"}, index=[f"G{i}" for i in range(n_genes)]
    )
    peak_starts = np.concatenate([starts + 1_000, starts + 6_000, np.arange(20) * 100_000 + 30_000_000])
    peak_genes = np.concatenate([np.arange(n_genes), np.arange(n_genes), np.full(20, -1)])
    peaks = pd.DataFrame({"chrom": "chr1", "chromStart": peak_starts, "chromEnd": peak_starts + 500})
    regions = pd.DataFrame({"chrom": "chr1", "chromStart": starts + 3_000, "chromEnd": starts + 4_000})

    def layer(rates: np.ndarray, var: pd.DataFrame, names: list[str]) -> ad.AnnData:
        library = rng.gamma(10.0, 0.1, size=(len(rates), 1))
        x = rng.poisson(rates * library).astype(np.float32)
        adata = ad.AnnData(x, var=var.set_axis(names))
        adata.layers["counts"] = x.copy()
        return adata

    types = [rng.integers(n_types, size=n_cells) for _ in range(3)]
    rna = layer(program[types[0]], genes, list(genes.index))
    accessibility = np.where(peak_genes >= 0, program[:, np.clip(peak_genes, 0, None)] / 4, 0.3)
    atac = layer(accessibility[types[1]], peaks, [f"chr1:{s}-{s + 500}" for s in peak_starts])
    methylation = 2.5 - program[types[2]] / 4  # marker genes are the unmethylated ones
    met = layer(methylation, regions, [f"chr1:{s + 3_000}-{s + 4_000}" for s in starts])
    for adata, t in zip((rna, atac, met), types, strict=True):
        adata.obs["cell_type"] = pd.Categorical([f"type{i}" for i in t])
    return rna, atac, met


def test_glue_integrates_three_layers_methylation_with_a_negative_sign():
    from sklearn.neighbors import KNeighborsClassifier

    from dance.multi.multiomics_integration.glue import GLUE

    rna, atac, met = triple_omics()
    params = {"max_epochs": 20, "latent": 8, "hidden": 32, "n_components": 10, "batch_size": 64, "n_top_genes": 80, "promoter": 0}
    model = GLUE(params=params, seed=0, device="cpu").fit_layers(rna, atac, met, signs=[1, -1])
    g = model.graph_
    region_edges = ((g.modality[g.source] == 2) | (g.modality[g.target] == 2)) & (g.kind != "loop")
    assert g.sign[region_edges].tolist() == [-1] * 2 * 80  # every gene-region edge, both ways
    embeddings = model.embed_layers(rna, atac, met)
    assert [e.shape for e in embeddings] == [(240, 8)] * 3
    vote = KNeighborsClassifier(5).fit(embeddings[0], rna.obs["cell_type"])
    accuracy = [float((vote.predict(e) == layer.obs["cell_type"]).mean()) for e, layer in ((embeddings[1], atac), (embeddings[2], met))]
    # four types: 0.25 by chance; measured 1.0 and 1.0 (with sign +1 for the regions: 1.0 and 0.0)
    assert min(accuracy) > 0.8, accuracy


def test_glue_gives_the_same_embedding_in_two_fresh_processes():
    """torch is imported inside the fit, after the fit's own seeding: the weights must still start alike."""
    import subprocess
    import sys

    script = (
        "import hashlib, numpy as np\n"
        "from dance.core.testing import synthetic_data\n"
        "from dance.multi.multiomics_integration.glue import GLUE\n"
        "data = synthetic_data('multiomics_integration')\n"
        "params = {'max_epochs': 1, 'latent': 4, 'hidden': 16, 'n_components': 8, 'batch_size': 16, 'n_top_genes': 50}\n"
        "emb = GLUE(params, seed=0, device='cpu').fit(data).predict(data)\n"
        "print(hashlib.sha256(np.ascontiguousarray(emb[0]).tobytes() + np.ascontiguousarray(emb[1]).tobytes()).hexdigest())\n"
    )
    digests = [
        subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout.split()[-1] for _ in range(2)
    ]
    assert digests[0] == digests[1]
