"""dance's GLUE against scglue 0.4.1 on SNARE-seq (Chen 2019, 10,309 cells of mouse cortex, RNA
and ATAC of the same cells treated as unpaired), with the same genes, peaks, guidance graph and
PCA / LSI, one run after the other, each in its own process; and the gene-activity baseline.

Writes ``docs/benchmarks/glue.md`` and ``glue.csv``: FOSCTTM (the pairing is used only here),
label transfer accuracy (RNA's cell types to the ATAC cells by 5 nearest neighbours), integration
consistency at 10 / 20 / 50 / 100 / 200 metacells, fit seconds, epochs of each stage, seconds
per training iteration (one minibatch of each modality) and peak memory of the process.

scglue's environment (scanpy 1.11.5's ``neighbors`` needs the older sparse matrices)::

    python -m venv scglue-env && scglue-env/bin/pip install torch==2.13.0 scglue==0.4.1 \
        "scipy<1.15" "scikit-learn<1.7" "pynndescent<0.6"

Usage::

    DANCE_DATA_DIR=../shared/data python -m benchmarks.glue --seeds 0 1 2 \\
        --scglue-python /path/to/scglue-env/bin/python --scglue-seeds 0
    python -m benchmarks.glue --seeds 0 --max-epochs 3 --scglue-python ...   # speed at equal epochs
    python -m benchmarks.glue --report-only                                  # tables from the runs

Runs hold the machine lock ``/tmp/dance-bench.lock``; a run whose ``timing.json`` exists is not
repeated (``--force`` repeats it).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.harness import DOCS, ROOT, bench_lock, generated_line

RESULTS = ROOT / "benchmarks" / "results" / "glue"
DATASET = "snareseq_chen2019"
ANNOTATION = "mm10"


def prepare(folder: Path, *, seed: int = 0) -> Path:
    """The unpaired input both implementations read: the task's hold-out (ATAC cells shuffled and
    renamed; the pairing and the ATAC labels kept aside in ``truth.npz``), the HVGs and the peaks
    they reach flagged as ``var['highly_variable']``, ``obsm['X_pca']`` / ``obsm['X_lsi']`` and
    the guidance graph (``graph.csv.gz``) as dance's GLUE builds them."""
    import anndata as ad
    import scipy.sparse as sp

    from dance.core.data import load_dataset
    from dance.core.keys import DataKeys
    from dance.core.tasks.multiomics_integration import MultiomicsIntegration
    from dance.multi.features import most_variable_counts
    from dance.multi.guidance_graph import guidance_graph
    from dance.multi.multiomics_integration.glue import scglue_lsi, scglue_pca

    folder.mkdir(parents=True, exist_ok=True)
    if (folder / "graph.csv.gz").exists():
        return folder
    data = load_dataset(DATASET, "multiomics_integration")
    unpaired, truth = MultiomicsIntegration().holdout(data, DataKeys(), seed=seed)
    rna, atac = unpaired.mod1, unpaired.mod2
    rna_counts = sp.csr_matrix(rna.layers.get("counts", rna.X), dtype=np.float32)
    atac_counts = sp.csr_matrix(atac.layers.get("counts", atac.X), dtype=np.float32)
    genes = most_variable_counts(rna_counts, 2000, role="mod1")
    full = guidance_graph(rna, atac, annotation=ANNOTATION)
    peaks = np.flatnonzero(full.reachable_from(rna.var_names[genes])[rna.n_vars :])
    graph = guidance_graph(rna[:, genes], atac[:, peaks], annotation=ANNOTATION)
    out_rna = ad.AnnData(X=rna_counts, obs=rna.obs[[c for c in ("cell_type", "batch") if c in rna.obs]].copy(), var=rna.var[[]].copy())
    out_atac = ad.AnnData(X=atac_counts, obs=atac.obs[[c for c in ("batch",) if c in atac.obs]].copy(), var=atac.var[[]].copy())
    out_rna.var["highly_variable"] = np.isin(np.arange(rna.n_vars), genes)
    out_atac.var["highly_variable"] = np.isin(np.arange(atac.n_vars), peaks)
    out_rna.obsm["X_pca"] = scglue_pca(rna_counts[:, genes], 100, seed)
    out_atac.obsm["X_lsi"] = scglue_lsi(atac_counts, 100, seed)
    out_rna.uns["genome"] = out_atac.uns["genome"] = ANNOTATION
    out_rna.write_h5ad(folder / "rna.h5ad")
    out_atac.write_h5ad(folder / "atac.h5ad")
    names = np.asarray(graph.features)
    pd.DataFrame(
        {
            "source": names[graph.source],
            "target": names[graph.target],
            "weight": graph.weight,
            "sign": graph.sign,
            "type": graph.kind,
        }
    ).to_csv(folder / "graph.csv.gz", index=False)
    np.savez(folder / "truth.npz", partner=truth.partner, labels1=truth.labels1, labels2=truth.labels2.astype(str))
    return folder


