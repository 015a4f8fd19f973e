"""The same ``dance run`` commands under two installations of dance, interleaved: did a refactor
make any model slower, or change what it computes?

Written for issue 11 (every training loop ported onto ``dance.nn.trainer``): the "before"
installation is a virtual environment with the pre-port commit installed, the "after" one the
current tree. Each cell (model, dataset, the benchmark's protocol) runs ``--repeats`` times per
installation in fresh processes, the two installations alternating (ABBA order, so a slow drift of
the machine falls on both), all under the benchmark lock. The table gives the median fit + predict
seconds of each (transductive models such as DSTG train in ``predict``), their ratio, and whether the
metrics of the two installations are identical. Writes ``docs/benchmarks/<stem>.md`` and ``.csv``::

    python -m benchmarks.install_timing --before /tmp/before/.venv/bin/python --after .venv/bin/python

Both interpreters must have ``dance-cli`` and the models' packages installed; the cells use only
flags that both versions know.
"""

from __future__ import annotations

import argparse
import statistics
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd

from benchmarks.harness import DOCS, ROOT, Run, bench_lock, machine_description, record_from_result, run_one

#: one representative dataset per ported model, with the protocol of its benchmark
CELLS: tuple[Run, ...] = (
    Run("cell_type_annotation", "actinn", "bmmc_cite_gex", 0),
    Run("cell_type_annotation", "celltypist", "cbmc_citeseq", 0),
    Run("cell_type_annotation", "scdeepsort", "bmmc_cite_gex", 0),
    Run("batch_integration", "scvi", "bmmc_cite_gex", 0),
    Run("batch_integration", "scanvi", "bmmc_cite_gex", 0),
    Run("spatial_domain", "spagcn", "mouse_olfactory_bulb", 0),
    Run("spatial_domain", "stagate", "mouse_olfactory_bulb", 0),
    Run("cell_type_deconvolution", "dstg", "cbmc_pseudospots", 0),
    Run("clustering", "scdeepcluster", "mouse_bladder", 0, extra_args=("--n-clusters-from-labels",)),
    Run("clustering", "scdcc", "mouse_bladder", 0, extra_args=("--n-clusters-from-labels",)),
    Run("clustering", "scdsc", "mouse_bladder", 0, extra_args=("--n-clusters-from-labels",)),
    Run("clustering", "sctag", "mouse_bladder", 0, extra_args=("--n-clusters-from-labels",)),
    Run("clustering", "graphsc", "mouse_bladder", 0, extra_args=("--n-clusters-from-labels",)),
)


def measure(before: str, after: str, cells: list[Run], repeats: int, out_root: Path) -> pd.DataFrame:
    """One record per (cell, installation, repeat)."""
    records: list[dict[str, Any]] = []
    for repeat in range(repeats):
        order = [("before", before), ("after", after)]
        if repeat % 2:
            order.reverse()
        for cell in cells:
            for label, python in order:
                run = replace(cell, extra_args=(*cell.extra_args, "--no-plots"), python=python)
                with bench_lock():
                    record = run_one(run, out_root / label / f"repeat{repeat}")
                record.update(installation=label, repeat=repeat)
                print(
                    f"{label} {cell.model} {cell.dataset} repeat {repeat}: {record['status']} "
                    f"{record.get('fit_seconds', '')}s + {record.get('predict_seconds', '')}s",
                    flush=True,
                )
                records.append(record)
    return pd.DataFrame.from_records(records)


def records_from_folders(out_root: Path) -> pd.DataFrame:
    """The records of the runs finished under ``out_root/<installation>/repeat<r>/`` (one
    ``result.json`` per run): the table of a measurement that was stopped early."""
    import json

    records = []
    for label in ("before", "after"):
        for path in sorted((out_root / label).glob("repeat*/*/result.json")):
            record = record_from_result(json.loads(path.read_text()))
            record.update(installation=label, repeat=int(path.parent.parent.name.removeprefix("repeat")))
            records.append(record)
    return pd.DataFrame.from_records(records)


