"""scglue 0.4.1's guidance graph for ``benchmarks/glue.py --graph-parity``: reads ``graph_genes.tsv``
(the genes with coordinates, scglue's BED columns) and ``graph_peaks.tsv`` that ``benchmarks.glue``
wrote, runs ``scglue.genomics.rna_anchored_guidance_graph`` (gene body + 2 kb promoter overlaps,
bedtools underneath) and writes its edges as ``scglue_graph.csv.gz`` with the seconds it took.

Runs in scglue's environment, with the ``bedtools`` binary on PATH::

    /path/to/scglue-env/bin/python benchmarks/glue_scglue_graph.py FOLDER
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path


def main() -> None:
    import anndata as ad
    import numpy as np
    import pandas as pd
    import scglue

    folder = Path(sys.argv[1])
    genes = pd.read_csv(folder / "graph_genes.tsv", sep="\t", index_col=0)
    peaks = pd.read_csv(folder / "graph_peaks.tsv", sep="\t", index_col=0)
    rna = ad.AnnData(np.zeros((1, len(genes)), dtype=np.float32), var=genes)
    atac = ad.AnnData(np.zeros((1, len(peaks)), dtype=np.float32), var=peaks)
    rna.var["highly_variable"] = True
    atac.var["highly_variable"] = True
    start = time.perf_counter()
    graph = scglue.genomics.rna_anchored_guidance_graph(rna, atac)
    seconds = time.perf_counter() - start
    rows = [(s, t, d["weight"], d["sign"], d["type"]) for s, t, d in graph.edges(data=True)]
    pd.DataFrame(rows, columns=["source", "target", "weight", "sign", "type"]).to_csv(folder / "scglue_graph.csv.gz", index=False)
    (folder / "scglue_graph.json").write_text(json.dumps({"seconds": seconds, "edges": len(rows)}))


if __name__ == "__main__":
    main()