def run_dance(prepared: Path, out: Path, *, seed: int, max_epochs: int | None) -> None:
    """dance's GLUE on the prepared files (it selects the same genes and peaks and builds the same
    graph and representations itself); the cell and feature embeddings and the timing."""
    import anndata as ad
    import torch

    from dance.core.containers import Modalities
    from dance.multi.multiomics_integration.glue import GLUE

    rna, atac = ad.read_h5ad(prepared / "rna.h5ad"), ad.read_h5ad(prepared / "atac.h5ad")
    for adata in (rna, atac):
        del adata.var["highly_variable"]
        adata.obsm.clear()
    params: dict[str, Any] = {"annotation": ANNOTATION}
    if max_epochs:
        params["max_epochs"] = max_epochs
    model = GLUE(params, seed=seed, device="cpu")
    fit_seconds = _fit_and_save_embeddings(model, Modalities(rna, atac, ("rna", "atac")), out)
    np.save(out / "feature_embedding.npy", model.feature_embeddings_)
    notes = model.notes_
    epochs = {"pretrain": notes["glue_pretrain_epochs"], "finetune": notes["glue_finetune_epochs"]}
    record = {
        "implementation": "dance",
        "seed": seed,
        "fit_seconds": fit_seconds,
        "epochs": epochs,
        "peak_memory_mb": _peak_memory_mb(),
        "torch_threads": torch.get_num_threads(),
        "feature_order": list(model.genes_) + list(model.peaks_),
    }
    (out / "timing.json").write_text(json.dumps(record, indent=1))


def _fit_and_save_embeddings(model: Any, data: Any, out: Path) -> float:
    """Fit ``model`` on ``data``, save both modalities' embeddings into ``out``; the fit's seconds."""
    start = time.perf_counter()
    model.fit(data)
    fit_seconds = time.perf_counter() - start
    emb1, emb2 = model.predict(data)
    out.mkdir(parents=True, exist_ok=True)
    np.save(out / "embedding_mod1.npy", emb1)
    np.save(out / "embedding_mod2.npy", emb2)
    return fit_seconds


BASELINES = {
    "geneactivity_pca": "dance.multi.multiomics_integration.geneactivity_pca:GeneActivityPCA",
    "geneactivity_harmony": "dance.multi.multiomics_integration.geneactivity_harmony:GeneActivityHarmony",
}


def run_baseline(prepared: Path, out: Path, *, seed: int, model: str = "geneactivity_pca") -> None:
    """A gene-activity baseline (``BASELINES``), the same way."""
    import importlib

    import anndata as ad

    from dance.core.containers import Modalities

    module, name = BASELINES[model].split(":")
    cls = getattr(importlib.import_module(module), name)
    rna, atac = ad.read_h5ad(prepared / "rna.h5ad"), ad.read_h5ad(prepared / "atac.h5ad")
    model_instance = cls({"annotation": ANNOTATION}, seed=seed, device="cpu")
    fit_seconds = _fit_and_save_embeddings(model_instance, Modalities(rna, atac, ("rna", "atac")), out)
    record = {"implementation": f"dance {model}", "seed": seed, "fit_seconds": fit_seconds, "peak_memory_mb": _peak_memory_mb()}
    (out / "timing.json").write_text(json.dumps(record, indent=1))


