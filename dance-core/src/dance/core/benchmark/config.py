"""The grid of a benchmark: what to run (task x models x datasets x seeds x parameter sets).

A grid comes from a TOML file (:func:`load_config`) or is built in Python / by ``dance benchmark``'s
options; :func:`expand_cells` turns it into :class:`Cell` objects, one ``dance run`` each, checked
against the registry (task, model and dataset names) before anything runs.

A minimal file::

    task = "clustering"
    models = ["leiden", "louvain"]
    datasets = ["pbmc4k_10x"]
    seeds = [0, 1, 2]

    [params]                 # every cell: dance run --set resolution=1.0
    resolution = 1.0

Models and datasets may also be tables: ``{ label = "scdcc-constraints", model = "scdcc", args =
["--reveal-labels", "0.1"] }`` is a protocol variant of one model under its own name in the
tables; ``{ label = "pbmc-known10", data = "inputs/pbmc.h5ad" }`` runs on a prepared file.
``[[param_sets]]`` (each with a ``name``) multiplies the grid by parameter sets.
"""

from __future__ import annotations

import json
import re
import sys
from itertools import product
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from dance.core.errors import DanceInputError

__all__ = [
    "GPU_TAG",
    "BenchmarkConfig",
    "Cell",
    "DatasetEntry",
    "ModelEntry",
    "ParamSet",
    "Reported",
    "expand_cells",
    "load_config",
]

#: a model whose spec carries this tag needs a GPU: its runs go to workers with the resource ``GPU``
GPU_TAG = "gpu"
#: characters kept in folder names (the rest become ``_``)
_UNSAFE = re.compile(r"[^A-Za-z0-9_.=+-]")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelEntry(_Strict):
    """One model of the grid, optionally a protocol variant under its own ``label``."""

    model: str = Field(description="registered model name")
    label: str | None = Field(default=None, description="the model's name in folders and tables (default: model)")
    params: dict[str, Any] = Field(default_factory=dict, description="`--set` parameters of this model's runs")
    args: tuple[str, ...] = Field(default=(), description="extra `dance run` arguments of this model's runs")
    gpu: bool = Field(default=False, description="its runs need a worker with the resource GPU")

    @property
    def name(self) -> str:
        return self.label or self.model


class DatasetEntry(_Strict):
    """One input of the grid: a registered dataset or a file (``data``)."""

    dataset: str | None = Field(default=None, description="registered dataset name")
    data: str | None = Field(default=None, description="input file instead of a registered dataset (`dance run --data`)")
    label: str | None = Field(default=None, description="the input's name in folders and tables")
    args: tuple[str, ...] = Field(default=(), description="extra `dance run` arguments on this input (e.g. --mod1 adt)")

    @model_validator(mode="after")
    def _one_source(self) -> DatasetEntry:
        if (self.dataset is None) == (self.data is None):
            raise ValueError("give exactly one of 'dataset' (a registered name) or 'data' (a file)")
        return self

    @property
    def name(self) -> str:
        if self.label:
            return self.label
        if self.dataset is not None:
            return self.dataset
        return Path(str(self.data)).name.split(".")[0]


class ParamSet(_Strict):
    """A named set of `--set` parameters; the grid runs every cell once per set."""

    name: str = Field(min_length=1)
    params: dict[str, Any] = Field(default_factory=dict)


class Reported(_Strict):
    """Published values shown next to the benchmark's own in the report."""

    metric: str
    label: str = "reported"
    values: dict[str, float] = Field(description="'model/dataset' (labels) -> value")


def _model_entry(value: Any) -> Any:
    return {"model": value} if isinstance(value, str) else value


def _dataset_entry(value: Any) -> Any:
    if isinstance(value, str):
        looks_like_file = "/" in value or value.endswith((".h5ad", ".h5mu", ".h5", ".zarr"))
        return {"data": value} if looks_like_file else {"dataset": value}
    return value


