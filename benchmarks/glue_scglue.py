"""scglue 0.4.1's side of ``benchmarks/glue.py``: fits ``scglue.models.fit_SCGLUE`` on the files
``benchmarks.glue`` prepared (the same genes, peaks, guidance graph and PCA / LSI as dance's GLUE)
and writes the cell and feature embeddings, the fit's seconds, its epochs per stage (from scglue's
own per-epoch log lines) and the process's peak memory.

Runs in an environment with scglue (``pip install scglue==0.4.1``), not dance's::

    /path/to/scglue-env/bin/python benchmarks/glue_scglue.py PREPARED_DIR OUT_DIR --seed 0 [--max-epochs N]

Only scglue, anndata, networkx, numpy and pandas are imported: this file is not part of dance.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import time
from pathlib import Path


def peak_memory_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class EpochLog(logging.Handler):
    """Counts scglue's ``[Epoch N] ...`` lines (printed every epoch with PRINT_LOSS_INTERVAL = 1)."""

    def __init__(self) -> None:
        super().__init__()
        self.epochs: list[int] = []
        self.stages: list[list[int]] = [[]]

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message.startswith("Fine-tuning SCGLUE"):
            self.stages.append([])
        found = re.match(r"\[Epoch (\d+)\]", message)
        if found:
            self.stages[-1].append(int(found.group(1)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("prepared", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-epochs", type=int, default=None)
    args = parser.parse_args()

    import anndata as ad
    import networkx as nx
    import numpy as np
    import pandas as pd
    import scglue
    import torch

    scglue.config.PRINT_LOSS_INTERVAL = 1
    scglue.config.CPU_ONLY = True
    log = EpochLog()
    logging.getLogger().addHandler(log)
    for name in ("fit_SCGLUE", "SCGLUEModel", "SCGLUETrainer"):
        logging.getLogger(name).addHandler(log)

    rna = ad.read_h5ad(args.prepared / "rna.h5ad")
    atac = ad.read_h5ad(args.prepared / "atac.h5ad")
    edges = pd.read_csv(args.prepared / "graph.csv.gz")
    graph = nx.MultiDiGraph()
    graph.add_nodes_from(list(rna.var_names) + list(atac.var_names))
    for row in edges.itertuples(index=False):
        graph.add_edge(row.source, row.target, weight=float(row.weight), sign=int(row.sign), type=row.type)
    batch = "batch" if "batch" in rna.obs.columns and "batch" in atac.obs.columns else None
    scglue.models.configure_dataset(rna, "NB", use_highly_variable=True, use_rep="X_pca", use_batch=batch)
    scglue.models.configure_dataset(atac, "NB", use_highly_variable=True, use_rep="X_lsi", use_batch=batch)
    fit_kws = {"directory": str(args.out / "scglue_train")}
    if args.max_epochs:
        fit_kws["max_epochs"] = args.max_epochs
    # the tutorial's handlers report through scglue's loggers; attach after import as well
    for logger in logging.Logger.manager.loggerDict.values():
        if isinstance(logger, logging.Logger) and (logger.name.startswith("fit_SCGLUE") or "SCGLUE" in logger.name):
            logger.addHandler(log)
    start = time.perf_counter()
    model = scglue.models.fit_SCGLUE({"rna": rna, "atac": atac}, graph, init_kws={"random_seed": args.seed}, fit_kws=fit_kws)
    fit_seconds = time.perf_counter() - start
    args.out.mkdir(parents=True, exist_ok=True)
    np.save(args.out / "embedding_mod1.npy", model.encode_data("rna", rna))
    np.save(args.out / "embedding_mod2.npy", model.encode_data("atac", atac))
    features = model.encode_graph(graph)
    np.save(args.out / "feature_embedding.npy", features)
    epochs = [max(stage) if stage else 0 for stage in log.stages]
    record = {
        "implementation": "scglue 0.4.1",
        "seed": args.seed,
        "fit_seconds": fit_seconds,
        "epochs": {"pretrain": epochs[0], "finetune": epochs[-1] if len(epochs) > 1 else 0},
        "peak_memory_mb": peak_memory_mb(),
        "torch_threads": torch.get_num_threads(),
        "feature_order": [str(v) for v in model.vertices],
    }
    (args.out / "timing.json").write_text(json.dumps(record, indent=1))


if __name__ == "__main__":
    main()
