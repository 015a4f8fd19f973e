"""GLUE's guidance graph built in Python: genes linked to the peaks on and around them, by a sweep
over sorted intervals in numpy instead of ``bedtools``.

As ``scglue.genomics.rna_anchored_guidance_graph`` (Cao & Gao 2022, "Multi-omics single-cell data
integration and regulatory inference with graph-linked embedding", Nat Biotechnol 40:1458): each
gene's region is its body extended ``promoter`` bases upstream (strand-aware); a gene and a
feature of another modality are linked when their intervals lie within ``window`` bases
(``window=0``: they overlap), with weight ``((d + 1000) / 1000) ** -0.75`` for the distance ``d``
(1 for overlaps) and the modality's sign; every edge has its reverse, and every feature a
self-loop of weight 1.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from dance.core.errors import DanceInputError
from dance.multi.genomes import PEAK_NAME

if TYPE_CHECKING:
    from anndata import AnnData

__all__ = [
    "GuidanceGraph",
    "distance_weight",
    "feature_intervals",
    "gene_intervals",
    "genomic_coordinates",
    "guidance_graph",
    "interval_links",
]


def distance_weight(distance: np.ndarray) -> np.ndarray:
    """GLUE's weight of a gene-peak edge at ``distance`` bases: ``((d + 1000) / 1000) ** -0.75``
    (``scglue.genomics.dist_power_decay``)."""
    return ((np.asarray(distance, dtype=np.float64) + 1000.0) / 1000.0) ** -0.75


@dataclass
class GuidanceGraph:
    """A guidance graph over the features of several modalities.

    Attributes
    ----------
    features
        Every feature's name, the modalities' features one after the other.
    modality
        The index of each feature's modality (0: the genes).
    source, target
        Edge endpoints (indices into ``features``): gene -> feature edges, then their reverses,
        then a self-loop per feature.
    weight, sign, distance
        Per edge: GLUE's distance weight, +1 or -1, and the distance in bases (0 for overlaps
        and self-loops).
    kind
        Per edge: ``fwd``, ``rev`` or ``loop`` (scglue's ``type`` attribute).
    report
        What the builder dropped, harmonised or suspects, one sentence each.
    """

    features: list[str]
    modality: np.ndarray
    source: np.ndarray
    target: np.ndarray
    weight: np.ndarray
    sign: np.ndarray
    distance: np.ndarray
    kind: np.ndarray
    report: list[str] = field(default_factory=list)

    @property
    def n_edges(self) -> int:
        return int(self.source.size)

    def adjacency(self) -> sp.csr_matrix:
        """Features x features matrix of signed weights (``weight * sign``)."""
        n = len(self.features)
        return sp.csr_matrix((self.weight * self.sign, (self.source, self.target)), shape=(n, n))

    def links(self) -> pd.DataFrame:
        """The gene -> feature edges as a table (``gene``, ``feature``, ``distance``, ``weight``, ``sign``)."""
        forward = self.kind == "fwd"
        names = np.asarray(self.features, dtype=object)
        return pd.DataFrame(
            {
                "gene": names[self.source[forward]],
                "feature": names[self.target[forward]],
                "distance": self.distance[forward],
                "weight": self.weight[forward],
                "sign": self.sign[forward],
            }
        )

    def reachable_from(self, genes: Sequence[str] | np.ndarray) -> np.ndarray:
        """Boolean mask over ``features``: the given genes and every feature linked to one of them
        (scglue's ``propagate_highly_variable``: the peaks near highly variable genes are the
        peaks GLUE trains on)."""
        names = pd.Index(self.features)
        found = names.get_indexer(pd.Index(genes))
        start = np.zeros(len(names), dtype=bool)
        start[found[found >= 0]] = True
        reached = start.copy()
        forward = self.kind == "fwd"
        reached[self.target[forward][start[self.source[forward]]]] = True
        return reached

    def to_networkx(self) -> Any:
        """The graph as scglue builds it: a ``networkx.MultiDiGraph`` with ``weight``, ``sign`` and
        ``type`` edge attributes (for code written against scglue)."""
        import networkx as nx

        graph = nx.MultiDiGraph()
        graph.add_nodes_from(self.features)
        names = self.features
        for s, t, w, g, k in zip(self.source, self.target, self.weight, self.sign, self.kind, strict=True):
            graph.add_edge(names[s], names[t], weight=float(w), sign=int(g), type=str(k))
        return graph


def feature_intervals(adata: AnnData, *, role: str = "mod2") -> pd.DataFrame:
    """Genomic intervals of a modality's features (peaks): ``var`` columns ``chrom`` with
    ``chromStart`` / ``chromEnd`` (scglue's) or ``start`` / ``end``, else parsed from the names
    (``chr1:100-200``, ``chr1-100-200``, ``chr1_100_200``).

    Raises
    ------
    DanceInputError
        Naming ``{role}.var_names`` with how many names do not parse and the first of them.
    """
    var = adata.var
    for start, end in (("chromStart", "chromEnd"), ("start", "end")):
        if {"chrom", start, end} <= set(var.columns):
            frame = pd.DataFrame({"chrom": var["chrom"].astype(str).to_numpy(), "start": var[start].to_numpy(), "end": var[end].to_numpy()})
            if frame[["start", "end"]].isna().to_numpy().any():
                bad = int(frame[["start", "end"]].isna().any(axis=1).sum())
                raise DanceInputError(f"{role}.var: {bad} features have no {start} / {end} coordinates (NaN)", field=f"{role}.var")
            return frame.astype({"start": np.int64, "end": np.int64})
    matches = [PEAK_NAME.match(str(name)) for name in adata.var_names]
    failed = [str(name) for name, m in zip(adata.var_names, matches, strict=True) if m is None]
    if failed:
        examples = ", ".join(f"'{n}'" for n in failed[:3])
        raise DanceInputError(
            f"{role}.var_names: {len(failed)} of {adata.n_vars} features are not peaks named chrom:start-end, chrom-start-end or "
            f"chrom_start_end (e.g. {examples}), and var has no chrom / chromStart / chromEnd columns",
            field=f"{role}.var_names",
        )
    return pd.DataFrame(
        {
            "chrom": [m.group("chrom") for m in matches],  # type: ignore[union-attr]
            "start": np.array([int(m.group("start")) for m in matches], dtype=np.int64),  # type: ignore[union-attr]
            "end": np.array([int(m.group("end")) for m in matches], dtype=np.int64),  # type: ignore[union-attr]
        }
    )


def gene_intervals(rna: AnnData, annotation: Any = None, *, role: str = "mod1") -> tuple[pd.DataFrame, list[str]]:
    """Coordinates of the genes of ``rna``: ``var`` columns ``chrom``, ``chromStart`` /
    ``chromEnd`` (or ``start`` / ``end``) and ``strand`` when present, else looked up in
    ``annotation`` (see :func:`dance.multi.genomes.read_annotation`) by gene name, or by Ensembl id
    when the data's names are ids (versions ignored).

    Returns
    -------
    (pandas.DataFrame, list of str)
        One row per gene of ``rna`` (``chrom``, ``start``, ``end``, ``strand``; NaN where the gene
        has no coordinates), and the report: genes without coordinates (how many, which).
    """
    from dance.multi.genomes import looks_like_ensembl, read_annotation

    var = rna.var
    report: list[str] = []
    for start, end in (("chromStart", "chromEnd"), ("start", "end")):
        if {"chrom", start, end, "strand"} <= set(var.columns):
            frame = pd.DataFrame(
                {
                    "chrom": var["chrom"].to_numpy(),
                    "start": var[start].to_numpy(),
                    "end": var[end].to_numpy(),
                    "strand": var["strand"].to_numpy(),
                },
                index=rna.var_names,
            )
            break
    else:
        if annotation is None:
            raise DanceInputError(
                f"{role}: the genes have no coordinates (var columns chrom, chromStart, chromEnd, strand) and no annotation was given; "
                "pass annotation= a genome build (GRCh38, GRCm39, mm10) or a GTF / GFF3 / BED / table file",
                field="annotation",
            )
        table = read_annotation(annotation)
        by_id = looks_like_ensembl(rna.var_names)
        key = "gene_id" if by_id else "gene_name"
        names = pd.Index(rna.var_names.astype(str))
        if by_id:
            names = pd.Index(names.str.replace(r"^(ENS[A-Z]*G\d+)\.\d+$", r"\1", regex=True))
        duplicated = int(table[key].duplicated().sum())
        lookup = table.drop_duplicates(key).set_index(key)
        frame = lookup.reindex(names)[["chrom", "start", "end", "strand"]]
        frame.index = rna.var_names
        if duplicated:
            report.append(f"{duplicated} {key.replace('_', ' ')}s appear more than once in the annotation; the first of each is used")
    missing = frame[["chrom", "start", "end"]].isna().any(axis=1).to_numpy()
    if missing.all() and rna.n_vars:
        which = ", ".join(map(str, rna.var_names[:3]))
        raise DanceInputError(
            f"{role}: none of the {rna.n_vars} genes ({which}, ...) is in the annotation {_annotation_name(annotation)}; "
            "the genes must be named as the annotation names them (gene symbols or Ensembl ids)",
            field="annotation",
        )
    if missing.any():
        which = ", ".join(map(str, rna.var_names[missing][:5]))
        report.append(
            f"{int(missing.sum())} of {rna.n_vars} genes have no coordinates ({which}{', ...' if missing.sum() > 5 else ''}) "
            "and get no edges (self-loops only)"
        )
    frame["strand"] = frame["strand"].where(frame["strand"].isin(["+", "-"]), ".")
    return frame, report


def _annotation_name(annotation: Any) -> str:
    return f"'{annotation}'" if isinstance(annotation, str) else "given"


def interval_links(first: pd.DataFrame, second: pd.DataFrame, *, window: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every pair of intervals of ``first`` and ``second`` (``chrom``, ``start``, ``end``; 0-based,
    end exclusive) that overlap or lie within ``window`` bases of each other.

    One sweep per chromosome over ``second`` sorted by start, with the running maximum of the ends
    so that ``searchsorted`` bounds every first interval's candidates; the candidates are
    expanded and filtered in numpy. Distances are scglue's ``interval_dist``: 0 for overlaps,
    else the gap plus one.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray, numpy.ndarray)
        Row indices into ``first``, into ``second``, and the absolute distances.
    """
    out_first, out_second, out_distance = [], [], []
    first_chrom = first["chrom"].to_numpy().astype(str)
    second_chrom = second["chrom"].to_numpy().astype(str)
    for chrom in np.intersect1d(np.unique(first_chrom), np.unique(second_chrom)):
        rows = np.flatnonzero(first_chrom == chrom)
        cols = np.flatnonzero(second_chrom == chrom)
        order = cols[np.argsort(second["start"].to_numpy()[cols], kind="stable")]
        starts = second["start"].to_numpy()[order].astype(np.int64)
        ends = second["end"].to_numpy()[order].astype(np.int64)
        running_end = np.maximum.accumulate(ends)
        lo_edge = first["start"].to_numpy()[rows].astype(np.int64) - window
        hi_edge = first["end"].to_numpy()[rows].astype(np.int64) + window
        lo = np.searchsorted(running_end, lo_edge, side="right")  # first interval that may end after lo_edge
        hi = np.searchsorted(starts, hi_edge, side="left")  # first interval that starts at or after hi_edge
        counts = np.maximum(hi - lo, 0)
        total = int(counts.sum())
        if total == 0:
            continue
        which = np.repeat(np.arange(rows.size), counts)
        offsets = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
        candidate = np.repeat(lo, counts) + offsets
        g_start, g_end = first["start"].to_numpy()[rows][which], first["end"].to_numpy()[rows][which]
        p_start, p_end = starts[candidate], ends[candidate]
        gap = np.maximum(p_start - g_end + 1, g_start - p_end + 1)  # scglue: the gap + 1 when apart
        distance = np.where((g_start < p_end) & (p_start < g_end), 0, gap)
        keep = distance <= window
        out_first.append(rows[which[keep]])
        out_second.append(order[candidate[keep]])
        out_distance.append(distance[keep])
    if not out_first:
        empty = np.array([], dtype=np.int64)
        return empty, empty, empty
    return np.concatenate(out_first), np.concatenate(out_second), np.concatenate(out_distance)


def _harmonise_chromosomes(genes: pd.DataFrame, others: list[pd.DataFrame], report: list[str]) -> None:
    """Give the genes the ``chr`` naming of the peaks when the two differ only by that prefix (said once)."""
    gene_names = set(genes["chrom"].dropna().astype(str))
    peak_names = set().union(*(set(o["chrom"].astype(str)) for o in others)) if others else set()
    if not gene_names or not peak_names or gene_names & peak_names:
        return
    prefixed = {("chr" + c if not c.startswith("chr") else c) for c in gene_names}
    stripped = {c.removeprefix("chr") for c in gene_names}
    if prefixed & peak_names:
        genes["chrom"] = genes["chrom"].map(lambda c: c if not isinstance(c, str) or c.startswith("chr") else "chr" + c)
        report.append("the genes' chromosomes had no 'chr' prefix and the peaks' do: harmonised to the peaks' names (chr1, ...)")
    elif stripped & peak_names:
        genes["chrom"] = genes["chrom"].map(lambda c: c.removeprefix("chr") if isinstance(c, str) else c)
        report.append("the genes' chromosomes had a 'chr' prefix and the peaks' do not: harmonised to the peaks' names (1, ...)")


def guidance_graph(
    rna: AnnData,
    *others: AnnData,
    annotation: Any = None,
    promoter: int = 2000,
    window: int = 0,
    signs: Sequence[int] | None = None,
    gene_role: str = "mod1",
) -> GuidanceGraph:
    """GLUE's RNA-anchored guidance graph (``scglue.genomics.rna_anchored_guidance_graph`` with
    ``gene_region="combined"``), built without ``bedtools``.

    Parameters
    ----------
    rna
        The expression modality: its genes are the anchors.
    *others
        Modalities whose features are genomic intervals (peaks; see :func:`feature_intervals`).
    annotation
        Gene coordinates when ``rna.var`` has none: a genome build (``GRCh38``, ``GRCm39``,
        ``mm10``) or a file (:func:`dance.multi.genomes.read_annotation`). Use the build of the
        peaks (SNARE-seq: mm10).
    promoter
        Bases upstream of each gene's start (strand-aware) added to its body (scglue: 2,000).
    window
        Link features up to this many bases apart (0, scglue's default: overlaps only), weighted
        by :func:`distance_weight`.
    signs
        +1 or -1 per other modality (-1 for methylation-like layers); default +1.
    gene_role
        The name of ``rna`` in errors.

    Returns
    -------
    GuidanceGraph
        Features of ``rna`` then of each other modality; forward, reverse and self-loop edges.

    Raises
    ------
    DanceInputError
        Unparseable peaks, genes without strand when ``promoter > 0``, a wrong number of signs,
        or no edge at all.
    """
    signs = list(signs) if signs is not None else [1] * len(others)
    if len(signs) != len(others) or set(signs) - {1, -1}:
        raise DanceInputError(f"signs must hold +1 or -1 for each of the {len(others)} other modalities; got {signs}", field="signs")
    genes, report = gene_intervals(rna, annotation, role=gene_role)
    intervals = [feature_intervals(o, role=f"mod{i + 2}") for i, o in enumerate(others)]
    _harmonise_chromosomes(genes, intervals, report)
    placed = genes["chrom"].notna().to_numpy() & genes["start"].notna().to_numpy()
    if promoter > 0:
        unstranded = placed & (genes["strand"].to_numpy() == ".")
        if unstranded.any():
            which = ", ".join(map(str, rna.var_names[unstranded][:5]))
            raise DanceInputError(
                f"{gene_role}: {int(unstranded.sum())} genes with coordinates have no strand ({which}), so their promoters "
                "(upstream of the start) are unknown; give an annotation with strands, or promoter=0 for gene bodies only",
                field="annotation",
            )
    body = genes[placed].copy()
    plus = body["strand"].to_numpy() == "+"
    body["start"] = np.where(plus, body["start"] - promoter, body["start"]).clip(0).astype(np.int64)
    body["end"] = np.where(plus, body["end"], body["end"] + promoter).astype(np.int64)
    gene_rows = np.flatnonzero(placed)

    features = [str(n) for n in rna.var_names]
    modality = [np.zeros(rna.n_vars, dtype=np.int64)]
    offset = rna.n_vars
    src, dst, dist, sgn = [], [], [], []
    touched_total, n_peaks = 0, 0
    for index, (other, peaks, sign) in enumerate(zip(others, intervals, signs, strict=True)):
        gi, pi, d = interval_links(body, peaks, window=window)
        src.append(gene_rows[gi])
        dst.append(pi + offset)
        dist.append(d)
        sgn.append(np.full(d.size, sign, dtype=np.int8))
        features += [str(n) for n in other.var_names]
        modality.append(np.full(other.n_vars, index + 1, dtype=np.int64))
        touched_total += np.unique(pi).size
        n_peaks += other.n_vars
        offset += other.n_vars
    source = np.concatenate(src) if src else np.array([], dtype=np.int64)
    target = np.concatenate(dst) if dst else np.array([], dtype=np.int64)
    distance = np.concatenate(dist) if dist else np.array([], dtype=np.int64)
    sign_fwd = np.concatenate(sgn) if sgn else np.array([], dtype=np.int8)
    if others and source.size == 0:
        raise DanceInputError(
            "no gene is within reach of any peak: the genes' chromosomes "
            f"({', '.join(sorted(map(str, body['chrom'].unique()))[:3])}, ...) or coordinates do not match the peaks' "
            f"({', '.join(sorted(intervals[0]['chrom'].unique())[:3])}, ...); are they of the same genome build?",
            field="annotation",
        )
    if n_peaks and touched_total < n_peaks / 2:
        message = (
            f"only {touched_total} of {n_peaks} peaks ({touched_total / n_peaks:.0%}) touch a gene body or promoter: the annotation and the "
            "peaks are probably of different genome builds (SNARE-seq's peaks are mm10, not GRCm39)"
        )
        report.append(message)
        warnings.warn(message, stacklevel=2)
    weight = distance_weight(distance).astype(np.float32)
    n = len(features)
    loops = np.arange(n, dtype=np.int64)
    return GuidanceGraph(
        features=features,
        modality=np.concatenate(modality),
        source=np.concatenate([source, target, loops]),
        target=np.concatenate([target, source, loops]),
        weight=np.concatenate([weight, weight, np.ones(n, dtype=np.float32)]),
        sign=np.concatenate([sign_fwd, sign_fwd, np.ones(n, dtype=np.int8)]),
        distance=np.concatenate([distance, distance, np.zeros(n, dtype=np.int64)]),
        kind=np.concatenate([np.full(source.size, "fwd"), np.full(source.size, "rev"), np.full(n, "loop")]),
        report=report,
    )


def genomic_coordinates(adata: AnnData, annotation: Any = None) -> AnnData:
    """A copy of ``adata`` with its features' coordinates in ``var`` (``chrom``, ``chromStart``,
    ``chromEnd``, scglue's columns; ``strand`` for genes), so that :func:`guidance_graph` and
    users read them from the data: peaks parsed from their names, genes looked up in
    ``annotation`` (a build or a file, :func:`dance.multi.genomes.read_annotation`; genes without
    coordinates get NaN). The registered transform ``genomic_coordinates``."""
    from dance.multi.modality_kinds import modality_kind

    result = adata.copy()
    if modality_kind(adata) == "atac" and annotation is None:
        frame = feature_intervals(adata, role="data")
        result.var["chrom"] = frame["chrom"].to_numpy()
        result.var["chromStart"] = frame["start"].to_numpy()
        result.var["chromEnd"] = frame["end"].to_numpy()
        return result
    genes, report = gene_intervals(adata, annotation, role="data")
    result.var["chrom"] = genes["chrom"].to_numpy()
    result.var["chromStart"] = genes["start"].to_numpy(dtype=float)
    result.var["chromEnd"] = genes["end"].to_numpy(dtype=float)
    result.var["strand"] = genes["strand"].to_numpy()
    if report:
        result.uns["genomic_coordinates_report"] = report
    return result
