"""Benchmark of dance-multi on paired data: modality prediction in every direction the data allow,
modality matching and joint embedding, with the challenge's trivial baselines in the same tables,
3 seeds each, through ``dance run``.

Writes ``docs/benchmarks/multimodal.md`` (one table per task) and ``multimodal.csv``. Every run holds
the machine lock ``/tmp/dance-bench.lock`` (``benchmarks/harness.py``); runs go seed first, so an
interrupted grid still has every cell at seed 0.

Usage::

    DANCE_DATA_DIR=../shared/data python -m benchmarks.multimodal                   # full grid
    python -m benchmarks.multimodal --models knn_regression scmogcn --datasets cite_pbmc10k:GEX2ADT --seeds 0
    python -m benchmarks.multimodal --tasks joint_embedding --seeds 0                 # one task
    python -m benchmarks.multimodal --from-csv benchmarks/results/multimodal/runs.csv
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from benchmarks.harness import (
    DOCS,
    Run,
    generated_line,
    in_grid_order,
    merge_runs,
    parse_grid_arguments,
    record_from_result,
    run_and_record,
    summarise,
    table_lines,
)

#: the directions of each paired dataset: (mod1, mod2) names as the dataset calls them
DIRECTIONS = {
    "GEX2ADT": ("rna", "adt"),
    "ADT2GEX": ("adt", "rna"),
    "GEX2ATAC": ("rna", "atac"),
    "ATAC2GEX": ("atac", "rna"),
}
PREDICTION_ROWS = (
    "cite_pbmc10k:GEX2ADT",
    "cite_pbmc10k:ADT2GEX",
    "cbmc_cite_paired:GEX2ADT",
    "snareseq_chen2019:GEX2ATAC",
    "snareseq_chen2019:ATAC2GEX",
    "bmmc_cite:GEX2ADT",
)
MATCHING_ROWS = ("cite_pbmc10k", "snareseq_chen2019", "cbmc_cite_paired", "bmmc_cite")
JOINT_ROWS = ("cite_pbmc10k", "snareseq_chen2019", "neurips_cite_joint")
PREDICTION_MODELS = ("mean", "knn_regression", "svd_regression", "scmogcn", "babel", "scmm", "cmae")
MATCHING_MODELS = ("svd_matching", "scmogcn", "scmm", "cmae")
JOINT_MODELS = ("pca_lsi", "scmogcn", "scmogcnv2", "jae", "scmvae", "dcca")
#: every joint-embedding run (the baseline too) sees the cell types of the same seeded half of the
#: cells and is scored on the other half, so that the label-using models' numbers compare
REVEAL = ("--reveal-labels", "0.5")
SEEDS = (0, 1, 2)
#: datasets whose second modality is not counts (CBMC's proteins are scDCC's normalised values): scMM refuses them
NOT_COUNTS = ("cbmc_cite_paired",)

METRICS = {
    "modality_prediction": ["rmse", "pearson_per_feature"],
    "modality_matching": ["matching_score", "top1_accuracy"],
    "joint_embedding": ["overall", "nmi", "asw_label", "asw_batch", "graph_conn", "cc_cons", "ti_cons", "ari"],
}

#: DANCE's reported values on the NeurIPS 2021 phase-2 private data (60,000-80,000 cells; not
#: available here): RMSE per direction (DANCE README; KNNR and mean from the challenge's own
#: baseline runs), match probability
REPORTED_FULL_DATA = {
    ("scmogcn", "GEX2ADT"): 0.3885,
    ("scmogcn", "ADT2GEX"): 0.3242,
    ("scmogcn", "GEX2ATAC"): 0.1778,
    ("scmogcn", "ATAC2GEX"): 0.2315,
    ("babel", "GEX2ADT"): 0.4335,
    ("babel", "ADT2GEX"): 0.3673,
    ("babel", "GEX2ATAC"): 0.1816,
    ("babel", "ATAC2GEX"): 0.2394,
    ("cmae", "GEX2ADT"): 0.5725,
    ("cmae", "ADT2GEX"): 0.3585,
    ("cmae", "GEX2ATAC"): 0.1917,
    ("cmae", "ATAC2GEX"): 0.2551,
    ("scmm", "GEX2ADT"): 0.6264,
    ("scmm", "ADT2GEX"): 0.4458,
    ("scmm", "GEX2ATAC"): 0.2163,
    ("scmm", "ATAC2GEX"): 0.3730,
    ("knn_regression", "GEX2ADT"): 0.4269,
    ("knn_regression", "ADT2GEX"): 0.3302,
    ("knn_regression", "GEX2ATAC"): 0.1780,
    ("knn_regression", "ATAC2GEX"): 0.2402,
    ("mean", "GEX2ADT"): 0.6570,
    ("mean", "ADT2GEX"): 0.3647,
    ("mean", "GEX2ATAC"): 0.1795,
    ("mean", "ATAC2GEX"): 0.2403,
}
REPORTED_LABEL = "DANCE reported, full challenge data (not these sets)"

NOTES = {
    "modality_prediction": """