class BenchmarkConfig(_Strict):
    """A benchmark grid and how to run it (the schema of ``benchmarks/<name>.toml``)."""

    name: str | None = Field(default=None, description="the benchmark's name (report file names); default: the task")
    title: str | None = Field(default=None, description="title of the report's table")
    notes: str = Field(default="", description="text printed above the report's table")
    task: str
    models: list[ModelEntry] | str = Field(default="default", description="entries, or 'all' / 'default'")
    datasets: list[DatasetEntry] | str = Field(default="default", description="entries, or 'all' / 'default'")
    seeds: list[int] = Field(default_factory=lambda: [0], min_length=1)
    params: dict[str, Any] = Field(default_factory=dict, description="`--set` parameters of every run")
    param_sets: list[ParamSet] = Field(default_factory=list, description="each cell runs once per set (none: once)")
    args: tuple[str, ...] = Field(default=(), description="extra `dance run` arguments of every run")
    device: str = Field(default="cpu", description="`dance run --device` of CPU models (GPU models get 'cuda')")
    plots: bool = Field(default=False, description="let runs write their figures (off: `--no-plots`)")
    gpu_models: list[str] = Field(default_factory=list, description="models (labels or names) that need a GPU worker")
    timeout: float | None = Field(default=None, gt=0, description="seconds after which a run is stopped (and not retried)")
    retries: int = Field(default=2, ge=0, description="reruns of a crashed run")
    metrics: list[str] | None = Field(default=None, description="metrics in the report (default: every one found)")
    reported: list[Reported] = Field(default_factory=list)
    out: str | None = Field(default=None, description="runs folder (default: benchmark-runs/<name>)")

    @field_validator("models", mode="before")
    @classmethod
    def _models(cls, value: Any) -> Any:
        return [_model_entry(v) for v in value] if isinstance(value, (list, tuple)) else value

    @field_validator("datasets", mode="before")
    @classmethod
    def _datasets(cls, value: Any) -> Any:
        return [_dataset_entry(v) for v in value] if isinstance(value, (list, tuple)) else value

    @field_validator("models", "datasets")
    @classmethod
    def _keyword(cls, value: Any) -> Any:
        if isinstance(value, str) and value not in ("all", "default"):
            raise ValueError(f"expected a list or 'all' / 'default', got '{value}'")
        if isinstance(value, list) and not value:
            raise ValueError("the list is empty")
        return value

    @field_validator("param_sets")
    @classmethod
    def _unique_sets(cls, value: list[ParamSet]) -> list[ParamSet]:
        names = [s.name for s in value]
        if len(set(names)) != len(names):
            raise ValueError(f"parameter set names repeat: {names}")
        return value

    @property
    def stem(self) -> str:
        return self.name or self.task


class Cell(_Strict):
    """One run of the grid: a fresh ``dance run`` into its own folder."""

    task: str
    model: str = Field(description="registered model name")
    label: str = Field(description="the model's name in folders and tables")
    dataset: str = Field(description="the input's name in folders and tables")
    dataset_name: str | None = Field(default=None, description="registered dataset (None: a file)")
    data: str | None = Field(default=None, description="input file (absolute)")
    seed: int
    param_set: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    args: tuple[str, ...] = ()
    device: str = "cpu"
    plots: bool = False
    gpu: bool = False

    @property
    def folder_name(self) -> str:
        """Deterministic folder of the cell: ``<task>-<model>-<dataset>-seed<seed>[-<parameter set>]``.

        Only the cell's place in the grid names it (not its parameter values), so a changed
        parameter reruns the cell in place."""
        parts = [self.task, self.label, self.dataset, f"seed{self.seed}"]
        if self.param_set:
            parts.append(self.param_set)
        return _UNSAFE.sub("_", "-".join(parts))

    def command(self, dance: list[str], folder: Path) -> list[str]:
        """The ``dance run`` command line (``dance`` is how to call dance, e.g. ``[python, -m, dance.cli]``)."""
        source = ["--dataset", self.dataset_name] if self.dataset_name is not None else ["--data", str(self.data)]
        args = [*dance, "run", self.task, "--model", self.model, *source, "--seed", str(self.seed)]
        args += ["--out", str(folder), "--format", "json", "--quiet", "--device", self.device]
        if not self.plots:
            args.append("--no-plots")
        args += list(self.args)
        for key, value in self.params.items():
            args += ["--set", f"{key}={json.dumps(value)}"]
        return args


