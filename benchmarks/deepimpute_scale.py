"""Scale check of DeepImpute on the worm neuron set with all 13,488 genes (4,186 cells).

Two runs of the real ``dance run imputation --model deepimpute`` (fresh processes, 2 threads,
under the benchmark lock ``/tmp/dance-bench.lock``):

* ``default``: the authors' gene choice (var/(1+mean) > 0.5, rounded up to one subnet of 512 genes);
  the project's rule is that this finishes within 10 minutes on a 2-core CPU;
* ``all_genes`` (``min_vmr=0``): every gene that varies imputed, 26 subnets of 512 genes trained as
  one batched module (the stress case of the batched implementation).

Prints one Markdown row per run (wall and fit seconds, peak memory, epochs, subnets, metrics) and
keeps each run's folder under ``--out``. Usage::

    python -m benchmarks.deepimpute_scale --out /tmp/deepimpute-scale [--only default]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from benchmarks.harness import Run, bench_lock, run_one, thread_env

DATASET = "worm_neuron_all_genes"
VARIANTS = {"default": {}, "all_genes": {"min_vmr": 0}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("/tmp/deepimpute-scale"))
    parser.add_argument("--only", choices=sorted(VARIANTS), action="append", help="run only these variants")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--timeout", type=int, default=3600)
    args = parser.parse_args()
    columns = [
        "wall_seconds",
        "fit_seconds",
        "peak_memory_mb",
        "note_epochs",
        "note_subnets",
        "note_genes_imputed",
        "metric_mse",
        "metric_pearson",
    ]
    print("| variant | " + " | ".join(columns) + " |")
    print("|---" * (len(columns) + 1) + "|")
    for name in args.only or list(VARIANTS):
        run = Run("imputation", "deepimpute", DATASET, seed=0, params=VARIANTS[name], label=f"deepimpute_{name}")
        with bench_lock():
            record = run_one(run, args.out, timeout=args.timeout, env={**thread_env(args.threads), "DANCE_QUIET": "1"})
        values = [record.get(c, record.get("error", "")) for c in columns]
        print(f"| {name} | " + " | ".join(f"{v:.4g}" if isinstance(v, float) else str(v) for v in values) + " |", flush=True)


if __name__ == "__main__":
    main()
