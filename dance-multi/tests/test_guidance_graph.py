"""GLUE's guidance graph on hand-made intervals (overlap, strand, promoter, distance weights,
chromosome naming) and on SNARE-seq with the mm10 annotation."""

from __future__ import annotations

import re

import anndata as ad
import numpy as np
import pandas as pd
import pytest

from dance.core.errors import DanceInputError
from dance.multi.guidance_graph import distance_weight, feature_intervals, guidance_graph, interval_links


def modality(names: list[str], var: dict | None = None) -> ad.AnnData:
    return ad.AnnData(X=np.zeros((2, len(names)), dtype=np.float32), var=pd.DataFrame(var or {}, index=names))


GENES = pd.DataFrame(
    {
        "gene_name": ["Plus", "Minus", "Far"],
        "chrom": ["chr1", "chr1", "chr2"],
        "start": [10_000, 50_000, 5_000],
        "end": [20_000, 60_000, 6_000],
        "strand": ["+", "-", "+"],
    }
)


def pairs(graph) -> set[tuple[str, str]]:
    return set(map(tuple, graph.links()[["gene", "feature"]].to_numpy()))


def test_gene_bodies_and_strand_aware_promoters_link_overlapping_peaks():
    rna = modality(["Plus", "Minus", "Far"])
    peaks = [
        "chr1:8500-9000",  # 1 kb upstream of Plus (+ strand): in its promoter
        "chr1:7000-7500",  # 2.5 kb upstream of Plus: outside
        "chr1:19000-19500",  # in Plus's body
        "chr1:60500-61000",  # 0.5 kb upstream of Minus (- strand: upstream is after its end)
        "chr1:48000-48500",  # 1.5-2 kb downstream of Minus: not a promoter
        "chr1:20000-20100",  # starts where Plus ends: adjacent, not overlapping
        "chr2:100-200",
    ]
    with pytest.warns(UserWarning, match="3 of 7 peaks"):  # most of these peaks are placed to miss
        graph = guidance_graph(rna, modality(peaks), annotation=GENES)
    assert pairs(graph) == {("Plus", "chr1:8500-9000"), ("Plus", "chr1:19000-19500"), ("Minus", "chr1:60500-61000")}
    # reverse edges and one self-loop per feature, weight 1 at distance 0
    assert graph.n_edges == 2 * 3 + len(rna.var_names) + len(peaks)
    assert (graph.kind == "loop").sum() == 10 and np.all(graph.weight[graph.kind != "loop"] == 1.0)
    adjacency = graph.adjacency()
    assert adjacency.shape == (10, 10) and np.allclose(adjacency.toarray(), adjacency.toarray().T)


def test_a_window_links_nearby_peaks_with_glues_distance_weight():
    rna = modality(["Plus", "Minus", "Far"])
    peaks = modality(["chr1:7000-7500", "chr1:20000-20100"])
    graph = guidance_graph(rna, peaks, annotation=GENES, window=1_000)
    links = graph.links().set_index("feature")
    # scglue's interval_dist: the gap plus one (promoter starts at 8,000; the peak ends at 7,500)
    assert links.loc["chr1:7000-7500", "distance"] == 8_000 - 7_500 + 1
    assert links.loc["chr1:20000-20100", "distance"] == 1
    assert np.isclose(links.loc["chr1:7000-7500", "weight"], ((501 + 1000) / 1000) ** -0.75)
    assert np.isclose(distance_weight(np.array([0]))[0], 1.0)


def test_negative_signs_and_a_third_modality():
    rna = modality(["Plus", "Minus", "Far"])
    atac = modality(["chr1:19000-19500"])
    methylation = modality(["chr2_5500_5600"])
    graph = guidance_graph(rna, atac, methylation, annotation=GENES, signs=[1, -1])
    links = graph.links().set_index("feature")
    assert links.loc["chr1:19000-19500", "sign"] == 1 and links.loc["chr2_5500_5600", "sign"] == -1
    assert list(graph.modality) == [0, 0, 0, 1, 2]
    with pytest.raises(DanceInputError, match="signs"):
        guidance_graph(rna, atac, methylation, annotation=GENES, signs=[1])


def test_chromosome_names_without_chr_are_harmonised_and_said_once():
    rna = modality(["Plus", "Minus", "Far"])
    no_prefix = GENES.assign(chrom=["1", "1", "2"])
    graph = guidance_graph(rna, modality(["chr1-19000-19500"]), annotation=no_prefix)
    assert pairs(graph) == {("Plus", "chr1-19000-19500")}
    assert sum("harmonised" in line for line in graph.report) == 1


def test_genes_without_coordinates_are_dropped_with_a_note_and_without_strand_refused():
    rna = modality(["Plus", "Unknown", "Minus"])
    graph = guidance_graph(rna, modality(["chr1:19000-19500"]), annotation=GENES)
    assert any(line.startswith("1 of 3 genes have no coordinates (Unknown)") for line in graph.report)
    unstranded = GENES.assign(strand=[".", "-", "+"])
    with pytest.raises(DanceInputError, match=r"1 genes with coordinates have no strand \(Plus\).*promoter=0"):
        guidance_graph(modality(["Plus", "Minus"]), modality(["chr1:19000-19500"]), annotation=unstranded)
    bodies = guidance_graph(modality(["Plus", "Minus"]), modality(["chr1:19000-19500"]), annotation=unstranded, promoter=0)
    assert pairs(bodies) == {("Plus", "chr1:19000-19500")}