def graph_parity(folder: Path, scglue_python: str) -> None:
    """dance's guidance graph against scglue's ``rna_anchored_guidance_graph`` on every SNARE-seq
    gene with mm10 coordinates and every peak; writes ``docs/benchmarks/glue_graph_parity.md``."""
    import anndata as ad

    from dance.multi.guidance_graph import feature_intervals, gene_intervals, guidance_graph

    folder.mkdir(parents=True, exist_ok=True)
    data = ad.read_h5ad(RESULTS / "prepared" / "rna.h5ad"), ad.read_h5ad(RESULTS / "prepared" / "atac.h5ad")
    rna, atac = data
    genes, _ = gene_intervals(rna, ANNOTATION)
    keep = genes["chrom"].notna().to_numpy() & genes["strand"].isin(["+", "-"]).to_numpy()
    rna = rna[:, keep].copy()
    genes = genes[keep]
    pd.DataFrame(
        {
            "chrom": genes["chrom"],
            "chromStart": genes["start"].astype(int),
            "chromEnd": genes["end"].astype(int),
            "strand": genes["strand"],
        },
        index=rna.var_names,
    ).to_csv(folder / "graph_genes.tsv", sep="\t")
    peaks = feature_intervals(atac)
    pd.DataFrame(
        {"chrom": peaks["chrom"].to_numpy(), "chromStart": peaks["start"].to_numpy(), "chromEnd": peaks["end"].to_numpy()},
        index=atac.var_names,
    ).to_csv(folder / "graph_peaks.tsv", sep="\t")
    with bench_lock():
        start = time.perf_counter()
        ours = guidance_graph(rna, atac, annotation=ANNOTATION)
        dance_seconds = time.perf_counter() - start
        subprocess.run([scglue_python, str(ROOT / "benchmarks" / "glue_scglue_graph.py"), str(folder)], check=True)
    names = np.asarray(ours.features)
    mine = pd.DataFrame(
        {"source": names[ours.source], "target": names[ours.target], "weight": ours.weight, "sign": ours.sign, "type": ours.kind}
    )
    theirs = pd.read_csv(folder / "scglue_graph.csv.gz")
    scglue_seconds = json.loads((folder / "scglue_graph.json").read_text())["seconds"]
    lines = [
        "# GLUE's guidance graph: dance against scglue 0.4.1",
        "",
        generated_line("glue") + " (`--graph-parity`)",
        "",
        f"SNARE-seq, the {rna.n_vars:,} of {len(keep):,} genes with mm10 coordinates and a strand and all {atac.n_vars:,} peaks; "
        "gene body + 2 kb upstream overlaps (both defaults), reverse edges and self-loops. dance: "
        "`dance.multi.guidance_graph.guidance_graph`; scglue: `scglue.genomics.rna_anchored_guidance_graph` "
        "(bedtools 2.30.0 underneath). Seconds include both graphs' construction from coordinates, "
        "nothing else running.",
        "",
        "| edge type | dance | scglue | in both | dance only | scglue only | same weight and sign |",
        "|---|---|---|---|---|---|---|",
    ]
    for kind in ("fwd", "rev", "loop"):
        a = mine[mine["type"] == kind].set_index(["source", "target"])
        b = theirs[theirs["type"] == kind].set_index(["source", "target"])
        both = a.index.intersection(b.index)
        same = int(
            (
                (a.loc[both, "weight"].to_numpy() == b.loc[both, "weight"].to_numpy())
                & (a.loc[both, "sign"].to_numpy() == b.loc[both, "sign"].to_numpy())
            ).sum()
        )
        lines.append(
            f"| {kind} | {len(a):,} | {len(b):,} | {len(both):,} | {len(a.index.difference(b.index)):,} | {len(b.index.difference(a.index)):,} | {same:,} |"
        )
        for label, extra in (("dance only", a.index.difference(b.index)), ("scglue only", b.index.difference(a.index))):
            if len(extra):
                lines.append(f"|  | {label}, e.g. | {', '.join(f'{s} - {t}' for s, t in list(extra[:3]))} | | | | |")
    lines += ["", f"Seconds: dance {dance_seconds:.2f}, scglue {scglue_seconds:.2f}.", ""]
    (DOCS / "glue_graph_parity.md").write_text("\n".join(lines))
    print("\n".join(lines))


def _peak_memory_mb() -> float:
    from dance.core.measurement import _ru_maxrss_mb

    return _ru_maxrss_mb()


