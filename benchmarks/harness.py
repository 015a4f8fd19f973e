"""Shared machinery of dance's benchmarks: run a grid of models x datasets x seeds through the
real ``dance run`` command (one fresh process per run, so timings and peak memory are per run),
and write the results as Markdown and CSV next to published values.

Heavy runs on a shared machine should hold the lock ``/tmp/dance-bench.lock`` (``flock``) so
timings are not disturbed by other benchmarks.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs" / "benchmarks"
LOCK = Path("/tmp/dance-bench.lock")


@contextmanager
def bench_lock() -> Any:
    """Hold the machine-wide benchmark lock (other benchmark processes wait)."""
    with open(LOCK, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@dataclass
class Run:
    """One ``dance run`` of a grid.

    ``dataset`` names the registered dataset, or only labels the row when ``data_file`` gives the
    input instead (a prepared .h5ad, e.g. one revealing some labels). ``label`` names the row's
    model in the tables when it differs from ``model`` (a protocol variant of one model).
    ``extra_metrics`` computes further metrics from the run's output folder after it finished.
    """

    task: str
    model: str
    dataset: str
    seed: int
    params: dict[str, Any] = field(default_factory=dict)
    extra_args: tuple[str, ...] = ()
    data_file: Path | None = None
    label: str | None = None
    extra_metrics: Callable[[Path], Mapping[str, float]] | None = None
    #: the interpreter that runs ``dance`` (default: this one), e.g. another installation's
    python: str | None = None
    #: the row's dataset in the tables when it differs from ``dataset``: one direction of a paired
    #: dataset (``extra_args`` then carries ``--mod1`` / ``--mod2``)
    row: str | None = None

    @property
    def name(self) -> str:
        """The model's name in the tables."""
        return self.label or self.model

    @property
    def row_name(self) -> str:
        """The dataset's name in the tables."""
        return self.row or self.dataset

    def folder(self, out_root: Path) -> Path:
        return out_root / f"{self.task}-{self.name}-{self.row_name}-seed{self.seed}"

    def command(self, out: Path) -> list[str]:
        source = ["--data", str(self.data_file)] if self.data_file is not None else ["--dataset", self.dataset]
        args = [
            self.python or sys.executable,
            "-m",
            "dance.cli",
            "run",
            self.task,
            "--model",
            self.model,
            *source,
            "--seed",
            str(self.seed),
        ]
        args += ["--out", str(out), "--format", "json", *self.extra_args]
        for key, value in self.params.items():
            args += ["--set", f"{key}={json.dumps(value)}"]
        return args