def test_peaks_that_do_not_parse_are_one_clear_error_and_var_columns_are_read():
    with pytest.raises(DanceInputError, match=r"mod2.var_names: 2 of 3 features are not peaks .*'Gapdh'"):
        feature_intervals(modality(["chr1:1-2", "Gapdh", "Actb"]))
    frame = feature_intervals(modality(["a", "b"], {"chrom": ["chr1", "chr2"], "chromStart": [5, 7], "chromEnd": [9, 8]}))
    assert frame.to_dict("list") == {"chrom": ["chr1", "chr2"], "start": [5, 7], "end": [9, 8]}


def test_few_peaks_near_genes_warn_of_another_genome_build():
    rna = modality(["Plus", "Minus", "Far"])
    with pytest.warns(UserWarning, match="different genome builds"):
        graph = guidance_graph(rna, modality(["chr1:19000-19500", "chr1:900000-900100", "chr1:990000-990100"]), annotation=GENES)
    assert any("1 of 3 peaks" in line for line in graph.report)
    with pytest.raises(DanceInputError, match="same genome build"):
        guidance_graph(rna, modality(["chr9:1-100"]), annotation=GENES)


def test_interval_links_matches_a_brute_force_search():
    rng = np.random.default_rng(0)

    def random_intervals(n: int, length: int) -> pd.DataFrame:
        start = rng.integers(0, 200_000, n)
        return pd.DataFrame({"chrom": rng.choice(["chr1", "chr2"], n), "start": start, "end": start + rng.integers(1, length, n)})

    genes, peaks = random_intervals(300, 30_000), random_intervals(2_000, 2_000)
    for window in (0, 5_000):
        got = set(zip(*interval_links(genes, peaks, window=window), strict=True))
        g, p = genes.to_dict("list"), peaks.to_dict("list")
        gs, ge, ps, pe = (
            np.asarray(v)[:, None] if k == 0 else np.asarray(v)[None, :]
            for k, v in ((0, g["start"]), (0, g["end"]), (1, p["start"]), (1, p["end"]))
        )
        same = np.asarray(g["chrom"])[:, None] == np.asarray(p["chrom"])[None, :]
        d = np.where((gs < pe) & (ps < ge), 0, np.maximum(ps - ge + 1, gs - pe + 1))
        rows, cols = np.nonzero(same & (d <= window))
        expected = set(zip(rows, cols, d[rows, cols], strict=True))
        assert got == expected


def test_snareseq_links_more_peaks_with_its_own_build(shared_data_env):
    """SNARE-seq's peaks are mm10: its genes reach more of them with the mm10 table than with
    GRCm39's coordinates (another build; measured 2026-12-07: 13,000 peaks with GRCm39)."""
    from dance.core import load_dataset

    data = load_dataset("snareseq_chen2019", "modality_prediction")
    rna, atac = data.mod1, data.mod2
    graph = guidance_graph(rna, atac, annotation="mm10")
    links = graph.links()
    assert graph.n_edges == 2 * len(links) + rna.n_vars + atac.n_vars
    assert links["gene"].nunique() > 0.9 * rna.n_vars
    other_build = guidance_graph(rna, atac, annotation="GRCm39").links()
    assert links["feature"].nunique() > other_build["feature"].nunique() + 1_000


def test_the_registered_transform_writes_coordinates_the_graph_then_reads():
    from dance.core.registry import registry

    coordinates = registry.get_transform("genomic_coordinates").load()
    rna = modality(["Plus", "Minus", "Far"])
    peaks = modality(["chr1:19000-19500", "chr1:60500-61000"])
    placed_rna, placed_peaks = coordinates(rna, annotation=GENES), coordinates(peaks)
    assert "chrom" not in rna.var.columns  # the input is not modified
    assert placed_rna.var.loc["Minus", ["chrom", "chromStart", "chromEnd", "strand"]].tolist() == ["chr1", 50_000, 60_000, "-"]
    assert placed_peaks.var["chromStart"].tolist() == [19_000, 60_500]
    graph = guidance_graph(placed_rna, placed_peaks)  # no annotation needed now
    assert pairs(graph) == {("Plus", "chr1:19000-19500"), ("Minus", "chr1:60500-61000")}


def test_features_reachable_from_chosen_genes():
    rna = modality(["Plus", "Minus", "Far"])
    peaks = modality(["chr1:19000-19500", "chr1:60500-61000", "chr2:5500-5600"])
    graph = guidance_graph(rna, peaks, annotation=GENES)
    reached = graph.reachable_from(["Plus", "Far", "NotAGene"])
    assert [f for f, r in zip(graph.features, reached, strict=True) if r] == ["Plus", "Far", "chr1:19000-19500", "chr2:5500-5600"]


def test_genes_that_are_all_missing_from_the_annotation_are_one_clear_error():
    from dance.multi.guidance_graph import gene_intervals

    table = pd.DataFrame({"gene_name": ["A"], "chrom": ["chr1"], "start": [100], "end": [900], "strand": ["+"]})
    rna = ad.AnnData(np.zeros((2, 2), dtype=np.float32), var=pd.DataFrame(index=["G0", "G1"]))
    with pytest.raises(DanceInputError, match=re.escape("none of the 2 genes (G0, G1, ...) is in the annotation")):
        gene_intervals(rna, table)
