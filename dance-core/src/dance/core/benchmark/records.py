"""What a benchmark leaves in each cell's folder, and how a driver decides a cell is done.

Each cell folder holds what ``dance run --out`` writes (``result.json`` last, so its presence marks
a finished run; ``dance run`` writes it in place, so a truncated one counts as absent) and
``benchmark_record.json``, written by the benchmark itself, always atomically (temporary file +
rename): the cell's :func:`fingerprint`, its status, attempts, last error, host and timings.

A cell is *done* when its record has the current fingerprint and ``result.json`` parses. The
fingerprint covers the task, model, input (a registered dataset's file sha256s, or the input
file's own sha256), the parameters and ``dance run`` arguments, the seed and the versions of
dance and of the plugins providing the model and the dataset: change any of them and only the
cells concerned run again.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "LOCK_NAME",
    "RECORD_NAME",
    "RESULT_NAME",
    "CellRecord",
    "atomic_write_json",
    "fingerprint",
    "fingerprint_digest",
    "read_json",
    "read_record",
    "read_result",
]

RECORD_NAME = "benchmark_record.json"
RESULT_NAME = "result.json"
LOCK_NAME = ".benchmark.lock"

Status = Literal["running", "ok", "failed", "interrupted"]


class CellRecord(BaseModel):
    """``benchmark_record.json``: the benchmark's own account of one cell."""

    model_config = ConfigDict(extra="ignore")

    cell: dict[str, Any] = Field(description="the cell (task, model, label, dataset, seed, parameters, ...)")
    fingerprint: dict[str, Any]
    digest: str = Field(description="sha256 of the fingerprint")
    status: Status
    attempts: int = Field(default=0, description="`dance run` processes started for this fingerprint")
    errors: list[str] = Field(default_factory=list, description="last error line of each failed attempt (the latest last)")
    exit_code: int | None = None
    host: str | None = None
    pid: int | None = Field(default=None, description="the running `dance run` process")
    gpu: str | None = Field(default=None, description="CUDA_VISIBLE_DEVICES of the run, when set")
    started_at: str | None = None
    finished_at: str | None = None
    wall_seconds: float | None = None
    concurrency: int | None = Field(default=None, description="runs the cluster could run at once when this one started")
    finished_by: str | None = Field(default=None, description="'orphan' when a run outlived the driver that started it")
    command: list[str] = Field(default_factory=list)

    @property
    def last_error(self) -> str | None:
        return self.errors[-1] if self.errors else None


def atomic_write_json(path: Path, data: Any) -> None:
    """Write ``data`` as JSON to ``path`` through a temporary file in the same folder and a rename,
    so a reader sees the old file or the new one, never half of one."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump(data, handle, indent=2, default=str)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def read_json(path: Path) -> Any:
    """The JSON in ``path``, or None when it is missing or does not parse (a truncated write)."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None


def read_record(folder: Path) -> CellRecord | None:
    data = read_json(Path(folder) / RECORD_NAME)
    if not isinstance(data, dict):
        return None
    try:
        return CellRecord.model_validate(data)
    except ValueError:
        return None


def read_result(folder: Path) -> dict[str, Any] | None:
    """The run's ``result.json`` when it is complete (parses and has metrics), else None."""
    data = read_json(Path(folder) / RESULT_NAME)
    return data if isinstance(data, dict) and "metrics" in data and "task" in data else None


def fingerprint(cell: Any, registry: Any = None) -> dict[str, Any]:
    """Everything a cell's result depends on that dance can know before running it."""
    if registry is None:
        from dance.core import registry
    spec = registry.get_model(cell.model, cell.task)
    plugins = {p.name: p for p in registry.plugins()}
    versions = {"dance-core": _version("dance-core"), "dance-cli": _version("dance-cli")}
    owners = [spec.plugin]
    if cell.dataset_name is not None:
        dataset_spec = registry.get_dataset(cell.dataset_name)
        owners.append(dataset_spec.plugin)
        source: dict[str, Any] = {
            "dataset": cell.dataset_name,
            "files": [{"path": f.path, "sha256": f.sha256} for f in dataset_spec.files],
        }
    else:
        source = {"data": Path(str(cell.data)).name, "sha256": _input_sha256(str(cell.data))}
    for owner in owners:
        record = plugins.get(owner or "")
        if record is not None:
            versions[f"plugin:{record.name}"] = f"{record.distribution or '?'} {record.version or '?'}"
    return {
        "task": cell.task,
        "model": cell.model,
        "input": source,
        "params": cell.params,
        "args": list(cell.args),
        "seed": cell.seed,
        "device": cell.device,
        "plots": cell.plots,
        "versions": versions,
    }


def fingerprint_digest(value: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()


def _version(distribution: str) -> str | None:
    import importlib.metadata

    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def _input_sha256(path: str) -> str:
    target = Path(path)
    stat = target.stat()
    return _hash_input(str(target), stat.st_size, stat.st_mtime_ns)


@lru_cache(maxsize=256)
def _hash_input(path: str, size: int, mtime_ns: int) -> str:
    """sha256 of a file's bytes; of a folder (a .zarr store, a Space Ranger output), of its file
    names, sizes and modification times (hashing a large store's bytes would take longer than
    many runs). Cached per (path, size, mtime) for the driver's lifetime."""
    digest = hashlib.sha256()
    target = Path(path)
    if target.is_dir():
        for item in sorted(p for p in target.rglob("*") if p.is_file()):
            stat = item.stat()
            digest.update(f"{item.relative_to(target)}:{stat.st_size}:{stat.st_mtime_ns}\n".encode())
        return "listing:" + digest.hexdigest()
    with open(target, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
