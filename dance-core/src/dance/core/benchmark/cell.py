"""Running one cell: the function a Dask worker executes (:func:`run_cell`).

It holds the cell's lock (:mod:`dance.core.benchmark.locks`) for the whole cell, passes it to the
``dance run`` child, retries a crashed run, and records every step in ``benchmark_record.json``.
It imports nothing heavy: a worker only starts processes and waits for them.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from dance.core.benchmark.locks import try_lock, unlock
from dance.core.benchmark.records import (
    LOCK_NAME,
    RECORD_NAME,
    RESULT_NAME,
    CellRecord,
    atomic_write_json,
    read_record,
    read_result,
)

__all__ = ["NOT_RETRIED", "completed", "reset_stop", "run_cell", "stop_local_runs"]

#: exit codes of ``dance run`` that retrying cannot fix: 2 is bad input or a usage error (one
#: ``error:`` line), 130 an interrupt
NOT_RETRIED = {2: "bad input (exit 2)", 130: "interrupted (exit 130)"}
STDOUT_NAME = "stdout.log"
STDERR_NAME = "stderr.log"

#: set by the driver when the user interrupts it: runs in this process stop and are not retried
_STOP = threading.Event()
_RUNNING: set[subprocess.Popen] = set()
_RUNNING_LOCK = threading.Lock()


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def _epoch(stamp: str | None) -> float:
    try:
        return datetime.fromisoformat(str(stamp)).timestamp()
    except ValueError:
        return 0.0


def completed(folder: Path, digest: str, since: float | None = None) -> CellRecord | None:
    """The cell's record when the cell is done with this fingerprint (and, with ``since``, finished
    after that time), else None. The caller must know the cell is not running (its lock is free):
    a record still saying "running" with a complete ``result.json`` is a run that outlived the
    driver which started it (an orphan), and counts as done."""
    record = read_record(folder)
    if record is None or record.digest != digest or record.status not in ("ok", "running"):
        return None
    if read_result(folder) is None:
        return None
    if since is not None:
        finished = _epoch(record.finished_at) if record.status == "ok" else (Path(folder) / RESULT_NAME).stat().st_mtime
        if finished < since:
            return None
    return record


def run_cell(payload: dict[str, Any]) -> dict[str, Any]:
    """Run one cell unless it is done or running elsewhere; return its outcome.

    ``payload`` (plain data, so it travels to any worker): ``folder``, ``cell`` (the cell as a
    dict), ``fingerprint``, ``digest``, ``command`` (the ``dance run`` argv), ``retries``,
    ``timeout`` (seconds or None), ``since`` (rerun a done cell that finished before this time:
    ``--force``), ``env`` (extra environment of the run) and ``concurrency``.

    The outcome's ``status`` is ``ok``, ``failed``, ``interrupted``, ``skipped`` (done already, e.g.
    by an orphaned run of a killed driver) or ``busy`` (another process holds the cell's lock: the
    driver checks it again later).
    """
    folder = Path(payload["folder"])
    outcome: dict[str, Any] = {"folder": folder.name}
    if _STOP.is_set():  # the driver is stopping: start nothing more
        return {**outcome, "status": "interrupted", "error": "not started: the benchmark was interrupted"}
    folder.mkdir(parents=True, exist_ok=True)
    fd = try_lock(folder / LOCK_NAME)
    if fd is None:
        return {**outcome, "status": "busy"}
    try:
        done = completed(folder, payload["digest"], payload.get("since"))
        if done is not None:
            if done.status == "running":  # an orphan finished it: close its record
                _close_orphan_record(folder, done)
            return {**outcome, "status": "skipped", "finished_by": done.finished_by or ("orphan" if done.status == "running" else None)}
        return _run_attempts(payload, folder, fd, outcome)
    finally:
        unlock(fd)


def _close_orphan_record(folder: Path, record: CellRecord) -> None:
    result_path = folder / RESULT_NAME
    finished = datetime.fromtimestamp(result_path.stat().st_mtime, timezone.utc).isoformat(timespec="milliseconds")
    wall = _epoch(finished) - _epoch(record.started_at) if record.started_at else None
    updated = record.model_copy(
        update={"status": "ok", "finished_at": finished, "finished_by": "orphan", "exit_code": 0, "pid": None, "wall_seconds": wall}
    )
    atomic_write_json(folder / RECORD_NAME, updated.model_dump(mode="json"))


def _run_attempts(payload: dict[str, Any], folder: Path, fd: int, outcome: dict[str, Any]) -> dict[str, Any]:
    previous = read_record(folder)
    carried = previous is not None and previous.digest == payload["digest"] and previous.status != "ok"
    record = CellRecord(
        cell=payload["cell"],
        fingerprint=payload["fingerprint"],
        digest=payload["digest"],
        status="running",
        attempts=previous.attempts if carried and previous else 0,
        errors=list(previous.errors) if carried and previous else [],
        host=socket.gethostname(),
        gpu=payload.get("env", {}).get("CUDA_VISIBLE_DEVICES", os.environ.get("CUDA_VISIBLE_DEVICES")),
        concurrency=payload.get("concurrency"),
        command=list(payload["command"]),
    )
    retries = int(payload.get("retries", 0))
    for attempt in range(retries + 1):
        if attempt and _STOP.is_set():
            break
        with contextlib.suppress(FileNotFoundError):  # a stale result must never pass for this run's
            (folder / RESULT_NAME).unlink()
        started = time.perf_counter()
        record = record.model_copy(
            update={"status": "running", "attempts": record.attempts + 1, "started_at": now(), "finished_at": None, "exit_code": None}
        )
        code, error = _launch(payload, folder, fd, record)
        wall = round(time.perf_counter() - started, 3)
        result = read_result(folder) if code == 0 else None
        update: dict[str, Any] = {"finished_at": now(), "wall_seconds": wall, "exit_code": code, "pid": None}
        if result is not None:
            record = record.model_copy(update={**update, "status": "ok"})
            atomic_write_json(folder / RECORD_NAME, record.model_dump(mode="json"))
            return {**outcome, "status": "ok", "attempts": record.attempts, "wall_seconds": wall, "metrics": result.get("metrics", {})}
        if code == 0:
            error = f"dance run exited 0 but {RESULT_NAME} is missing or incomplete"
        interrupted = _STOP.is_set() or code == 130
        status = "interrupted" if interrupted else "failed"
        record = record.model_copy(update={**update, "status": status, "errors": [*record.errors, error][-10:]})
        atomic_write_json(folder / RECORD_NAME, record.model_dump(mode="json"))
        if interrupted or code in NOT_RETRIED or code is None:  # None: stopped at the time limit
            break
    return {
        **outcome,
        "status": record.status,
        "attempts": record.attempts,
        "wall_seconds": record.wall_seconds,
        "error": record.last_error,
    }


def _launch(payload: dict[str, Any], folder: Path, fd: int, record: CellRecord) -> tuple[int | None, str]:
    """Start ``dance run`` with the lock descriptor and wait; (exit code or None on timeout, last error line)."""
    env = {**os.environ, **payload.get("env", {})}
    timeout = payload.get("timeout")
    # "running" is on disk before the child starts: a driver killed at any moment after this
    # leaves a record that lets the next driver recognise the orphan's result as this run's
    atomic_write_json(folder / RECORD_NAME, record.model_dump(mode="json"))
    with open(folder / STDOUT_NAME, "wb") as out, open(folder / STDERR_NAME, "wb") as err:
        try:
            process = subprocess.Popen(payload["command"], stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env, pass_fds=(fd,))
        except OSError as exc:
            return 127, f"cannot start {payload['command'][0]}: {exc}"
        with _RUNNING_LOCK:
            _RUNNING.add(process)
        try:
            atomic_write_json(folder / RECORD_NAME, record.model_copy(update={"pid": process.pid}).model_dump(mode="json"))
            if _STOP.is_set():
                process.terminate()
            try:
                code: int | None = process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
                return None, f"stopped after {timeout:g} s (the benchmark's --timeout)"
        finally:
            with _RUNNING_LOCK:
                _RUNNING.discard(process)
    return code, last_error_line(folder / STDERR_NAME, code)


def last_error_line(path: Path, code: int | None) -> str:
    """The last non-empty line of a run's stderr (the ``error:`` line or the exception), or its exit status."""
    try:
        with open(path, "rb") as handle:
            handle.seek(max(0, handle.seek(0, os.SEEK_END) - 65536))
            lines = [line.strip() for line in handle.read().decode(errors="replace").splitlines() if line.strip()]
    except OSError:
        lines = []
    if lines:
        return lines[-1][:500]
    if code is not None and code < 0:
        return f"killed by signal {signal.Signals(-code).name}" if -code in signal.Signals._value2member_map_ else f"exit {code}"
    return f"exit {code}"


def stop_local_runs(grace: float = 5.0) -> None:
    """Stop the runs this process started (the driver's in-process workers): SIGINT, then SIGKILL after ``grace`` s."""
    _STOP.set()
    with _RUNNING_LOCK:
        running = list(_RUNNING)
    for process in running:
        with contextlib.suppress(OSError):
            process.send_signal(signal.SIGINT)
    deadline = time.monotonic() + grace
    for process in running:
        try:
            process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            with contextlib.suppress(OSError):
                process.kill()


def reset_stop() -> None:
    """Allow runs again (a new benchmark in the same process)."""
    _STOP.clear()
