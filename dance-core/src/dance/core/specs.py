"""Validated specifications of everything a plugin can register.

A spec is plain data: reading it never imports the code it describes. Each spec names its
implementation as a ``"module:attr"`` *target*, imported only when the entry is used
(:meth:`EntrySpec.load`), so ``dance list`` imports nothing heavy.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import re
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from dance.core.errors import TargetImportError

__all__ = [
    "CommandSpec",
    "DataFile",
    "DatasetSpec",
    "EntrySpec",
    "FieldSpec",
    "MetricSpec",
    "ModelSpec",
    "TaskSpec",
    "TransformSpec",
    "import_target",
]

NAME_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"
TARGET_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$"
SHA256_PATTERN = r"^[0-9a-f]{64}$"

TaskName = str


def import_target(target: str, *, owner: str, requires: tuple[str, ...] = ()) -> Any:
    """Import the object a ``"module:attr"`` string points at.

    Parameters
    ----------
    target
        ``"package.module:Attribute"`` (the attribute may be dotted).
    owner
        What the target belongs to, used in the error message (``"model 'leiden'"``).
    requires
        Distribution names the target needs; missing ones are named in the error.

    Raises
    ------
    TargetImportError
        With the dotted path, the underlying error and, where known, the packages to install.
    """
    if not re.match(TARGET_PATTERN, target):
        raise TargetImportError(f"{owner}: target '{target}' is not of the form 'package.module:attr'")
    module_name, _, attr_path = target.partition(":")
    missing = [r for r in requires if not _distribution_installed(r)]
    try:
        obj: Any = importlib.import_module(module_name)
    except Exception as exc:  # any import failure is reported the same way
        hint = f"; install the missing requirement(s): pip install {' '.join(missing)}" if missing else ""
        raise TargetImportError(f"{owner}: cannot import '{module_name}' (target '{target}'): {type(exc).__name__}: {exc}{hint}") from exc
    for part in attr_path.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError as exc:
            raise TargetImportError(f"{owner}: module '{module_name}' has no attribute '{attr_path}' (target '{target}')") from exc
    return obj


def _distribution_installed(requirement: str) -> bool:
    name = re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0]
    try:
        importlib.metadata.version(name)
        return True
    except importlib.metadata.PackageNotFoundError:
        return importlib.util.find_spec(name.replace("-", "_")) is not None


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EntrySpec(_Frozen):
    """Fields shared by every registered entry."""

    kind: ClassVar[str] = "entry"

    name: str = Field(pattern=NAME_PATTERN, description="lower-case identifier, e.g. 'leiden'")
    summary: str = Field(min_length=1, max_length=200, description="one line shown by `dance list`")
    target: str = Field(pattern=TARGET_PATTERN, description="'module:attr' implementing the entry")
    citation: str | None = Field(default=None, description="the paper the entry comes from")
    requires: tuple[str, ...] = Field(default=(), description="pip requirements the target needs")
    plugin: str | None = Field(default=None, description="the plugin that registered it (set on registration)")

    @property
    def key(self) -> tuple[str, ...]:
        """Registry key; names are unique per kind (per task for models and metrics)."""
        return (self.name,)

    @property
    def label(self) -> str:
        return f"{self.kind} '{self.name}'"

    def load(self) -> Any:
        """Import and return the target."""
        return import_target(self.target, owner=self.label, requires=self.requires)


class FieldSpec(_Frozen):
    """One AnnData field a task reads or writes."""

    role: str = Field(description="which input: 'adata', 'mod1', 'mod2', 'spots' or 'reference'")
    slot: Literal["X", "obs", "var", "obsm", "obsp", "layers", "uns", "obs_names"]
    key: str | None = Field(default=None, description="the default key; '{model}' is the model name")
    option: str | None = Field(default=None, description="the DataKeys field / CLI flag that overrides the key")
    required: bool = True
    description: str = ""

    def address(self) -> str:
        where = self.slot if self.key is None else f"{self.slot}['{self.key}']"
        return where if self.role == "adata" else f"{self.role}.{where}"


class TaskSpec(EntrySpec):
    """A task contract: inputs it reads, outputs it writes, metrics it reports."""

    kind: ClassVar[str] = "task"

    input_kind: Literal["single", "modalities", "spots_reference"]
    roles: tuple[str, ...]
    inputs: tuple[FieldSpec, ...]
    outputs: tuple[FieldSpec, ...]
    metrics: tuple[str, ...] = Field(description="metric names every model of the task reports")


class ModelSpec(EntrySpec):
    """A model implementing one task."""

    kind: ClassVar[str] = "model"

    task: TaskName
    default: bool = Field(default=False, description="the task's default model when none is named")
    tags: tuple[str, ...] = ()

    @property
    def key(self) -> tuple[str, ...]:
        return (self.task, self.name)

    @property
    def label(self) -> str:
        return f"model '{self.name}' ({self.task})"


class MetricSpec(EntrySpec):
    """A metric of one task; called as ``fn(truth, prediction) -> float | None``."""

    kind: ClassVar[str] = "metric"

    task: TaskName
    higher_is_better: bool = True

    @property
    def key(self) -> tuple[str, ...]:
        return (self.task, self.name)

    @property
    def label(self) -> str:
        return f"metric '{self.name}' ({self.task})"


class TransformSpec(EntrySpec):
    """A preprocessing or graph-construction step: ``fn(adata, **params) -> AnnData``."""

    kind: ClassVar[str] = "transform"

    category: Literal["preprocessing", "graph", "features"] = "preprocessing"


class DataFile(_Frozen):
    """One file of a dataset.

    ``path`` is relative to a data folder (the layout of ``DANCE_DATA_DIR``); ``url`` is a
    direct download of exactly this file (verified against ``sha256``); ``source`` records
    provenance when the file was converted from an upstream original that cannot be read as is.
    A file whose upstream hash is unknown has ``sha256=None``: its hash is recorded the first
    time it is used and every later use is checked against that pin.
    """

    path: str = Field(pattern=r"^[A-Za-z0-9_.\-]+(/[A-Za-z0-9_.\-]+)*$")
    sha256: str | None = Field(
        default=None,
        pattern=SHA256_PATTERN,
        description="expected sha256; None only when upstream publishes none: the hash is then pinned at first use",
    )
    url: str | None = None
    source: str | None = None
    size: int | None = Field(default=None, ge=0)
    package: str | None = Field(default=None, description="Python package that embeds a copy (wheel data)")

    @field_validator("url", "source")
    @classmethod
    def _http(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("https://", "http://", "ftp://")):
            raise ValueError(f"'{value}' is not an http(s)/ftp URL")
        return value

    @property
    def filename(self) -> str:
        return self.path.rsplit("/", 1)[-1]


class DatasetSpec(EntrySpec):
    """A dataset: its files and a loader ``fn(files: dict[str, Path], task: str) -> data``."""

    kind: ClassVar[str] = "dataset"

    tasks: tuple[TaskName, ...] = Field(min_length=1)
    description: str = ""
    files: tuple[DataFile, ...] = Field(min_length=1)
    default_for: tuple[TaskName, ...] = ()
    shape: str | None = Field(default=None, description="e.g. '4271 cells x 2000 genes'")
    keys: dict[str, str] = Field(default_factory=dict, description="DataKeys this dataset uses instead of the defaults")
    model_params: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="parameters a model runs with on this dataset unless the user sets them (e.g. a shorter schedule for an "
        "embedded demo subset), by model name; a run records those it used in its notes",
    )

    @field_validator("keys")
    @classmethod
    def _known_keys(cls, value: dict[str, str]) -> dict[str, str]:
        from dance.core.keys import DataKeys

        unknown = set(value) - set(DataKeys.model_fields)
        if unknown:
            raise ValueError(f"unknown data key(s) {sorted(unknown)}; expected some of {sorted(DataKeys.model_fields)}")
        return value

    @property
    def embedded(self) -> bool:
        return all(f.package for f in self.files)


class CommandSpec(EntrySpec):
    """A CLI extension: ``target`` is a Typer app or a function added as ``dance NAME``."""

    kind: ClassVar[str] = "command"


SPEC_TYPES: dict[str, type[EntrySpec]] = {
    "task": TaskSpec,
    "model": ModelSpec,
    "dataset": DatasetSpec,
    "transform": TransformSpec,
    "metric": MetricSpec,
    "command": CommandSpec,
}
