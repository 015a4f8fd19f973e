"""Scale benchmark of centroid-level OT integration (``integrate_centroids``).

Writes ``docs/benchmarks/integration_scale.md`` and ``.csv``:

* **scale**: synthetic 1M- and 10M-cell x 50-dim embeddings (``synthetic_scale.write_embedding``,
  backed ``.h5ad``) integrated from disk by ``integrate_centroids`` with scBIOT's defaults
  (2,048 centroids per batch, k-means on at most 500,000 cells per batch, ``k_interp=8``,
  500,000-row chunks), output streamed to a ``.npy`` file. Each run happens in a fresh worker
  process that does only this; it reports wall seconds, cells per second and its own peak
  resident memory (``getrusage`` ``ru_maxrss``: imports included, and the increase over the
  memory after imports). scIB metrics of the result (and of the input) are computed afterwards on
  a random subset of cells.
* **compare**: a 100,000-cell synthetic embedding (in memory), integrated by full-cell OT (the
  ``ot`` model's algorithm), by centroid OT at its defaults, and left unintegrated; all scIB
  metrics of the batch-integration task on every cell.

Usage (heavy: run in the background; each stage holds the benchmark lock ``/tmp/dance-bench.lock``)::

    python -m benchmarks.integration_scale all --data-dir /tmp/dance-integration-scale
    python -m benchmarks.integration_scale compare         # one stage: write | scale | compare | tables
    python -m benchmarks.integration_scale all --clean     # remove the data files afterwards

Stages write their results as JSON into ``<data-dir>/results``; ``tables`` (run by ``all``) turns
them into the Markdown and CSV files. The data files are never committed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.harness import DOCS, ROOT, bench_lock

SIZES = {"1M": 1_000_000, "10M": 10_000_000}
N_DIMS, N_BATCHES, N_TYPES, SEED = 50, 4, 12, 0
COMPARE_CELLS = 100_000
METRIC_SUBSET = 50_000  # cells on which scale runs are scored
DEFAULT_DIR = Path(os.environ.get("DANCE_SCALE_DIR", "/tmp/dance-integration-scale"))


# ---------------------------------------------------------------------------- helpers
def _log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def _save(results: Path, name: str, record: dict[str, Any]) -> None:
    results.mkdir(parents=True, exist_ok=True)
    (results / f"{name}.json").write_text(json.dumps(record, indent=1, default=float))


def _scib(embedding: np.ndarray, batch: np.ndarray, labels: np.ndarray, unintegrated: np.ndarray) -> dict[str, float]:
    """Every registered batch-integration metric, as ``dance run`` computes them."""
    from dance.core.keys import DataKeys
    from dance.core.tasks.batch_integration import BatchIntegration, IntegrationOutput, IntegrationTruth

    truth = IntegrationTruth(batch=batch.astype(str), labels=labels.astype(str), unintegrated=unintegrated)
    return BatchIntegration().evaluate(IntegrationOutput(embedding=embedding), truth, DataKeys())


def _gather(path: Path, rows: np.ndarray, key: str = "X_pca", chunk: int = 1_000_000) -> np.ndarray:
    """Rows (sorted indices) of an on-disk embedding (.h5ad obsm or .npy), read chunk by chunk."""
    if path.suffix == ".npy":
        return np.asarray(np.load(path, mmap_mode="r")[rows])
    import h5py

    with h5py.File(path, "r") as f:
        data = f["obsm"][key]
        parts = []
        for lo in range(0, data.shape[0], chunk):
            hi = min(lo + chunk, data.shape[0])
            mine = rows[(rows >= lo) & (rows < hi)]
            if len(mine):
                parts.append(data[lo:hi][mine - lo])
        return np.concatenate(parts)


def _obs_codes(path: Path, column: str) -> np.ndarray:
    import h5py

    with h5py.File(path, "r") as f:
        group = f["obs"][column]
        categories = np.array([c.decode() if isinstance(c, bytes) else c for c in group["categories"][...]])
        return categories[group["codes"][...]]


# ---------------------------------------------------------------------------- stages
def stage_write(data_dir: Path) -> None:
    from dance.single.batch_integration.synthetic_scale import write_embedding

    data_dir.mkdir(parents=True, exist_ok=True)
    for label, n in SIZES.items():
        path = data_dir / f"embedding_{label}.h5ad"
        if path.exists():
            _log(f"{path} exists")
            continue
        free = shutil.disk_usage(data_dir).free
        need = 2.6 * n * N_DIMS * 4  # input + output .npy, with margin
        if free < need:
            raise SystemExit(f"not enough disk space in {data_dir}: {free / 1e9:.1f} GB free, {need / 1e9:.1f} GB needed")
        started = time.perf_counter()
        write_embedding(path.with_suffix(".part.h5ad"), n, N_DIMS, N_BATCHES, N_TYPES, seed=SEED, overwrite=True)
        path.with_suffix(".part.h5ad").rename(path)
        _log(f"wrote {path} ({path.stat().st_size / 1e9:.2f} GB) in {time.perf_counter() - started:.0f} s")


def worker(input_path: str, output_path: str, json_path: str) -> None:
    """One integration in this (fresh) process; reports its own time and peak memory."""
    import anndata  # noqa: F401 -- imports counted in the baseline, as in any real use
    import faiss  # noqa: F401
    import h5py  # noqa: F401
    import ot  # noqa: F401
    import torch

    from dance.single.batch_integration.optimal_transport.centroid_integration import integrate_centroids

    after_imports = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    started = time.perf_counter()
    _, metrics = integrate_centroids(input_path, obsm_key="X_pca", tmp_path=output_path, progress=False)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    record = {
        **metrics,
        "wall_seconds": seconds,
        "cells_per_second": metrics["n_cells"] / seconds,
        "peak_rss_mb": peak,
        "rss_after_imports_mb": after_imports,
        "peak_rss_increase_mb": peak - after_imports,
        "torch_threads": torch.get_num_threads(),
        "load_average_1min": os.getloadavg()[0],
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", ""),
    }
    Path(json_path).write_text(json.dumps(record, default=float))


def stage_scale(data_dir: Path, results: Path, sizes: list[str]) -> None:
    for label in sizes:
        path = data_dir / f"embedding_{label}.h5ad"
        if not path.exists():
            raise SystemExit(f"{path} missing: run the 'write' stage first")
        out = data_dir / f"integrated_{label}.npy"
        record_path = data_dir / f"worker_{label}.json"
        _log(f"integrating {label} from {path}")
        # OpenMP threads that sleep instead of spinning while they wait: on a machine shared with
        # other jobs, spinning FAISS/torch threads made k-means 3-4x slower (measured)
        env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE"}
        with bench_lock():
            done = subprocess.run(
                [sys.executable, "-m", "benchmarks.integration_scale", "worker", str(path), str(out), str(record_path)],
                capture_output=True,
                text=True,
                env=env,
                cwd=ROOT,
            )
        if done.returncode != 0:
            raise SystemExit(f"worker {label} failed:\n{done.stderr[-3000:]}")
        record = json.loads(record_path.read_text())
        _log(f"{label}: {record['wall_seconds']:.0f} s, {record['cells_per_second']:.0f} cells/s, peak RSS {record['peak_rss_mb']:.0f} MB")
        rng = np.random.default_rng(SEED)
        n = SIZES[label]
        rows = np.sort(rng.choice(n, size=min(METRIC_SUBSET, n), replace=False))
        before = _gather(path, rows)
        after = _gather(out, rows)
        batch = _obs_codes(path, "batch")[rows]
        labels = _obs_codes(path, "cell_type")[rows]
        with bench_lock():
            record["metrics_subset"] = len(rows)
            record["metrics_unintegrated"] = _scib(before, batch, labels, before)
            record["metrics"] = _scib(after, batch, labels, before)
        _log(f"{label}: overall {record['metrics_unintegrated']['overall']:.3f} -> {record['metrics']['overall']:.3f}")
        _save(results, f"scale_{label}", record)
        out.unlink(missing_ok=True)


def stage_compare(results: Path) -> None:
    from dance.single.batch_integration.optimal_transport.centroid_integration import integrate_centroids
    from dance.single.batch_integration.optimal_transport.ot import OT, integrate_cells
    from dance.single.batch_integration.synthetic_scale import make_embedding

    adata = make_embedding(COMPARE_CELLS, N_DIMS, N_BATCHES, N_TYPES, seed=SEED)
    x = np.asarray(adata.X)
    batch = adata.obs["batch"].astype(str).to_numpy()
    labels = adata.obs["cell_type"].astype(str).to_numpy()
    runs: dict[str, Any] = {}
    with bench_lock():
        _log("compare: unintegrated")
        runs["unintegrated"] = {"seconds": 0.0, "embedding": x, "notes": {}}
        _log("compare: full-cell OT")
        started = time.perf_counter()
        full, notes = integrate_cells(x, batch, None, OT.Params(), device="cpu", seed=SEED)
        runs["ot (full cells)"] = {"seconds": time.perf_counter() - started, "embedding": full, "notes": notes}
        _log(f"compare: full-cell OT {runs['ot (full cells)']['seconds']:.0f} s")
        started = time.perf_counter()
        out, metrics = integrate_centroids(adata.copy(), progress=False, use_gpu=False)
        runs["ot_centroids (2048/batch)"] = {
            "seconds": time.perf_counter() - started,
            "embedding": out.obsm["X_ot_centroids"],
            "notes": {k: metrics[k] for k in ("n_centroids", "reference", "kmeans_seconds", "ot_seconds", "interpolation_seconds")},
        }
        _log(f"compare: centroid OT {runs['ot_centroids (2048/batch)']['seconds']:.0f} s")
    for name, run in runs.items():
        with bench_lock():
            started = time.perf_counter()
            run["metrics"] = _scib(run.pop("embedding"), batch, labels, x)
        _log(f"compare: {name} overall {run['metrics']['overall']:.4f} (metrics {time.perf_counter() - started:.0f} s)")
    _save(results, "compare_100k", {"n_cells": COMPARE_CELLS, "runs": runs})


# ---------------------------------------------------------------------------- tables
METRICS = ["nmi", "ari", "asw_label", "isolated_label_f1", "clisi", "asw_batch", "graph_connectivity", "ilisi", "kbet", "pcr_comparison"]
AGGREGATES = ["bio_conservation", "batch_correction", "overall"]


def stage_tables(results: Path) -> None:
    import pandas as pd

    rows = []
    scale = {
        label: json.loads((results / f"scale_{label}.json").read_text()) for label in SIZES if (results / f"scale_{label}.json").exists()
    }
    for label, r in scale.items():
        for kind, metrics in (("unintegrated", r["metrics_unintegrated"]), ("ot_centroids", r["metrics"])):
            rows.append(
                {
                    "experiment": f"scale {label}",
                    "method": kind,
                    "n_cells": r["n_cells"],
                    "seconds": r["wall_seconds"] if kind == "ot_centroids" else None,
                    "cells_per_second": r["cells_per_second"] if kind == "ot_centroids" else None,
                    "peak_rss_mb": r["peak_rss_mb"] if kind == "ot_centroids" else None,
                    "peak_rss_increase_mb": r["peak_rss_increase_mb"] if kind == "ot_centroids" else None,
                    "scored_cells": r["metrics_subset"],
                    **{m: metrics.get(m) for m in METRICS + AGGREGATES},
                }
            )
    compare = json.loads((results / "compare_100k.json").read_text()) if (results / "compare_100k.json").exists() else None
    if compare:
        for name, run in compare["runs"].items():
            rows.append(
                {
                    "experiment": "compare 100k",
                    "method": name,
                    "n_cells": compare["n_cells"],
                    "seconds": run["seconds"] or None,
                    "cells_per_second": compare["n_cells"] / run["seconds"] if run["seconds"] else None,
                    "scored_cells": compare["n_cells"],
                    **{m: run["metrics"].get(m) for m in METRICS + AGGREGATES},
                }
            )
    frame = pd.DataFrame(rows)
    DOCS.mkdir(parents=True, exist_ok=True)
    frame.to_csv(DOCS / "integration_scale.csv", index=False)

    def fmt(value: Any, digits: int = 3) -> str:
        return "" if value is None or (isinstance(value, float) and np.isnan(value)) else f"{value:.{digits}f}"

    lines = [
        "# Integration at scale: centroid OT (`integrate_centroids`)",
        "",
        "Synthetic PCA-like embeddings (`dance.single.batch_integration.synthetic_scale`: 50 dims, 4 batches of unequal size "
        "with shifted and rescaled cells and their own cell-type proportions, 12 cell types in lineages; seed 0). "
        "Centroid OT at scBIOT's defaults: 2,048 FAISS k-means centroids per batch fitted on at most 500,000 cells per batch, "
        "unbalanced entropic OT (POT, `reg=0.05`, `reg_m=1`) of each batch's centroids onto the largest batch's, displacement "
        "interpolated from the 8 nearest centroids of the cell's own batch, 500,000-row chunks.",
        "",
        "## Scale (read from a backed `.h5ad`, result streamed to a `.npy` file)",
        "",
        "Seconds, cells per second and peak resident memory are measured inside the worker process that does the integration "
        "and nothing else (`ru_maxrss`, imports of torch/FAISS/POT/anndata included; the increase over the memory after those "
        "imports is shown separately). scIB metrics of input and output on a random subset of cells.",
        "",
        "| cells | seconds | cells/s | peak RSS MB | RSS increase MB | centroids | k-means s | OT s | interpolation s | "
        "scored cells | overall before | overall after | batch corr. after | bio cons. after |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in scale.values():
        lines.append(
            f"| {r['n_cells']:,} | {r['wall_seconds']:.0f} | {r['cells_per_second']:,.0f} | {r['peak_rss_mb']:.0f} | "
            f"{r['peak_rss_increase_mb']:.0f} | {r['n_centroids']} | {r['kmeans_seconds']:.0f} | {r['ot_seconds']:.1f} | "
            f"{r['interpolation_seconds']:.0f} | {r['metrics_subset']:,} | {fmt(r['metrics_unintegrated']['overall'])} | "
            f"{fmt(r['metrics']['overall'])} | {fmt(r['metrics']['batch_correction'])} | {fmt(r['metrics']['bio_conservation'])} |"
        )
    if scale:
        loads = ", ".join(f"{label}: {r['load_average_1min']:.1f}" for label, r in scale.items())
        lines += [
            "",
            f"1-minute load average when each worker finished (2 cores; other jobs shared the machine): {loads}. "
            "Workers ran with `OMP_WAIT_POLICY=PASSIVE` (waiting OpenMP threads sleep instead of spinning; under this "
            "load, spinning made FAISS k-means 3-4x slower).",
        ]
    if compare:
        runs = compare["runs"]
        header = ["method", "seconds", *METRICS, *AGGREGATES]
        lines += [
            "",
            f"## Centroid OT vs full-cell OT ({compare['n_cells']:,} cells, every cell scored)",
            "",
            "Full-cell OT is the `ot` model's algorithm (each batch's cells transported onto the reference's cells: a random "
            "10,000-cell support of the reference, source cells in random chunks of 10,000, displacement averaged over 15 "
            "neighbours). Metrics: all scIB metrics of the `batch_integration` task, as `dance run` reports them.",
            "",
            "| " + " | ".join(header) + " |",
            "|" + "---|" * len(header),
        ]
        for name, run in runs.items():
            cells = [name, fmt(run["seconds"], 0) if run["seconds"] else "", *[fmt(run["metrics"].get(m)) for m in METRICS + AGGREGATES]]
            lines.append("| " + " | ".join(cells) + " |")
        full = runs.get("ot (full cells)", {}).get("metrics", {}).get("overall")
        cent = runs.get("ot_centroids (2048/batch)", {}).get("metrics", {}).get("overall")
        if full is not None and cent is not None:
            lines += ["", f"Difference in the aggregate (`overall`), centroid minus full-cell OT: **{cent - full:+.4f}**."]
    lines += [
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPU cores, no GPU, Python {platform.python_version()}; "
        f"generated {time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC by `benchmarks/integration_scale.py`.",
    ]
    (DOCS / "integration_scale.md").write_text("\n".join(lines) + "\n")
    _log(f"wrote {DOCS / 'integration_scale.md'} and .csv")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("stage", choices=["all", "write", "scale", "compare", "tables", "worker"])
    parser.add_argument("args", nargs="*", help="worker: input output json")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DIR)
    parser.add_argument("--sizes", default="1M,10M", help="scale runs, e.g. 1M or 1M,10M")
    parser.add_argument("--clean", action="store_true", help="delete the data files at the end")
    args = parser.parse_args()
    if args.stage == "worker":
        worker(*args.args)
        return
    results = args.data_dir / "results"
    sizes = [s for s in args.sizes.split(",") if s]
    if args.stage in ("all", "write"):
        stage_write(args.data_dir)
    if args.stage in ("all", "scale"):
        stage_scale(args.data_dir, results, sizes)
    if args.stage in ("all", "compare"):
        stage_compare(results)
    if args.stage in ("all", "tables"):
        stage_tables(results)
    if args.clean:
        for path in args.data_dir.glob("*.h5ad"):
            path.unlink()
        for path in args.data_dir.glob("*.npy"):
            path.unlink()


if __name__ == "__main__":
    main()