def summarise(frame: pd.DataFrame) -> pd.DataFrame:
    """Per cell: median seconds of each installation, their ratio and whether the metrics agree."""
    rows = []
    frame = frame.assign(seconds=frame["fit_seconds"] + frame["predict_seconds"])
    metric_columns = [c for c in frame.columns if c.startswith("metric_")]
    for (model, dataset), group in frame.groupby(["model", "dataset"], sort=False):
        row: dict[str, Any] = {"model": model, "dataset": dataset}
        metrics = {}
        for label in ("before", "after"):
            runs = group[(group["installation"] == label) & (group["status"] == "ok")]
            row[f"{label}_seconds"] = statistics.median(runs["seconds"]) if len(runs) else float("nan")
            row[f"{label}_runs"] = len(runs)
            metrics[label] = {tuple(r) for r in runs[metric_columns].dropna(axis=1, how="all").round(10).itertuples(index=False)}
        row["after_over_before"] = row["after_seconds"] / row["before_seconds"]
        row["metrics_identical"] = bool(metrics["before"]) and metrics["before"] == metrics["after"]
        shown = [c for c in metric_columns if group[c].notna().any()][:2]
        row["metrics"] = ", ".join(f"{c[7:]} {group[c].dropna().iloc[0]:.4f}" for c in shown)
        rows.append(row)
    return pd.DataFrame(rows)


def write(summary: pd.DataFrame, stem: str, notes: str) -> None:
    summary.to_csv(DOCS / f"{stem}.csv", index=False)
    lines = [
        "# Fit time before and after porting the training loops onto dance.nn (issue 11)",
        "",
        "Median seconds of fit + predict per run (fresh process each, `dance run ... --no-plots`), the two",
        "installations alternating; `ratio` is after / before. `metrics identical`: every run of both installations",
        "gave the same metrics to 10 decimals (the ports were written to be bit-identical).",
        "",
        "| model | dataset | runs each | before s | after s | ratio | metrics identical | metrics |",
        "|---|---|---:|---:|---:|---:|---|---|",
    ]
    for _, r in summary.iterrows():
        runs = f"{r['before_runs']}" if r["before_runs"] == r["after_runs"] else f"{r['before_runs']} / {r['after_runs']}"
        lines.append(
            f"| {r['model']} | {r['dataset']} | {runs} | {r['before_seconds']:.1f} | {r['after_seconds']:.1f} | "
            f"{r['after_over_before']:.2f} | {'yes' if r['metrics_identical'] else 'no'} | {r['metrics']} |"
        )
    lines += [
        "",
        f"Machine: {machine_description()}. {notes}".rstrip(),
        "",
        "Command: `python -m benchmarks.install_timing " + "--before ... --after ...`",
        "",
    ]
    (DOCS / f"{stem}.md").write_text("\n".join(lines))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", required=True, help="Python interpreter of the installation before the change")
    parser.add_argument("--after", required=True, help="Python interpreter of the installation after the change")
    parser.add_argument("--models", nargs="+", default=None, help="only these cells' models")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "install_timing")
    parser.add_argument("--stem", default="port_timing")
    parser.add_argument("--notes", default="")
    parser.add_argument("--from-csv", type=Path, default=None, help="write the table from a saved runs CSV instead of running")
    parser.add_argument("--from-outputs", type=Path, default=None, help="write the table from the run folders of a stopped measurement")
    args = parser.parse_args(argv)
    if args.from_csv:
        frame = pd.read_csv(args.from_csv)
    elif args.from_outputs:
        frame = records_from_folders(args.from_outputs)
        frame.to_csv(args.from_outputs / "runs.csv", index=False)
    else:
        cells = [c for c in CELLS if args.models is None or c.model in args.models]
        frame = measure(args.before, args.after, cells, args.repeats, args.out)
        args.out.mkdir(parents=True, exist_ok=True)
        frame.to_csv(args.out / "runs.csv", index=False)
    write(summarise(frame), args.stem, args.notes)
    print((DOCS / f"{args.stem}.md").read_text())


if __name__ == "__main__":
    main()
