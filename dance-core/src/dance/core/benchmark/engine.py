"""The benchmark driver: plan the grid, skip what is done, run the rest on Dask, report progress.

Without a scheduler the runs go to an in-process ``LocalCluster`` of ``jobs`` single-thread
workers (threads, not processes: a task only starts a ``dance run`` process and waits for it, so
the fresh process per run keeps timings and memory clean, and the driver itself can stop its runs
on Ctrl-C). ``scheduler`` (``tcp://HOST:PORT``) or ``scheduler_file`` runs the same tasks on an
existing cluster (``dask scheduler`` + ``dask worker --nthreads 1``, dask-jobqueue, ...), whose
workers must see the runs folder (a shared file system) and have dance installed.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
import os
import shlex
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dance.core.benchmark.cell import completed, reset_stop, run_cell, stop_local_runs
from dance.core.benchmark.config import BenchmarkConfig, Cell, expand_cells
from dance.core.benchmark.locks import is_locked
from dance.core.benchmark.records import LOCK_NAME, atomic_write_json, fingerprint, fingerprint_digest, read_record
from dance.core.errors import DanceError

__all__ = ["BenchmarkProgress", "BenchmarkResourceError", "BenchmarkSummary", "PlannedCell", "plan", "run_benchmark"]

#: seconds a driver waits for the first worker of an existing cluster
WORKER_WAIT = 30.0
GRID_NAME = "benchmark.json"


class BenchmarkResourceError(DanceError):
    """The grid needs a resource (a GPU) that no worker of the cluster offers."""


@dataclass
class PlannedCell:
    """A cell with its folder, fingerprint and state when the driver looked (done, busy or todo)."""

    cell: Cell
    folder: Path
    fingerprint: dict[str, Any]
    digest: str
    state: str
    outcome: dict[str, Any] = field(default_factory=dict)


@dataclass
class BenchmarkProgress:
    """A snapshot of the grid for progress displays."""

    total: int
    ok: int = 0
    skipped: int = 0
    failed: int = 0
    running: int = 0
    elsewhere: int = 0
    queued: int = 0
    elapsed: float = 0.0
    eta_seconds: float | None = None
    workers: int = 0
    last: str = ""
    running_cells: list[str] = field(default_factory=list)

    @property
    def finished(self) -> int:
        return self.ok + self.skipped + self.failed

    @property
    def remaining(self) -> int:
        return self.total - self.finished


@dataclass
class BenchmarkSummary:
    """What a benchmark did: one outcome per cell."""

    out: Path
    cells: list[PlannedCell]
    elapsed: float
    concurrency: int

    def count(self, status: str) -> int:
        return sum(1 for p in self.cells if p.outcome.get("status") == status)

    @property
    def failed(self) -> list[PlannedCell]:
        return [p for p in self.cells if p.outcome.get("status") in ("failed", "interrupted")]

    def to_dict(self) -> dict[str, Any]:
        return {
            "out": str(self.out),
            "total": len(self.cells),
            "ran": self.count("ok"),
            "skipped": self.count("skipped"),
            "failed": len(self.failed),
            "elapsed_seconds": round(self.elapsed, 2),
            "concurrency": self.concurrency,
            "cells": [{"folder": p.folder.name, **p.cell.model_dump(mode="json"), **p.outcome} for p in self.cells],
        }


def plan(config: BenchmarkConfig, out: Path, *, force: bool = False, registry: Any = None, since: float | None = None) -> list[PlannedCell]:
    """Every cell with its state: ``done`` (its record has this fingerprint and its result.json is
    complete; never with ``force``), ``busy`` (another process holds its lock) or ``todo``."""
    out = Path(out).resolve()
    planned = []
    for cell in expand_cells(config, registry):
        folder = out / cell.folder_name
        value = fingerprint(cell, registry)
        digest = fingerprint_digest(value)
        if is_locked(folder / LOCK_NAME):
            state = "busy"
        elif not force and completed(folder, digest) is not None:
            state = "done"
        else:
            state = "todo"
        planned.append(PlannedCell(cell, folder, value, digest, state))
    return planned


def run_benchmark(
    config: BenchmarkConfig,
    *,
    out: str | Path | None = None,
    force: bool = False,
    jobs: int = 1,
    gpus: int = 0,
    scheduler: str | None = None,
    scheduler_file: str | Path | None = None,
    threads_per_run: int | None = None,
    progress: Callable[[BenchmarkProgress], None] | None = None,
    dance: list[str] | None = None,
    registry: Any = None,
    poll: float = 5.0,
) -> BenchmarkSummary:
    """Run every cell of ``config`` that is not done yet; return what happened to each.

    Parameters
    ----------
    config
        The grid (:func:`~dance.core.benchmark.config.load_config` or built in Python).
    out
        The runs folder (default: ``config.out``, else ``benchmark-runs/<name>``); one folder per cell.
    force
        Rerun cells that are done.
    jobs
        Runs at once on the in-process cluster (ignored with ``scheduler`` / ``scheduler_file``).
    gpus
        How many of the in-process workers have a GPU (resource ``GPU=1``; worker *i* runs with
        ``CUDA_VISIBLE_DEVICES=i``).
    scheduler, scheduler_file
        An existing Dask cluster instead of the in-process one.
    threads_per_run
        ``OMP_NUM_THREADS`` (and MKL / OpenBLAS) of each run.
    progress
        Called with a :class:`BenchmarkProgress` whenever something changes and about once a second.
    dance
        How to call dance on the workers, e.g. ``["srun", "python", "-m", "dance.cli"]`` (default:
        the environment variable ``DANCE_BENCHMARK_COMMAND``, split like a shell would, else
        ``[<the worker's python>, -m, dance.cli]``).
    registry
        Registry checking the names (default: the process-wide one).
    poll
        Seconds between checks of a cell running elsewhere (an orphaned run of a killed driver).

    Raises
    ------
    DanceError
        Bad names or files in the grid (before anything runs); :class:`BenchmarkResourceError` when
        a run needs a GPU that no worker has (at once, instead of waiting forever).
    """
    started = time.time()
    if dance is None and os.environ.get("DANCE_BENCHMARK_COMMAND"):
        dance = shlex.split(os.environ["DANCE_BENCHMARK_COMMAND"])
    out_dir = Path(out if out is not None else (config.out or Path("benchmark-runs") / config.stem)).expanduser().resolve()
    planned = plan(config, out_dir, force=force, registry=registry)
    if scheduler is not None and scheduler_file is not None:
        raise DanceError("pass either --scheduler or --scheduler-file, not both")
    if jobs < 1 or gpus < 0 or gpus > jobs:
        raise DanceError(f"--jobs must be >= 1 and --gpus between 0 and --jobs (got --jobs {jobs}, --gpus {gpus})")
    pending = [p for p in planned if p.state != "done"]
    for p in planned:
        if p.state == "done":
            p.outcome = {"status": "skipped", "finished_by": "earlier run"}
    local = scheduler is None and scheduler_file is None
    needs_gpu = sorted({p.cell.label for p in pending if p.cell.gpu})
    if local and needs_gpu and gpus == 0:
        raise BenchmarkResourceError(_no_gpu_message(needs_gpu, local=True))
    out_dir.mkdir(parents=True, exist_ok=True)
    report = _Reporter(planned, progress, started)
    if not pending:
        _write_grid(out_dir, config, planned, started, concurrency=None, where=None)
        report.emit(force=True)
        return BenchmarkSummary(out_dir, planned, time.time() - started, concurrency=0)
    env = {name: str(threads_per_run) for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")} if threads_per_run else {}
    _require_distributed()
    reset_stop()
    with _quiet_dask(), _cluster(jobs, gpus, scheduler, scheduler_file) as (client, where):
        workers = client.scheduler_info()["workers"]
        concurrency = _threads(client)
        if needs_gpu and not any(float(w.get("resources", {}).get("GPU", 0)) >= 1 for w in workers.values()):
            raise BenchmarkResourceError(_no_gpu_message(needs_gpu, local=local))
        _write_grid(out_dir, config, planned, started, concurrency=concurrency, where=where)
        report.workers = concurrency
        payload = {
            "retries": config.retries,
            "timeout": config.timeout,
            "since": started if force else None,
            "env": env,
            "concurrency": concurrency,
            "dance": dance,
            "pin_gpu_by_worker": local and gpus > 0,
        }
        try:
            _drive(client, pending, payload, report, poll)
        except KeyboardInterrupt:
            if local:  # runs of remote workers go on: Dask cannot stop a running task
                stop_local_runs()
            raise
    report.emit(force=True)
    return BenchmarkSummary(out_dir, planned, time.time() - started, concurrency=concurrency)


def _no_gpu_message(labels: list[str], *, local: bool) -> str:
    names = ", ".join(labels)
    how = "pass --gpus N (workers with a GPU)" if local else "start workers with `dask worker ... --resources GPU=1`"
    return f"model(s) {names} need a GPU (resource GPU=1) but no worker of the cluster has one; {how}, or leave them out of the grid"


def _payload(p: PlannedCell, common: dict[str, Any]) -> dict[str, Any]:
    return {
        **common,
        "folder": str(p.folder),
        "cell": p.cell.model_dump(mode="json"),
        "fingerprint": p.fingerprint,
        "digest": p.digest,
        "argv": p.cell.command([], p.folder),
    }


def execute_cell(payload: dict[str, Any]) -> dict[str, Any]:
    """The task a worker runs: the ``dance run`` command for this worker, then :func:`run_cell`."""
    dance = payload.get("dance") or default_dance_command()
    payload = {**payload, "command": [*dance, *payload["argv"]]}
    if payload.get("pin_gpu_by_worker"):
        from distributed import get_worker

        name = str(get_worker().name)
        if name.startswith("gpu"):
            # the i-th GPU this process may use (CUDA_VISIBLE_DEVICES="2,3" makes worker gpu0 use GPU 2)
            visible = [d.strip() for d in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if d.strip()]
            index = int(name[3:])
            payload["env"] = {**payload["env"], "CUDA_VISIBLE_DEVICES": visible[index] if index < len(visible) else str(index)}
    return run_cell(payload)


def _drive(client: Any, pending: list[PlannedCell], common: dict[str, Any], report: _Reporter, poll: float) -> None:
    from distributed import wait

    futures: dict[Any, PlannedCell] = {}
    waiting: dict[int, tuple[float, PlannedCell]] = {}

    def submit(p: PlannedCell) -> None:
        p.state = "queued"
        future = client.submit(
            execute_cell,
            _payload(p, common),
            key=f"dance-benchmark-{p.folder.name}-{uuid.uuid4().hex[:8]}",
            pure=False,
            resources={"GPU": 1} if p.cell.gpu else None,
        )
        futures[future] = p

    for p in pending:
        if p.state == "busy":
            waiting[id(p)] = (time.monotonic() + poll, p)
        else:
            submit(p)
    report.update(futures, waiting)
    while futures or waiting:
        now = time.monotonic()
        for key, (due, p) in list(waiting.items()):
            if due <= now:
                if is_locked(p.folder / LOCK_NAME):
                    waiting[key] = (now + poll, p)
                else:
                    del waiting[key]
                    submit(p)
        done: set[Any] = set()
        if futures:
            with contextlib.suppress(TimeoutError, asyncio.TimeoutError):  # distinct classes on Python 3.10
                done = set(wait(list(futures), timeout=1.0, return_when="FIRST_COMPLETED").done)
        else:
            time.sleep(min(1.0, max(0.05, min(due for due, _ in waiting.values()) - time.monotonic())))
        for future in done:
            p = futures.pop(future)
            outcome = _outcome(future, p)
            if outcome["status"] == "busy":
                p.state = "busy"
                waiting[id(p)] = (time.monotonic() + poll, p)
                continue
            p.state = "finished"
            p.outcome = outcome
            report.finished(p)
        report.update(futures, waiting, client=client)
        common["concurrency"] = report.workers = _threads(client) or report.workers  # workers may join or leave


def _threads(client: Any) -> int:
    """Runs the cluster can run at once: its workers' threads."""
    return sum(int(w.get("nthreads", 1)) for w in client.scheduler_info()["workers"].values())


def _outcome(future: Any, p: PlannedCell) -> dict[str, Any]:
    if future.status == "finished":
        return dict(future.result())
    try:
        exc = future.exception()
    except Exception as error:  # a cancelled future raises here
        exc = error
    record = read_record(p.folder)
    return {
        "status": "failed",
        "attempts": record.attempts if record else 0,
        "error": f"the task failed on the cluster: {type(exc).__name__}: {exc}".splitlines()[0][:500],
    }


class _Reporter:
    """Builds :class:`BenchmarkProgress` snapshots and the estimated time left."""

    def __init__(self, planned: list[PlannedCell], callback: Callable[[BenchmarkProgress], None] | None, started: float) -> None:
        self.planned = planned
        self.callback = callback
        self.started = started
        self.workers = 0
        self.walls: list[float] = []
        self.last = ""
        self.running: list[str] = []
        self.elsewhere = 0
        self.queued = 0
        self._emitted = 0.0

    def finished(self, p: PlannedCell) -> None:
        outcome = p.outcome
        if outcome.get("status") in ("ok", "failed") and outcome.get("wall_seconds"):
            self.walls.append(float(outcome["wall_seconds"]))
        detail = outcome.get("error") or ", ".join(f"{k} {v:.4g}" for k, v in sorted(outcome.get("metrics", {}).items())[:3])
        self.last = f"{p.folder.name}: {outcome['status']}" + (f" ({detail})" if detail else "")
        self.emit(force=True)

    def update(self, futures: dict[Any, PlannedCell], waiting: dict[int, Any], client: Any = None) -> None:
        self.elsewhere = len(waiting)
        running: list[str] = []
        if client is not None and futures:
            with contextlib.suppress(Exception):
                processing = {k for keys in client.processing().values() for k in keys}
                running = [p.folder.name for f, p in futures.items() if f.key in processing][: max(1, self.workers)]
        self.running = running
        self.queued = len(futures) - len(running)
        self.emit()

    def snapshot(self) -> BenchmarkProgress:
        statuses = [p.outcome.get("status") for p in self.planned]
        snap = BenchmarkProgress(
            total=len(self.planned),
            ok=statuses.count("ok"),
            skipped=statuses.count("skipped"),
            failed=statuses.count("failed") + statuses.count("interrupted"),
            running=len(self.running),
            elsewhere=self.elsewhere,
            queued=self.queued,
            elapsed=time.time() - self.started,
            workers=self.workers,
            last=self.last,
            running_cells=list(self.running),
        )
        if self.walls and self.workers:
            mean = sum(self.walls) / len(self.walls)
            left = snap.remaining - snap.running / 2
            snap.eta_seconds = max(0.0, mean * left / self.workers)
        return snap

    def emit(self, force: bool = False) -> None:
        if self.callback is None:
            return
        now = time.monotonic()
        if force or now - self._emitted >= 1.0:
            self._emitted = now
            self.callback(self.snapshot())


def _write_grid(
    out: Path, config: BenchmarkConfig, planned: list[PlannedCell], started: float, *, concurrency: int | None, where: str | None
) -> None:
    """``<out>/benchmark.json``: the grid of the latest invocation (the report reads its title,
    metrics, reported values and how many runs ran at once). An invocation that ran nothing keeps
    the cluster of the one before."""
    from dance.core.benchmark.records import _version, read_json

    previous = read_json(out / GRID_NAME) or {}
    atomic_write_json(
        out / GRID_NAME,
        {
            "config": config.model_dump(mode="json"),
            "cells": [p.folder.name for p in planned],
            "concurrency": concurrency if concurrency is not None else previous.get("concurrency"),
            "cluster": where if where is not None else previous.get("cluster"),
            "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
            "dance_core": _version("dance-core"),
        },
    )


def _require_distributed() -> None:
    try:
        import distributed  # noqa: F401
    except ImportError as exc:
        raise DanceError("dance benchmark runs on dask.distributed, which is not installed: pip install 'dance-core[benchmark]'") from exc


@contextlib.contextmanager
def _quiet_dask() -> Iterator[None]:
    """Dask's INFO logs (scheduler start, worker join) would bury the progress table."""
    import dask

    logger = logging.getLogger("distributed")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        # a worker takes exactly as many tasks as it has threads (the default, 1.1, queues a
        # second run on a one-thread worker while another worker may be idle)
        with dask.config.set({"distributed.scheduler.worker-saturation": 1.0}):
            yield
    finally:
        logger.setLevel(level)


@contextlib.contextmanager
def _cluster(jobs: int, gpus: int, scheduler: str | None, scheduler_file: str | Path | None) -> Iterator[tuple[Any, str]]:
    """A connected ``distributed.Client`` and a description of the cluster."""
    from distributed import Client, LocalCluster

    if scheduler is None and scheduler_file is None:
        # no dashboard; the scheduler's small HTTP server (health, metrics) on a free local port, not
        # on 8787, which a `dask scheduler` on this machine may hold
        cluster = LocalCluster(
            n_workers=0,
            threads_per_worker=1,
            processes=False,
            dashboard_address=None,
            memory_limit=0,
            scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
        )
        try:
            template = next(iter(cluster.new_worker_spec().values()))
            for i in range(jobs):
                spec = copy.deepcopy(template)
                if i < gpus:
                    spec["options"]["resources"] = {"GPU": 1}
                cluster.worker_spec[f"gpu{i}" if i < gpus else f"cpu{i}"] = spec
            cluster.scale(jobs)
            client = Client(cluster)
            try:
                client.wait_for_workers(jobs, timeout=60)
                yield client, f"in-process LocalCluster, {jobs} worker(s)" + (f", {gpus} with a GPU" if gpus else "")
            finally:
                client.close()
        finally:
            cluster.close()
        return
    try:
        client = Client(scheduler_file=str(scheduler_file)) if scheduler_file is not None else Client(scheduler, timeout="10s")
    except (OSError, TimeoutError, ValueError) as exc:
        target = scheduler or f"the scheduler in {scheduler_file}"
        raise DanceError(f"cannot connect to {target}: {exc}") from exc
    try:
        try:
            client.wait_for_workers(1, timeout=WORKER_WAIT)
        except TimeoutError as exc:
            raise DanceError(f"no worker joined the scheduler {client.scheduler.address} within {WORKER_WAIT:g} s") from exc
        yield client, f"scheduler {client.scheduler.address}"
    finally:
        client.close()


def default_dance_command() -> list[str]:
    """``[python, -m, dance.cli]`` of this interpreter."""
    return [sys.executable, "-m", "dance.cli"]