def run_one(run: Run, out_root: Path, *, timeout: int = 3600, env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Run one (model, dataset, seed) and return a flat record (metrics, seconds, memory, status)."""
    out = run.folder(out_root)
    started = time.perf_counter()
    record: dict[str, Any] = {"task": run.task, "model": run.name, "dataset": run.row_name, "seed": run.seed}
    try:
        completed = subprocess.run(run.command(out), capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})})
    except subprocess.TimeoutExpired:
        # subprocess.run kills the child on timeout; the grid goes on and the table lists the run as stopped
        record.update(
            status="stopped",
            error=f"stopped after {timeout} s (the grid's time limit)",
            wall_seconds=round(time.perf_counter() - started, 2),
        )
        return record
    if completed.returncode != 0:
        record.update(
            status="failed", error=(completed.stderr.strip().splitlines() or ["?"])[-1], wall_seconds=time.perf_counter() - started
        )
        return record
    record.update(record_from_result(json.loads(completed.stdout)), wall_seconds=round(time.perf_counter() - started, 2))
    # a file input or a protocol variant: the row keeps the grid's names, not the file's
    record.update(model=run.name, dataset=run.row_name)
    if run.extra_metrics is not None:
        record.update({f"metric_{k}": v for k, v in run.extra_metrics(out).items()})
    return record


def record_from_result(result: Mapping[str, Any]) -> dict[str, Any]:
    """The flat record of one successful run from its ``result.json`` content."""
    return {
        "task": result["task"],
        "model": result["model"],
        "dataset": result["dataset"],
        "seed": result["seed"],
        "status": "ok",
        "fit_seconds": result["fit_seconds"],
        "predict_seconds": result["predict_seconds"],
        "peak_memory_mb": result["peak_memory_mb"],
        "device": result["device"],
        **{f"metric_{k}": v for k, v in result["metrics"].items()},
        **{f"note_{k}": v for k, v in result["notes"].items() if isinstance(v, (int, float, str))},
    }


def records_from_outputs(out_root: Path) -> pd.DataFrame:
    """Records of the finished runs under ``out_root`` (one ``result.json`` per run folder), e.g. to
    write the tables of a grid that was interrupted."""
    rows = [record_from_result(json.loads(path.read_text())) for path in sorted(out_root.glob("*/result.json"))]
    return pd.DataFrame.from_records(rows)


def _log_record(run: Run, record: Mapping[str, Any]) -> None:
    metrics = {k[7:]: round(v, 4) for k, v in record.items() if k.startswith("metric_")}
    print(
        f"{run.task} {run.name} {run.row_name} seed={run.seed}: {record['status']} {metrics} {record.get('fit_seconds', '')}s", flush=True
    )


def thread_env(threads: int) -> dict[str, str]:
    """Environment capping a run's OpenMP / BLAS / torch CPU threads at ``threads``."""
    value = str(int(threads))
    return {name: value for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")}


def run_grid(
    runs: Iterable[Run],
    out_root: Path,
    *,
    lock: bool = True,
    log: bool = True,
    jobs: int = 1,
    threads_per_run: int | None = None,
    timeout: int = 3600,
) -> pd.DataFrame:
    """Run every run and return one row per run, in the order of ``runs``; a run past ``timeout``
    seconds is stopped and recorded as such.

    With ``jobs`` = 1 the runs go one after the other under the benchmark lock (timings on a
    shared machine). ``jobs`` > 1 runs that many at once without the lock, for machines with
    cores to spare; give each run ``threads_per_run`` threads so they do not oversubscribe the
    cores (fit seconds then compare with a machine of that many cores, not with serial runs).
    """
    out_root.mkdir(parents=True, exist_ok=True)
    runs = list(runs)
    env = thread_env(threads_per_run) if threads_per_run else None

    def one(run: Run) -> dict[str, Any]:
        if lock and jobs == 1:
            with bench_lock():
                record = run_one(run, out_root, env=env, timeout=timeout)
        else:
            record = run_one(run, out_root, env=env, timeout=timeout)
        if log:
            _log_record(run, record)
        return record

    if jobs <= 1:
        records = [one(run) for run in runs]
    else:
        from concurrent.futures import ThreadPoolExecutor

        # threads only wait on the subprocesses; each run is its own process
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            records = list(pool.map(one, runs))
    return pd.DataFrame.from_records(records)


def parse_grid_arguments(
    argv: list[str] | None, *, description: str, stem: str, models: Iterable[str], datasets: Iterable[str], seeds: Iterable[int]
) -> argparse.Namespace:
    """The command line every grid benchmark shares: ``--models``, ``--datasets``, ``--seeds``,
    ``--out`` (default ``benchmarks/results/<stem>``), ``--from-csv``, ``--runs-csv``, ``--notes``,
    ``--device``, ``--jobs`` and ``--threads-per-run``."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=list(models))
    parser.add_argument("--datasets", nargs="+", default=list(datasets))
    parser.add_argument("--seeds", nargs="+", type=int, default=list(seeds))
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / stem, help="folder for the runs' outputs")
    parser.add_argument("--from-csv", type=Path, default=None, help="write the tables from a saved runs CSV instead of running")
    parser.add_argument("--runs-csv", type=Path, default=None, help="also save every run's record here (default: <out>/runs.csv)")
    parser.add_argument("--notes", default="", help="extra sentence for the table notes (e.g. which cells are missing)")
    parser.add_argument("--device", default="cpu", help="device of every run (cpu, cuda, auto)")
    parser.add_argument("--jobs", type=int, default=1, help="runs at once (default 1: one after the other, under the benchmark lock)")
    parser.add_argument("--timeout", type=int, default=3600, help="seconds after which a run is stopped and recorded as stopped")
    parser.add_argument("--threads-per-run", type=int, default=None, help="CPU threads of each run (OMP_NUM_THREADS and friends)")
    parser.add_argument(
        "--update-table",
        action="store_true",
        help=f"keep the rows of docs/benchmarks/{stem}.csv for the (model, dataset) pairs not run now, replace the others",
    )
    return parser.parse_args(argv)


def merge_with_table(summary: pd.DataFrame, stem: str) -> pd.DataFrame:
    """``summary`` plus the rows of the current ``docs/benchmarks/<stem>.csv`` whose (model, dataset)
    it does not hold: a partial grid updates the published table instead of replacing it."""
    path = DOCS / f"{stem}.csv"
    if not path.is_file():
        return summary
    previous = pd.read_csv(path)
    ran = set(zip(summary["model"], summary["dataset"], strict=True))
    kept = previous[[(m, d) not in ran for m, d in zip(previous["model"], previous["dataset"], strict=True)]]
    return pd.concat([kept, summary], ignore_index=True)


def run_and_record(
    runs: Iterable[Run],
    out_root: Path,
    runs_csv: Path | None = None,
    *,
    jobs: int = 1,
    threads_per_run: int | None = None,
    timeout: int = 3600,
) -> pd.DataFrame:
    """Run ``runs`` (:func:`run_grid`) and merge them into the saved runs CSV (default
    ``<out_root>/runs.csv``): earlier runs of other (task, model, dataset, seed) combinations are
    kept, re-run combinations are replaced (one model name may run several tasks on one dataset).
    Returns every recorded run."""
    frame = run_grid(runs, out_root, jobs=jobs, threads_per_run=threads_per_run, timeout=timeout)
    runs_csv = runs_csv or out_root / "runs.csv"
    if runs_csv.is_file():
        frame = merge_runs(pd.read_csv(runs_csv), frame)
    frame.to_csv(runs_csv, index=False)
    return frame


def merge_runs(old: pd.DataFrame, new: pd.DataFrame) -> pd.DataFrame:
    """``old`` and ``new`` run records; a run in both (the same task, model, dataset and seed, as
    far as both have those columns) keeps ``new``'s."""
    if new.empty:
        return old
    key = [c for c in ("task", "model", "dataset", "seed") if c in new.columns and c in old.columns]
    old = old.set_index(key)
    return pd.concat([old[~old.index.isin(new.set_index(key).index)], new.set_index(key)]).reset_index()


def in_grid_order(frame: pd.DataFrame, models: Iterable[str], datasets: Iterable[str]) -> pd.DataFrame:
    """Rows sorted by dataset then model in the order the benchmark lists them, then seed."""
    rank = {name: i for i, name in enumerate([*datasets, *models])}
    columns = [c for c in ("dataset", "model", "seed") if c in frame.columns]  # a summary has no seed column
    return frame.sort_values(columns, key=lambda c: c if c.name == "seed" else c.map(rank).fillna(len(rank)))


def summarise(frame: pd.DataFrame, metrics: list[str]) -> pd.DataFrame:
    """Mean and standard deviation over seeds per (model, dataset), with timing and memory."""
    ok = frame[frame["status"] == "ok"]
    rows = []
    for (model, dataset), group in ok.groupby(["model", "dataset"], sort=False):
        row: dict[str, Any] = {"model": model, "dataset": dataset, "seeds": len(group)}
        for metric in metrics:
            column = f"metric_{metric}"
            if column in group:
                row[f"{metric}_mean"] = group[column].mean()
                row[f"{metric}_std"] = group[column].std(ddof=0)
        row["fit_seconds_mean"] = group["fit_seconds"].mean()
        row["peak_memory_mb_max"] = group["peak_memory_mb"].max()
        rows.append(row)
    failed = frame[frame["status"] != "ok"]
    for _, bad in failed.iterrows():
        rows.append({"model": bad["model"], "dataset": bad["dataset"], "seeds": 0, "error": bad.get("error"), "status": bad["status"]})
    return pd.DataFrame(rows)


def machine_description() -> str:
    """CPU cores, GPU (when torch sees one) and Python version of this machine, for table footers."""
    text = f"{platform.machine()}, {os.cpu_count()} CPU cores"
    try:
        import torch

        if torch.cuda.is_available():
            text += f", GPU {torch.cuda.get_device_name(0)}"
    except ImportError:
        pass
    return f"{text}, Python {platform.python_version()}"


def format_mean_std(mean: float, std: float, seeds: int = 2) -> str:
    """``mean ± std`` with 3 decimals, or 4 significant digits for small values (MSE, JSD); the
    value alone from a single seed (a spread of 0 would claim a precision nobody measured)."""
    decimals = 3 if abs(mean) >= 0.1 or mean == 0 else 3 - int(np.floor(np.log10(abs(mean))))
    if seeds == 1:
        return f"{mean:.{decimals}f}"
    return f"{mean:.{decimals}f} ± {std:.{decimals}f}"


def table_lines(
    summary: pd.DataFrame,
    *,
    metrics: list[str],
    reported: Mapping[tuple[str, str], float] | None = None,
    reported_label: str = "DANCE reported",
) -> tuple[list[str], pd.DataFrame]:
    """A Markdown table (mean ± std per metric, seconds, memory, reported values) and the summary
    with the reported column added."""
    table = summary.drop(columns=[reported_label], errors="ignore")  # a merged table brings the old column along
    if reported is not None:
        table[reported_label] = [reported.get((m, d)) for m, d in zip(table["model"], table["dataset"], strict=True)]
    header = ["model", "dataset", "seeds", *[m for m in metrics], "fit s", "peak MB"] + ([reported_label] if reported is not None else [])
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for _, row in table.iterrows():
        cells = [str(row["model"]), str(row["dataset"]), str(row.get("seeds", ""))]
        failed = not row.get("seeds")
        # a run past the grid's time limit is "stopped", one that crashed "failed"
        outcome = "stopped" if row.get("status") == "stopped" else "failed"
        for metric in metrics:
            mean, std = row.get(f"{metric}_mean"), row.get(f"{metric}_std")
            # a metric only some rows have (a protocol variant's extra metric) stays blank elsewhere
            cells.append((outcome if failed else "") if pd.isna(mean) else format_mean_std(mean, std, int(row.get("seeds") or 2)))
        cells.append("" if pd.isna(row.get("fit_seconds_mean")) else f"{row['fit_seconds_mean']:.1f}")
        cells.append("" if pd.isna(row.get("peak_memory_mb_max")) else f"{row['peak_memory_mb_max']:.0f}")
        if reported is not None:
            value = row.get(reported_label)
            cells.append("" if value is None or pd.isna(value) else f"{value:.4g}")
        lines.append("| " + " | ".join(cells) + " |")
    return lines, table


def generated_line(stem: str) -> str:
    """The table footer: machine, date and the command that wrote it."""
    return f"Machine: {machine_description()}; generated {time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC by `python -m benchmarks.{stem}`."


def write_tables(
    summary: pd.DataFrame,
    stem: str,
    *,
    title: str,
    metrics: list[str],
    reported: Mapping[tuple[str, str], float] | None = None,
    reported_label: str = "DANCE reported",
    notes: str = "",
) -> tuple[Path, Path]:
    """``docs/benchmarks/<stem>.md`` and ``.csv``: mean ± std per metric, seconds, memory, reported values."""
    DOCS.mkdir(parents=True, exist_ok=True)
    lines, table = table_lines(summary, metrics=metrics, reported=reported, reported_label=reported_label)
    csv_path = DOCS / f"{stem}.csv"
    table.to_csv(csv_path, index=False)
    lines = [f"# {title}", "", notes.strip(), "", *lines, "", generated_line(stem)]
    md_path = DOCS / f"{stem}.md"
    md_path.write_text("\n".join(lines) + "\n")
    return md_path, csv_path