def score(prepared: Path, out: Path) -> dict[str, Any]:
    """FOSCTTM, label transfer and integration consistency of one run's embeddings."""
    import anndata as ad
    import scipy.sparse as sp

    from dance.core.metrics import omics_integration
    from dance.core.metrics.matching import foscttm, label_transfer_accuracy
    from dance.core.tasks.multiomics_integration import MultiomicsTruth
    from dance.multi.consistency import integration_consistency
    from dance.multi.guidance_graph import guidance_graph

    saved = np.load(prepared / "truth.npz", allow_pickle=True)
    truth = MultiomicsTruth(saved["partner"], saved["labels1"], saved["labels2"], _representations(prepared))
    embeddings = (np.load(out / "embedding_mod1.npy"), np.load(out / "embedding_mod2.npy"))
    row = dict(json.loads((out / "timing.json").read_text()))
    row.pop("feature_order", None)
    row["foscttm"] = foscttm(truth, embeddings)
    row["label_transfer_accuracy"] = label_transfer_accuracy(truth, embeddings)
    for metric in (*omics_integration.BIO_METRICS, *omics_integration.MIXING_METRICS, "glue_overall"):
        row[metric] = getattr(omics_integration, METRIC_FUNCTIONS.get(metric, metric))(truth, embeddings)
    if "epochs" in row:
        rna, atac = ad.read_h5ad(prepared / "rna.h5ad"), ad.read_h5ad(prepared / "atac.h5ad")
        rna, atac = rna[:, rna.var["highly_variable"].to_numpy()], atac[:, atac.var["highly_variable"].to_numpy()]
        graph = guidance_graph(rna, atac, annotation=ANNOTATION)
        curve = integration_consistency(embeddings, [sp.csr_matrix(rna.X), sp.csr_matrix(atac.X)], graph)
        for n_meta, value in zip(curve["n_meta"], curve["consistency"], strict=True):
            row[f"consistency_{n_meta}"] = float(value)
        epochs = row.pop("epochs")
        row["pretrain_epochs"], row["finetune_epochs"] = epochs["pretrain"], epochs["finetune"]
        # both run scglue's epoch: the rows of all cells of both modalities, 10 % held out, 128 a minibatch
        row["iterations"] = (epochs["pretrain"] + epochs["finetune"]) * int(np.ceil((rna.n_obs + atac.n_obs) * 0.9 / 128))
        row["seconds_per_iteration"] = row["fit_seconds"] / row["iterations"]
    return row


#: registry name -> function of dance.core.metrics.omics_integration, where they differ
METRIC_FUNCTIONS = {"map": "mean_average_precision"}


def _representations(prepared: Path) -> tuple[np.ndarray, np.ndarray]:
    """Each modality's own representation (PCA of the RNA, LSI of the peaks), as the task's hold-out
    computes it for neighbour conservation; cached next to the prepared files."""
    cache = prepared / "representations.npz"
    if cache.exists():
        saved = np.load(cache)
        return saved["mod1"], saved["mod2"]
    import anndata as ad

    from dance.core.keys import DataKeys
    from dance.core.tasks.multiomics_integration import unintegrated_representation

    rna, atac = ad.read_h5ad(prepared / "rna.h5ad"), ad.read_h5ad(prepared / "atac.h5ad")
    reps = (unintegrated_representation(rna, DataKeys(), seed=0), unintegrated_representation(atac, DataKeys(), seed=0))
    np.savez(cache, mod1=reps[0], mod2=reps[1])
    return reps


