"""Gene annotations: the registered builds and a user's GTF / GFF3 / BED6 / table, all into one layout."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from dance.core.errors import DanceInputError
from dance.multi.genomes import ANNOTATION_COLUMNS, annotation_file, looks_like_ensembl, read_annotation

GTF = """#!genome-build GRCm39
chr1\tHAVANA\tgene\t3143476\t3144545\t.\t+\t.\tgene_id "ENSMUSG00000102693.2"; gene_type "TEC"; gene_name "4933401J01Rik";
chr1\tHAVANA\ttranscript\t3143476\t3144545\t.\t+\t.\tgene_id "ENSMUSG00000102693.2"; transcript_id "ENSMUST00000193812.2"; gene_name "4933401J01Rik";
chr1\tENSEMBL\tgene\t3172239\t3172348\t.\t-\t.\tgene_id "ENSMUSG00000064842.3"; gene_name "Gm26206";
"""

GTF_TRANSCRIPTS_ONLY = """chr2\tsrc\ttranscript\t101\t200\t.\t-\t.\tgene_id "g1"; transcript_id "t1";
chr2\tsrc\texon\t151\t300\t.\t-\t.\tgene_id "g1"; transcript_id "t1";
"""

GFF3 = """##gff-version 3
1\tensembl\tgene\t3143476\t3144545\t.\t+\t.\tID=gene:ENSMUSG00000102693;Name=4933401J01Rik;biotype=TEC
1\tensembl\tmRNA\t3143476\t3144545\t.\t+\t.\tID=transcript:ENSMUST00000193812;Parent=gene:ENSMUSG00000102693
1\tensembl\tncRNA_gene\t3172239\t3172348\t.\t-\t.\tID=gene:ENSMUSG00000064842;Name=Gm26206
"""


def test_gtf_gzipped_or_not_gives_zero_based_genes_without_versions(tmp_path):
    plain = tmp_path / "genes.gtf"
    plain.write_text(GTF)
    zipped = tmp_path / "genes.gtf.gz"
    zipped.write_bytes(gzip.compress(GTF.encode()))
    for path in (plain, zipped):
        genes = read_annotation(path)
        assert tuple(genes.columns) == ANNOTATION_COLUMNS
        assert genes["gene_id"].tolist() == ["ENSMUSG00000102693", "ENSMUSG00000064842"]
        assert genes["gene_name"].tolist() == ["4933401J01Rik", "Gm26206"]
        assert genes.loc[0, ["start", "end", "strand"]].tolist() == [3143475, 3144545, "+"]


def test_gtf_without_gene_rows_spans_each_genes_transcripts_and_exons(tmp_path):
    path = tmp_path / "transcripts.gtf"
    path.write_text(GTF_TRANSCRIPTS_ONLY)
    genes = read_annotation(path)
    assert genes.loc[0, ["gene_id", "chrom", "start", "end", "strand"]].tolist() == ["g1", "chr2", 100, 300, "-"]


def test_gff3_reads_gene_types_and_names(tmp_path):
    path = tmp_path / "genes.gff3"
    path.write_text(GFF3)
    genes = read_annotation(path)
    assert genes["gene_id"].tolist() == ["ENSMUSG00000102693", "ENSMUSG00000064842"]
    assert genes["gene_name"].tolist() == ["4933401J01Rik", "Gm26206"] and genes["chrom"].tolist() == ["1", "1"]


def test_bed6_and_tables(tmp_path):
    bed = tmp_path / "genes.bed"
    bed.write_text("chr1\t10\t20\tA\t0\t+\nchr1\t30\t40\tB\t0\t.\n")
    genes = read_annotation(bed)
    assert genes[["gene_name", "start", "end", "strand"]].to_numpy().tolist() == [["A", 10, 20, "+"], ["B", 30, 40, "."]]
    table = tmp_path / "genes.csv"
    table.write_text("gene_name,chrom,start,end,strand\nA,chr1,10,20,-\n")
    assert read_annotation(table).loc[0, "strand"] == "-"
    bad = tmp_path / "bad.tsv"
    bad.write_text("name\tchrom\nA\tchr1\n")
    with pytest.raises(DanceInputError, match="lacks gene_name, start, end, strand"):
        read_annotation(bad)
    short = tmp_path / "short.bed"
    short.write_text("chr1\t10\t20\n")
    with pytest.raises(DanceInputError, match="not BED6"):
        read_annotation(short)


def test_registered_builds_and_their_aliases(shared_data_env):
    assert annotation_file("hg38") is annotation_file("GRCh38") is not None
    assert annotation_file("GRCm38") is annotation_file("mm10") is not None
    mm10 = read_annotation("mm10")
    assert len(mm10) == 24_367 and set(mm10["strand"]) == {"+", "-"}
    assert mm10["chrom"].str.startswith("chr").all()
    with pytest.raises(DanceInputError, match=r"registered genome build .* 'hg19' is neither"):
        read_annotation("hg19")


def test_ensembl_names_are_recognised():
    assert looks_like_ensembl(np.array(["ENSG00000141510", "ENSG00000012048.2", "TP53"]))
    assert not looks_like_ensembl(np.array(["Gapdh", "Actb"]))
