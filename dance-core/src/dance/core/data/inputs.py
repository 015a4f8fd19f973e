"""Turning what a user names (a dataset, files, objects) into a task's input."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dance.core.containers import Modalities, SpotsAndReference
from dance.core.errors import DanceInputError, UnknownNameError

if TYPE_CHECKING:
    from dance.core.registry import Registry
    from dance.core.specs import DatasetSpec, TaskSpec

__all__ = ["ResolvedInput", "resolve_input"]

PathLike = str | Path


@dataclass
class ResolvedInput:
    """A task's input and where it came from.

    ``files`` are every file read (a Space Ranger folder contributes the files inside it that
    were read), so the input checksum identifies exactly what the run saw and none of them is
    overwritten by the outputs. ``output_rows`` selects the rows of the single output to write
    (the query cells of a reference-to-query annotation); ``modalities`` names the two
    modalities used; ``notes`` go into the result.
    """

    data: Any
    dataset: DatasetSpec | None = None
    files: list[Path] = field(default_factory=list)
    description: str = ""
    keys: dict[str, str] = field(default_factory=dict)
    modalities: tuple[str, str] | None = None
    output_rows: Any = None
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """A short name of the input for figure titles: the dataset, else the file name(s)."""
        if self.dataset is not None:
            return self.dataset.name
        return self.description.rsplit("/", 1)[-1] if self.files else self.description


def _looks_like_path(value: Any) -> bool:
    return isinstance(value, Path) or (isinstance(value, str) and ("/" in value or "." in value or Path(value).exists()))


def _read(path: PathLike) -> Any:
    from dance.core.data.readers import read_any

    return read_any(path)


def _align_modalities(data: Modalities, task: TaskSpec) -> Modalities:
    # Paired tasks need the same order; reorder a copy when both hold the same cells.
    if task.name in ("multiomics_integration",) or data.paired:
        return data
    mod1, mod2 = data.mod1, data.mod2
    if mod1.n_obs == mod2.n_obs and set(mod1.obs_names) == set(mod2.obs_names) and mod2.obs_names.is_unique:
        return Modalities(mod1, mod2[mod1.obs_names].copy(), data.names)
    return data


def resolve_input(
    task: TaskSpec,
    data: Any = None,
    *,
    data2: Any = None,
    reference: Any = None,
    solution: Any = None,
    modalities: tuple[str | None, str | None] | None = None,
    registry: Registry,
    download: bool = True,
) -> ResolvedInput:
    """Resolve ``data`` (dataset name, path, or object), plus ``data2``/``reference``, for ``task``.

    With no ``data``, the task's default dataset (an embedded one when available) is used.
    """
    from anndata import AnnData

    from dance.core.data import load_dataset

    if solution is not None or modalities is not None:  # being implemented (issue 10): --solution, --mod1/--mod2
        raise DanceInputError("--solution and --mod1/--mod2 are not supported yet", field="solution")
    if data is None:
        if data2 is not None or reference is not None:
            raise DanceInputError("--data2/--reference need --data as well", field="data")
        spec = registry.default_dataset(task.name)
        return _from_dataset(spec, task, registry, download)
    if isinstance(data, str) and not _looks_like_path(data):
        try:
            spec = registry.get_dataset(data)
        except UnknownNameError as exc:
            raise UnknownNameError("dataset", data, [d.name for d in registry.datasets()], hint="or pass a path to a data file") from exc
        if data2 is not None or reference is not None:
            raise DanceInputError(f"dataset '{data}' already holds every input of the task; do not pass --data2/--reference", field="data")
        if task.name not in spec.tasks:
            raise DanceInputError(f"dataset '{data}' is for task(s) {', '.join(spec.tasks)}, not '{task.name}'", field="dataset")
        return _from_dataset(spec, task, registry, download, loader=load_dataset)

    files: list[Path] = []

    def load(value: Any) -> Any:
        if isinstance(value, (str, Path)):
            path = Path(value).expanduser()
            if path.is_dir():
                from dance.core.data.visium import visium_files

                files.extend(visium_files(path))
            else:
                files.append(path)
            return _read(path)
        return value

    first = load(data)
    second = load(data2) if data2 is not None else None
    ref = load(reference) if reference is not None else None
    kind = task.input_kind
    if kind == "single":
        if second is not None or ref is not None:
            raise DanceInputError(f"task '{task.name}' takes one input; drop --data2/--reference", field="data2")
        if not isinstance(first, AnnData):
            raise DanceInputError(f"task '{task.name}' takes one AnnData (.h5ad); got {type(first).__name__}", field="data")
        result: Any = first
    elif kind == "modalities":
        if isinstance(first, Modalities):
            result = first
        elif isinstance(first, AnnData) and isinstance(second, AnnData):
            result = Modalities(first, second)
        else:
            raise DanceInputError(
                f"task '{task.name}' takes two modalities: --data A.h5ad --data2 B.h5ad, or one .h5mu file", field="data2"
            )
        result = _align_modalities(result, task)
    else:
        if isinstance(first, SpotsAndReference):
            result = first
        elif isinstance(first, AnnData) and isinstance(ref, AnnData):
            result = SpotsAndReference(first, ref)
        else:
            raise DanceInputError(
                f"task '{task.name}' takes spots and a reference: --data spots.h5ad --reference cells.h5ad", field="reference"
            )
    described = ", ".join(map(str, files)) or type(result).__name__
    return ResolvedInput(result, None, files, described)


def _from_dataset(spec: DatasetSpec, task: TaskSpec, registry: Registry, download: bool, loader: Any = None) -> ResolvedInput:
    from dance.core.data import load_dataset
    from dance.core.data.fetch import fetch_dataset

    paths = list(fetch_dataset(spec, download=download).values())
    data = (loader or load_dataset)(spec.name, task.name, download=download, registry=registry)
    if isinstance(data, Modalities):
        data = _align_modalities(data, task)
    return ResolvedInput(data, spec, paths, f"dataset '{spec.name}'", dict(spec.keys))