RMSE over every test cell x target feature on the challenge's scales (expression `log1p(counts / size
factor)`, proteins CLR, peaks binarised; CBMC's proteins are scDCC's normalised values, the only form it
ships), and the mean over target features of each feature's Pearson correlation across test cells (absent for
`mean`, a constant prediction). Test cells: PBMC 10k and CBMC a seeded 20 % (one batch each); SNARE-seq
libraries 09J-09L; BMMC starter donor s1d2. The last column holds DANCE's numbers for the same direction on the
NeurIPS 2021 phase-2 data (BMMC, 60,000-80,000 cells): they are on the same scale but not the same cells, so
they show the expected order of magnitude, not a target.
""",
    "modality_matching": """
`matching_score` is the challenge's match probability (rows normalised, at most 1,000 candidates per row);
`top1_accuracy` the share of test cells whose best match is their partner. Chance is 1 / (test cells): 1/1332
(PBMC 10k), 1/2465 (SNARE-seq), 1/1724 (CBMC), 1/289 (BMMC starter).
""",
    "joint_embedding": """
The challenge's six metrics and their mean (`overall`, over the ones the data allow) and ARI of the
NMI-optimal Leiden clustering. Every run, the baseline included, is shown the cell types of a seeded half of
the cells (`--reveal-labels 0.5`; scMoGCN, scMoGCN v2 and JAE train on them, the others ignore them) and is
scored on the other half. Absent cells are absent for a reason the run records: one batch (PBMC 10k:
`asw_batch`), no pseudotime (`ti_cons`, only the challenge starter's solution has one), fewer than 5 genes of
each cell-cycle phase among the features (`cc_cons` on SNARE-seq and the starter).
""",
}

TITLES = {
    "modality_prediction": "Modality prediction",
    "modality_matching": "Modality matching",
    "joint_embedding": "Joint embedding",
}


def _runs(models: list[str], rows: list[str], seeds: list[int], tasks: tuple[str, ...] = tuple(METRICS)) -> list[Run]:
    """Every (task, model, row, seed) of the grid; a model registered for several tasks (scMoGNN:
    all three) gets a run in each of ``tasks`` that has the row."""
    runs = []
    for seed in seeds:
        for row in rows:
            dataset, _, direction = row.partition(":")
            for model in models:
                if direction:
                    if "modality_prediction" in tasks and model in PREDICTION_MODELS and not (model == "scmm" and dataset in NOT_COUNTS):
                        mod1, mod2 = DIRECTIONS[direction]
                        runs.append(Run("modality_prediction", model, dataset, seed, extra_args=("--mod1", mod1, "--mod2", mod2), row=row))
                    continue
                if "modality_matching" in tasks and model in MATCHING_MODELS and row in MATCHING_ROWS:
                    runs.append(Run("modality_matching", model, dataset, seed))
                if "joint_embedding" in tasks and model in JOINT_MODELS and row in JOINT_ROWS:
                    runs.append(Run("joint_embedding", model, dataset, seed, extra_args=REVEAL))
    return runs


def records_from_folders(out_root: Path) -> pd.DataFrame:
    """The records of every finished run under ``out_root`` (``<task>-<model>-<row>-seed<n>/result.json``),
    with the row (a dataset and direction) taken from the folder's name."""
    records = []
    for path in sorted(out_root.glob("*/result.json")):
        stem, _, seed = path.parent.name.rpartition("-seed")
        task, model, row = stem.split("-", 2)
        records.append(
            {**record_from_result(json.loads(path.read_text())), "task": task, "model": model, "dataset": row, "seed": int(seed)}
        )
    frame = pd.DataFrame.from_records(records)
    # runs stopped at the grid's time limit leave no result.json; the runs CSV has them
    runs_csv = out_root / "runs.csv"
    if runs_csv.is_file():
        logged = pd.read_csv(runs_csv)
        stopped = logged[logged["status"] == "stopped"]
        if not frame.empty:
            finished = set(zip(frame["task"], frame["model"], frame["dataset"], frame["seed"], strict=True))
            stopped = stopped[
                [k not in finished for k in zip(stopped["task"], stopped["model"], stopped["dataset"], stopped["seed"], strict=True)]
            ]
        frame = pd.concat([frame, stopped], ignore_index=True)
    return frame


def records_from_table(csv: Path) -> pd.DataFrame:
    """Per-run records back from a written ``multimodal.csv`` whose rows each hold one seed (the
    value of a single seed is its mean), so that a grid whose run folders are gone can be
    extended: new runs of the same task, model, row and seed replace them."""
    table = pd.read_csv(csv)
    several = table[table["seeds"] > 1]
    if not several.empty:
        raise SystemExit(
            f"{csv}: rows averaged over several seeds cannot be split into runs: {several[['model', 'dataset']].values.tolist()}"
        )
    table = table[table["seeds"] == 1]
    records = []
    for _, row in table.iterrows():
        record = {"task": row["task"], "model": row["model"], "dataset": row["dataset"], "seed": 0, "status": "ok"}
        for metrics in METRICS.values():
            for metric in metrics:
                if f"{metric}_mean" in row and pd.notna(row[f"{metric}_mean"]):
                    record[f"metric_{metric}"] = row[f"{metric}_mean"]
        record.update(fit_seconds=row["fit_seconds_mean"], peak_memory_mb=row["peak_memory_mb_max"])
        records.append(record)
    return pd.DataFrame.from_records(records)


def write_report(frame: pd.DataFrame, notes: str = "") -> None:
    """``docs/benchmarks/multimodal.md`` (a table per task) and ``multimodal.csv``."""
    sections = ["# Multimodal benchmark (dance-multi)", "", notes.strip(), ""]
    tables = []
    for task, metrics in METRICS.items():
        part = frame[frame["task"] == task]
        if part.empty:
            continue
        models = {"modality_prediction": PREDICTION_MODELS, "modality_matching": MATCHING_MODELS, "joint_embedding": JOINT_MODELS}[task]
        rows = {"modality_prediction": PREDICTION_ROWS, "modality_matching": MATCHING_ROWS, "joint_embedding": JOINT_ROWS}[task]
        summary = in_grid_order(summarise(part, metrics), models, rows)
        reported = None
        if task == "modality_prediction":
            reported = {
                (m, d): REPORTED_FULL_DATA.get((m, d.partition(":")[2])) for m, d in zip(summary["model"], summary["dataset"], strict=True)
            }
        lines, table = table_lines(summary, metrics=metrics, reported=reported, reported_label=REPORTED_LABEL)
        tables.append(table.assign(task=task))
        sections += [f"## {TITLES[task]}", "", NOTES[task].strip(), "", *lines, ""]
    sections.append(generated_line("multimodal"))
    DOCS.mkdir(parents=True, exist_ok=True)
    (DOCS / "multimodal.md").write_text("\n".join(sections) + "\n")
    pd.concat(tables).to_csv(DOCS / "multimodal.csv", index=False)


def main(argv: list[str] | None = None) -> None:
    import argparse

    # --tasks narrows the grid to some tasks (scMoGNN's name is in all three)
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--tasks", nargs="+", choices=list(METRICS), default=list(METRICS))
    pre.add_argument("--from-outputs", type=Path, default=None, help="write the tables from the run folders of an interrupted grid")
    pre.add_argument(
        "--keep-table",
        type=Path,
        default=None,
        help="a written multimodal.csv of single-seed rows: its values stay in the tables unless a new run replaces them",
    )
    chosen, argv = pre.parse_known_args(argv)
    models = tuple(dict.fromkeys((*PREDICTION_MODELS, *MATCHING_MODELS, *JOINT_MODELS)))  # scMoGNN is in all three
    datasets = (*PREDICTION_ROWS, *MATCHING_ROWS, *[r for r in JOINT_ROWS if r not in MATCHING_ROWS])
    args = parse_grid_arguments(argv, description=__doc__, stem="multimodal", models=models, datasets=datasets, seeds=SEEDS)
    if chosen.from_outputs is not None:
        frame = records_from_folders(chosen.from_outputs)
    elif args.from_csv is not None:
        frame = pd.read_csv(args.from_csv)
    else:
        runs = _runs(list(dict.fromkeys(args.models)), list(dict.fromkeys(args.datasets)), list(args.seeds), tuple(chosen.tasks))
        frame = run_and_record(runs, args.out, args.runs_csv, jobs=args.jobs, threads_per_run=args.threads_per_run, timeout=args.timeout)
    if chosen.keep_table is not None:
        frame = merge_runs(records_from_table(chosen.keep_table), frame)
    write_report(frame, args.notes)


if __name__ == "__main__":
    main()
