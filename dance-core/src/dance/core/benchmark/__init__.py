"""``dance benchmark``: grids of ``dance run`` cells, resumable, on a laptop or a Dask cluster.

Python API::

    from dance.core.benchmark import load_config, run_benchmark, write_report

    config = load_config("benchmarks/clustering.toml")
    summary = run_benchmark(config, out="runs/clustering", jobs=2)
    write_report("runs/clustering")

Modules: :mod:`~dance.core.benchmark.config` (the grid and its cells),
:mod:`~dance.core.benchmark.records` (fingerprints and atomic records),
:mod:`~dance.core.benchmark.locks` (per-cell locks the runs inherit),
:mod:`~dance.core.benchmark.cell` (one cell on a worker), :mod:`~dance.core.benchmark.engine`
(the driver on dask.distributed) and :mod:`~dance.core.benchmark.report` (tables and figures).
Importing this package imports neither Dask nor pandas; running a grid needs the extra
``dance-core[benchmark]`` (dask.distributed).
"""

from __future__ import annotations

from typing import Any

from dance.core.benchmark.config import BenchmarkConfig, Cell, expand_cells, load_config, make_config
from dance.core.benchmark.engine import BenchmarkProgress, BenchmarkResourceError, BenchmarkSummary, plan, run_benchmark

__all__ = [
    "BenchmarkConfig",
    "BenchmarkProgress",
    "BenchmarkResourceError",
    "BenchmarkSummary",
    "Cell",
    "expand_cells",
    "load_config",
    "make_config",
    "plan",
    "read_runs",
    "run_benchmark",
    "write_report",
]


def __getattr__(name: str) -> Any:
    if name in ("write_report", "read_runs"):  # pandas and matplotlib load on first use
        from dance.core.benchmark import report

        return getattr(report, name)
    raise AttributeError(f"module 'dance.core.benchmark' has no attribute '{name}'")