def load_config(path: str | Path, **overrides: Any) -> BenchmarkConfig:
    """Read a benchmark TOML file; ``overrides`` replace its fields (None values are ignored).

    A relative ``data`` file or ``out`` folder is relative to the file's folder."""
    path = Path(path)
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    try:
        raw = tomllib.loads(path.read_text())
    except FileNotFoundError as exc:
        raise DanceInputError(f"--config {path}: no such file", field="--config") from exc
    except tomllib.TOMLDecodeError as exc:
        raise DanceInputError(f"--config {path}: not valid TOML ({exc})", field="--config") from exc
    base = path.resolve().parent
    for entry in raw.get("datasets", []) if isinstance(raw.get("datasets"), list) else []:
        if isinstance(entry, dict) and entry.get("data") and not Path(entry["data"]).is_absolute():
            entry["data"] = str(base / entry["data"])
    if raw.get("out") and not Path(raw["out"]).is_absolute():
        raw["out"] = str(base / raw["out"])
    raw.setdefault("name", path.stem)
    raw.update({k: v for k, v in overrides.items() if v is not None})
    return make_config(raw, source=str(path))


def make_config(raw: dict[str, Any], *, source: str = "the benchmark") -> BenchmarkConfig:
    """:class:`BenchmarkConfig` from plain data, with pydantic's errors as one :class:`DanceInputError`."""
    from pydantic import ValidationError

    try:
        return BenchmarkConfig.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'config'}: {e['msg']}" for e in exc.errors())
        raise DanceInputError(f"{source}: {problems}", field="--config") from exc


def expand_cells(config: BenchmarkConfig, registry: Any = None) -> list[Cell]:
    """Every cell of the grid, checked against ``registry`` (the process-wide one by default).

    Raises :class:`~dance.core.errors.DanceInputError` / ``UnknownNameError`` for an unknown task,
    model or dataset, a missing input file, or two cells that would share a folder."""
    if registry is None:
        from dance.core import registry
    registry.get_task(config.task)
    models = _models(config, registry)
    datasets = _datasets(config, registry)
    sets = config.param_sets or [ParamSet(name="default")]
    named_sets = bool(config.param_sets)
    gpu_names = set(config.gpu_models)
    unknown_gpu = gpu_names - {m.name for m in models} - {m.model for m in models}
    if unknown_gpu:
        raise DanceInputError(f"--gpu-models names models not in the grid: {', '.join(sorted(unknown_gpu))}", field="--gpu-models")
    cells = []
    for dataset, model, param_set, seed in product(datasets, models, sets, config.seeds):
        spec = registry.get_model(model.model, config.task)
        gpu = model.gpu or model.name in gpu_names or model.model in gpu_names or GPU_TAG in spec.tags
        cells.append(
            Cell(
                task=config.task,
                model=model.model,
                label=model.name,
                dataset=dataset.name,
                dataset_name=dataset.dataset,
                data=None if dataset.data is None else str(Path(dataset.data).expanduser().resolve()),
                seed=seed,
                param_set=param_set.name if named_sets else None,
                params={**config.params, **model.params, **param_set.params},
                args=(*config.args, *model.args, *dataset.args),
                device="cuda" if gpu and config.device == "cpu" else config.device,
                plots=config.plots,
                gpu=gpu,
            )
        )
    seen: dict[str, Cell] = {}
    for cell in cells:
        if cell.folder_name in seen:
            raise DanceInputError(
                f"two cells of the grid would share the folder '{cell.folder_name}': give the models, datasets or parameter "
                "sets distinct labels",
                field="--config",
            )
        seen[cell.folder_name] = cell
    return cells


def _models(config: BenchmarkConfig, registry: Any) -> list[ModelEntry]:
    if config.models == "all":
        return [ModelEntry(model=spec.name) for spec in registry.models(config.task)]
    if config.models == "default":
        return [ModelEntry(model=registry.default_model(config.task).name)]
    for entry in config.models:
        registry.get_model(entry.model, config.task)
    return list(config.models)


def _datasets(config: BenchmarkConfig, registry: Any) -> list[DatasetEntry]:
    if config.datasets == "all":
        return [DatasetEntry(dataset=spec.name) for spec in registry.datasets(config.task)]
    if config.datasets == "default":
        return [DatasetEntry(dataset=registry.default_dataset(config.task).name)]
    for entry in config.datasets:
        if entry.dataset is not None:
            spec = registry.get_dataset(entry.dataset)
            if config.task not in spec.tasks:
                raise DanceInputError(
                    f"dataset '{entry.dataset}' is not registered for task '{config.task}' (it is for {', '.join(spec.tasks)})",
                    field="--datasets",
                )
        elif not Path(str(entry.data)).expanduser().exists():
            raise DanceInputError(f"input file {entry.data} does not exist", field="--datasets")
    return list(config.datasets)
