"""``dance benchmark report RUNS_DIR``: tables (Markdown + CSV) and figures from a runs folder.

It reads every cell folder (``benchmark_record.json`` and ``result.json``; folders of older
scripts with only a ``result.json`` count too) and writes, per task:

* ``<name>.csv`` and ``<name>.md``: per model x dataset (x parameter set), each metric's mean and
  standard deviation over the seeds that finished (population sd, ddof=0, as dance's published
  tables), mean fit seconds, largest peak memory, the devices and hosts of the runs, published
  values given in the grid's ``[[reported]]``, and failed cells with their last error;
* ``<name>.png``: each metric by model, every seed a point, the mean a bar;
* ``runs.csv``: one row per cell.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from dance.core.benchmark.records import RECORD_NAME, RESULT_NAME, read_json, read_record, read_result

__all__ = ["format_mean_sd", "read_runs", "summarise", "write_report"]

GRID_NAME = "benchmark.json"


def read_runs(runs_dir: str | Path) -> Any:
    """One row per cell folder under ``runs_dir`` (a pandas DataFrame); metrics as ``metric_<name>``."""
    import pandas as pd

    grid = read_json(Path(runs_dir) / GRID_NAME) or {}
    order = {name: i for i, name in enumerate(grid.get("cells", []))}  # the grid's order, then other folders by name
    folders = sorted((p for p in Path(runs_dir).iterdir() if p.is_dir()), key=lambda p: (order.get(p.name, len(order)), p.name))
    rows = []
    for folder in folders:
        record = read_record(folder)
        result = read_result(folder)
        if record is None and result is None:
            continue
        cell = record.cell if record is not None else {}
        row: dict[str, Any] = {
            "folder": folder.name,
            "task": cell.get("task") or (result or {}).get("task"),
            "model": cell.get("label") or (result or {}).get("model"),
            "dataset": cell.get("dataset") or (result or {}).get("dataset") or (result or {}).get("input"),
            "param_set": cell.get("param_set"),
            "seed": cell.get("seed", (result or {}).get("seed")),
            "status": record.status if record is not None else "ok",
            "error": record.last_error if record is not None and record.status != "ok" else None,
            "attempts": record.attempts if record is not None else None,
            "host": record.host if record is not None else None,
            "gpu": record.gpu if record is not None else None,
            "concurrency": record.concurrency if record is not None else None,
            "wall_seconds": record.wall_seconds if record is not None else None,
        }
        if record is not None and record.status == "running":
            row["status"] = "ok" if result is not None else "running"
        if result is not None and row["status"] == "ok":
            row.update(
                fit_seconds=result.get("fit_seconds"),
                predict_seconds=result.get("predict_seconds"),
                peak_memory_mb=result.get("peak_memory_mb"),
                device=result.get("device"),
                params=result.get("params"),
            )
            row.update({f"metric_{k}": v for k, v in result.get("metrics", {}).items()})
        rows.append(row)
    return pd.DataFrame.from_records(rows)


def _metric_names(frame: Any, wanted: list[str] | None) -> list[str]:
    found = [c[7:] for c in frame.columns if c.startswith("metric_") and frame[c].notna().any()]
    return [m for m in wanted if m in found] if wanted else found


def summarise(frame: Any, metrics: list[str]) -> Any:
    """Mean and sd over seeds per (task, model, parameter set, dataset), in the order the cells came."""
    import pandas as pd

    keys = ["task", "model", "param_set", "dataset"]
    frame = frame.assign(param_set=frame["param_set"].fillna(""))
    rows = []
    for key, group in frame.groupby(keys, sort=False):
        ok = group[group["status"] == "ok"]
        row: dict[str, Any] = dict(zip(keys, key, strict=True))
        row["seeds"] = len(ok)
        row["failed"] = int((group["status"] != "ok").sum())
        for metric in metrics:
            column = f"metric_{metric}"
            values = ok[column].dropna() if column in ok else pd.Series(dtype=float)
            row[f"{metric}_mean"] = values.mean() if len(values) else float("nan")
            row[f"{metric}_sd"] = values.std(ddof=0) if len(values) else float("nan")
        row["fit_seconds_mean"] = ok["fit_seconds"].mean() if "fit_seconds" in ok and len(ok) else float("nan")
        row["peak_memory_mb_max"] = ok["peak_memory_mb"].max() if "peak_memory_mb" in ok and len(ok) else float("nan")
        row["devices"] = ", ".join(sorted({str(d) for d in ok.get("device", pd.Series(dtype=object)).dropna()}))
        row["hosts"] = ", ".join(sorted({str(h) for h in group["host"].dropna()}))
        gpus = sorted({str(g) for g in group["gpu"].dropna()}) if "gpu" in group else []
        row["gpus"] = ", ".join(gpus)
        errors = group[group["status"] != "ok"]
        row["error"] = "" if errors.empty else f"{errors.iloc[-1]['status']}: {errors.iloc[-1]['error'] or ''}".strip()
        rows.append(row)
    return pd.DataFrame(rows)


def format_mean_sd(mean: float, sd: float, seeds: int) -> str:
    """``mean ± sd`` with 3 decimals, or 4 significant digits for small values; the value alone
    from a single seed (a spread of 0 would claim a precision nobody measured)."""
    import math

    if math.isnan(mean):
        return ""
    decimals = 3 if abs(mean) >= 0.1 or mean == 0 else 3 - math.floor(math.log10(abs(mean)))
    if seeds <= 1:
        return f"{mean:.{decimals}f}"
    return f"{mean:.{decimals}f} ± {sd:.{decimals}f}"


def _markdown(summary: Any, metrics: list[str], reported: list[dict[str, Any]]) -> list[str]:
    import math

    with_sets = bool(summary["param_set"].astype(bool).any())
    header = ["model", *(["parameters"] if with_sets else []), "dataset", "seeds", *metrics, "fit s", "peak MB", "device", "host"]
    header += [f"{r['label']} ({r['metric']})" for r in reported]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for _, row in summary.iterrows():
        cells = [str(row["model"]), *([str(row["param_set"])] if with_sets else []), str(row["dataset"]), str(row["seeds"])]
        for metric in metrics:
            text = format_mean_sd(row[f"{metric}_mean"], row[f"{metric}_sd"], int(row["seeds"]))
            cells.append(text or ("failed" if row["seeds"] == 0 else ""))
        cells.append("" if math.isnan(row["fit_seconds_mean"]) else f"{row['fit_seconds_mean']:.1f}")
        cells.append("" if math.isnan(row["peak_memory_mb_max"]) else f"{row['peak_memory_mb_max']:.0f}")
        cells.append(str(row["devices"]) + (f" (GPU {row['gpus']})" if row["gpus"] else ""))
        cells.append(str(row["hosts"]))
        for r in reported:
            value = r["values"].get(f"{row['model']}/{row['dataset']}")
            cells.append("" if value is None else f"{value:.4g}")
        lines.append("| " + " | ".join(c.replace("|", "/") for c in cells) + " |")
    return lines


def _figure(frame: Any, summary: Any, metrics: list[str], path: Path, title: str) -> Path | None:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    import numpy as np

    ok = frame[frame["status"] == "ok"]
    if ok.empty or not metrics:
        return None
    ok = ok.assign(param_set=ok["param_set"].fillna(""))
    models = list(dict.fromkeys(summary["model"] + summary["param_set"].map(lambda s: f" [{s}]" if s else "")))
    datasets = list(dict.fromkeys(summary["dataset"]))
    columns = min(3, len(metrics))
    rows = int(np.ceil(len(metrics) / columns))
    fig, axes = plt.subplots(rows, columns, figsize=(max(4.0, 1.1 * len(models) + 1.5) * columns, 3.4 * rows), squeeze=False)
    colours = plt.get_cmap("tab10")
    width = 0.8 / max(1, len(datasets))
    rng = np.random.default_rng(0)
    names = ok["model"] + ok["param_set"].map(lambda s: f" [{s}]" if s else "")
    for ax, metric in zip(axes.flat, metrics, strict=False):
        column = f"metric_{metric}"
        for j, dataset in enumerate(datasets):
            offset = (j - (len(datasets) - 1) / 2) * width
            for i, model in enumerate(models):
                values = ok.loc[(names == model) & (ok["dataset"] == dataset), column].dropna() if column in ok else []
                if len(values) == 0:
                    continue
                x = i + offset
                ax.bar(x, float(np.mean(values)), width=width * 0.9, color=colours(j % 10), alpha=0.35, label=dataset if i == 0 else None)
                ax.scatter(x + rng.uniform(-width / 4, width / 4, len(values)), values, color=colours(j % 10), s=14, zorder=3)
        ax.set_title(metric)
        ax.set_xticks(range(len(models)))
        ax.set_xticklabels(models, rotation=30, ha="right")
    for ax in list(axes.flat)[len(metrics) :]:
        ax.axis("off")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    bottom = 0.0
    if handles:
        by_label = dict(zip(labels, handles, strict=False))
        fig.legend(by_label.values(), by_label.keys(), loc="lower center", ncol=min(4, len(by_label)), fontsize="small", frameon=False)
        bottom = 0.12 / rows + 0.04 * ((len(by_label) - 1) // 4) / rows
    fig.suptitle(f"{title} (bars: mean; points: seeds)")
    fig.tight_layout(rect=(0, bottom, 1, 0.95))
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_report(runs_dir: str | Path, out: str | Path | None = None) -> list[Path]:
    """Write the tables and figures of ``runs_dir`` into ``out`` (default ``<runs_dir>/report``); returns the files."""
    from dance.core.errors import DanceInputError

    runs_dir = Path(runs_dir)
    if not runs_dir.is_dir():
        raise DanceInputError(f"{runs_dir} is not a folder", field="RUNS_DIR")
    frame = read_runs(runs_dir)
    if frame.empty:
        raise DanceInputError(f"{runs_dir} holds no runs (no folder with {RECORD_NAME} or {RESULT_NAME})", field="RUNS_DIR")
    grid = read_json(runs_dir / GRID_NAME) or {}
    config = grid.get("config", {})
    out_dir = Path(out) if out is not None else runs_dir / "report"
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = config.get("name") or config.get("task") or runs_dir.name
    written = []
    runs_csv = out_dir / "runs.csv"
    frame.drop(columns=["params"], errors="ignore").to_csv(runs_csv, index=False)
    written.append(runs_csv)
    tasks = list(dict.fromkeys(frame["task"].dropna()))
    for task in tasks:
        part = frame[frame["task"] == task]
        metrics = _metric_names(part, config.get("metrics") if config.get("task") == task else None)
        summary = summarise(part, metrics)
        name = stem if len(tasks) == 1 else f"{stem}-{task}"
        reported = [r for r in config.get("reported", []) if r.get("metric") in metrics] if config.get("task") == task else []
        table = summary.copy()
        for r in reported:
            table[f"{r['label']}_{r['metric']}"] = [
                r["values"].get(f"{m}/{d}") for m, d in zip(table["model"], table["dataset"], strict=True)
            ]
        csv_path = out_dir / f"{name}.csv"
        table.to_csv(csv_path, index=False)
        title = (config.get("title") if config.get("task") == task else None) or f"{task} benchmark"
        lines = [f"# {title}", ""]
        if config.get("notes") and config.get("task") == task:
            lines += [config["notes"].strip(), ""]
        lines += _markdown(summary, metrics, reported)
        failed = summary[summary["error"] != ""]
        if not failed.empty:
            lines += ["", "Failed runs:", ""]
            lines += [f"- {r['model']} on {r['dataset']}: {r['failed']} failed ({r['error']})" for _, r in failed.iterrows()]
        lines += ["", _footer(part, grid, runs_dir)]
        md_path = out_dir / f"{name}.md"
        md_path.write_text("\n".join(lines) + "\n")
        written += [md_path, csv_path]
        figure = _figure(part, summary, metrics, out_dir / f"{name}.png", title)
        if figure is not None:
            written.append(figure)
    return written


def _footer(frame: Any, grid: dict[str, Any], runs_dir: Path) -> str:
    concurrency = sorted({int(c) for c in frame["concurrency"].dropna()}) if "concurrency" in frame else []
    at_once = " or ".join(str(c) for c in concurrency) if concurrency else "unknown"
    where = grid.get("cluster", "")
    text = (
        f"Metrics: mean ± sd over the seeds that finished (one value: one seed). Runs at once: {at_once}"
        + (f" ({where})" if where else "")
        + f". Generated {time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC by `dance benchmark report {runs_dir.name}`."
    )
    return text