def write_report(rows: list[dict[str, Any]], *, max_epochs: int | None, note: str) -> None:
    frame = pd.DataFrame(rows)
    stem = "glue" if not max_epochs else f"glue_{max_epochs}_epochs"
    DOCS.mkdir(parents=True, exist_ok=True)
    frame.to_csv(DOCS / f"{stem}.csv", index=False)
    columns = [
        c
        for c in (
            "implementation",
            "seed",
            "foscttm",
            "label_transfer_accuracy",
            "glue_overall",
            "map",
            "neighbor_conservation",
            "seurat_alignment_score",
            "consistency_10",
            "consistency_50",
            "consistency_200",
            "fit_seconds",
            "pretrain_epochs",
            "finetune_epochs",
            "seconds_per_iteration",
            "peak_memory_mb",
        )
        if c in frame.columns
    ]
    lines = [
        f"# GLUE: dance against scglue 0.4.1 on SNARE-seq{f' ({max_epochs} epochs a stage)' if max_epochs else ''}",
        "",
        generated_line("glue") + (f" (`--max-epochs {max_epochs}`)" if max_epochs else ""),
        "",
        "One run at a time, each in its own process with two threads, nothing else running.",
        "",
        "| " + " | ".join(columns) + " |",
        "|" + "---|" * len(columns),
    ]
    for record in frame[columns].to_dict("records"):
        lines.append("| " + " | ".join(_cell(record[c]) for c in columns) + " |")
    lines += ["", "Mean (sd) over seeds:", "", "| implementation | runs | FOSCTTM | GLUE overall | fit seconds |", "|---|---|---|---|---|"]
    for name, group in frame.groupby("implementation", sort=False):
        lines.append(
            f"| {name} | {len(group)} | {group['foscttm'].mean():.4f} ({group['foscttm'].std():.4f}) | "
            f"{group['glue_overall'].mean():.4f} | "
            f"{group['fit_seconds'].mean():.0f} ({group['fit_seconds'].std():.0f}) |"
        )
    lines.append("")
    if {"dance", "scglue 0.4.1"} <= set(frame["implementation"]):
        ratio = (
            frame.loc[frame["implementation"] == "dance", "fit_seconds"].mean()
            / frame.loc[frame["implementation"] == "scglue 0.4.1", "fit_seconds"].mean()
        )
        lines += [f"Fit time, dance / scglue: **{ratio:.2f}**.", ""]
    if note:
        lines += [note, ""]
    (DOCS / f"{stem}.md").write_text("\n".join(lines))


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1000 else f"{value:.0f}"
    return str(value)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="*", default=[0, 1, 2], help="dance GLUE seeds")
    parser.add_argument("--scglue-seeds", type=int, nargs="*", default=[0])
    parser.add_argument("--scglue-python", default=os.environ.get("SCGLUE_PYTHON"), help="python of an environment with scglue 0.4.1")
    parser.add_argument("--max-epochs", type=int, default=None, help="epochs of each stage for both (default: scglue's AUTO rule)")
    parser.add_argument("--baseline", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--force", action="store_true")
    parser.add_argument("--report-only", action="store_true")
    parser.add_argument("--note", default="", help="a paragraph written under the table")
    parser.add_argument("--graph-parity", action="store_true", help="compare the guidance graph with scglue's (needs bedtools)")
    parser.add_argument("--worker", choices=("dance", *BASELINES), help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    prepared = RESULTS / "prepared"
    if args.worker:
        if args.worker == "dance":
            run_dance(prepared, args.out, seed=args.seeds[0], max_epochs=args.max_epochs)
        else:
            run_baseline(prepared, args.out, seed=args.seeds[0], model=args.worker)
        return
    if args.graph_parity:
        with bench_lock():
            prepare(prepared)
        graph_parity(RESULTS / "graph_parity", args.scglue_python)
        return
    tag = f"epochs{args.max_epochs}" if args.max_epochs else "auto"
    runs: list[tuple[str, int, list[str]]] = []
    epochs_args = ["--max-epochs", str(args.max_epochs)] if args.max_epochs else []
    for seed in args.seeds:
        command = [sys.executable, "-m", "benchmarks.glue", "--worker", "dance", "--seeds", str(seed), *epochs_args]
        runs.append((f"dance_{tag}_seed{seed}", seed, command))
    if args.scglue_python:
        for seed in args.scglue_seeds:
            command = [
                args.scglue_python,
                str(ROOT / "benchmarks" / "glue_scglue.py"),
                str(prepared),
                "",
                "--seed",
                str(seed),
                *epochs_args,
            ]
            runs.append((f"scglue_{tag}_seed{seed}", seed, command))
    if args.baseline:
        for baseline in BASELINES:
            runs.append((f"{baseline}_seed0", 0, [sys.executable, "-m", "benchmarks.glue", "--worker", baseline, "--seeds", "0"]))
    if not args.report_only:
        with bench_lock():
            prepare(prepared)
        for name, _, command in runs:
            out = RESULTS / name
            if (out / "timing.json").exists() and not args.force:
                print(f"{name}: done before, skipped", flush=True)
                continue
            if "--worker" in command:
                command = [*command, "--out", str(out)]
            else:
                command[3] = str(out)
            print(f"{name}: {' '.join(command)}", flush=True)
            env = {**os.environ, "OMP_NUM_THREADS": "2", "MKL_NUM_THREADS": "2"}
            with bench_lock():
                subprocess.run(command, check=True, env=env)
    rows = [score(prepared, RESULTS / name) for name, _, _ in runs if (RESULTS / name / "timing.json").exists()]
    write_report(rows, max_epochs=args.max_epochs, note=args.note)
    print((DOCS / ("glue.md" if not args.max_epochs else f"glue_{args.max_epochs}_epochs.md")).read_text())


if __name__ == "__main__":
    main()
