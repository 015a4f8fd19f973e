"""Benchmark of task ``cell_type_annotation``: ACTINN, CellTypist, singleCellNet, scDeepsort and the
linear SVM baseline on the four registered annotation sets available offline, 3 seeds each, through
``dance run``.

Writes ``docs/benchmarks/annotation.md`` and ``.csv`` (accuracy and macro F1 mean ± std over seeds,
fit seconds, peak memory). Every run holds the machine lock ``/tmp/dance-bench.lock`` (see
``benchmarks/harness.py``).

Usage::

    DANCE_DATA_DIR=../shared/data python -m benchmarks.annotation            # full grid
    python -m benchmarks.annotation --models actinn --datasets bmmc_cite_gex --seeds 0
    python -m benchmarks.annotation --from-csv runs.csv                       # tables from saved runs
"""

from __future__ import annotations

import pandas as pd

from benchmarks.harness import Run, in_grid_order, parse_grid_arguments, run_and_record, summarise, write_tables

MODELS = ("actinn", "celltypist", "scdeepsort", "singlecellnet", "svm")
DATASETS = ("bmmc_cite_gex", "cbmc_citeseq", "pbmc68k_reduced", "pbmc4k_10x")
SEEDS = (0, 1, 2)
METRICS = ["accuracy", "macro_f1"]

NOTES = """
Every run is one `dance run cell_type_annotation --model M --dataset D --seed S` in a fresh process on the CPU, at
the model's default parameters. Accuracy and macro F1 on the test cells: mean ± standard deviation over seeds 0, 1,
2. "fit s" is the mean fitting time (preprocessing included), "peak MB" the largest peak resident memory of the runs.

Splits: `bmmc_cite_gex` trains on donor s1d1 (311 cells, 41 types) and tests on donor s1d2 (289 cells; 35 of them
of types absent from training, which every model gets wrong), so its split is the same for every seed and the seed
only changes the models' randomness. The other sets have no split: the task makes a stratified 80/20 split seeded
by the run's seed. `pbmc68k_reduced` holds log-normalised values only (no counts); every annotation model here
works from log-normalised expression and runs on it. singleCellNet may call cells "unknown" (its random-profile
class); such calls count as errors.

DANCE reports its annotation results on the Mouse Cell Atlas sets (`mca_mouse_brain`, `mca_mouse_spleen`,
`mca_mouse_kidney`), which are registered but cannot be downloaded on this machine, so no published value applies to
the sets above. See docs/models/annotation.md for each model's defaults and deviations.
"""


def main(argv: list[str] | None = None) -> None:
    args = parse_grid_arguments(argv, description=__doc__, stem="annotation", models=MODELS, datasets=DATASETS, seeds=SEEDS)

    if args.from_csv is not None:
        frame = pd.read_csv(args.from_csv)
    else:
        runs = [
            Run("cell_type_annotation", m, d, s, extra_args=("--device", args.device))
            for d in args.datasets
            for m in args.models
            for s in args.seeds
        ]
        frame = run_and_record(runs, args.out, args.runs_csv, jobs=args.jobs, threads_per_run=args.threads_per_run)

    frame = in_grid_order(frame, MODELS, DATASETS)
    summary = summarise(frame, METRICS)
    write_tables(
        summary,
        "annotation",
        title="Cell-type annotation: ACTINN, CellTypist, singleCellNet, scDeepsort and the linear SVM",
        metrics=METRICS,
        notes=NOTES + ("\n" + args.notes if args.notes else ""),
    )


if __name__ == "__main__":
    main()
