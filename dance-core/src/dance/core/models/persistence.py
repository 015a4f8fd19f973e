"""Saving a fitted model to a folder and loading it back, without pickle.

A saved model is a folder of two files anyone can read:

* ``model.json``: the model's name, task, target and plugin, its parameters, seed, data keys and
  preprocessing pipeline, the features (genes) of the data it was fitted on, the JSON-able part of
  its fitted state (label names, chosen sizes, notes) and the package versions;
* ``arrays.safetensors``: every array of its fitted state, torch weights included (as arrays),
  in the safetensors format, which stores numbers only and cannot run code when read.

A model opts in by implementing ``_fitted_state()`` (returning ``(values, arrays)``: JSON-able
values and NumPy arrays; a torch module's weights go in with :func:`dance.nn.persistence`'s
helpers) and ``_restore_state(values, arrays)``. Models whose fit leaves nothing that applies to
new cells (transductive models such as Leiden) refuse with a message saying so.
"""

from __future__ import annotations

import datetime as _dt
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from dance.core.errors import DanceError, DanceInputError

if TYPE_CHECKING:
    from dance.core.registry import Registry


class SavableModel(Protocol):
    """What saving reads from a fitted model (:class:`dance.core.models.base.DanceModel` has it;
    named here so that this module and the model base import nothing of each other)."""

    name: str
    task: str
    seed: int
    params: Any
    keys: Any
    pipeline: tuple[Any, ...]
    input_features_: dict[str, tuple[str, ...]]

    def _check_fitted(self) -> None: ...

    def _fitted_state(self) -> tuple[dict[str, Any], dict[str, Any]]: ...


__all__ = ["FORMAT", "SavableModel", "load_model_dir", "save_model_dir"]

FORMAT = "dance-model/1"
MODEL_FILE = "model.json"
ARRAYS_FILE = "arrays.safetensors"


def save_model_dir(model: SavableModel, folder: str | Path) -> Path:
    """Write a fitted ``model`` into ``folder`` (created; files of an earlier save replaced).

    Raises
    ------
    DanceError
        When the model is not fitted, or keeps no state that applies to new cells.
    """
    import numpy as np
    from safetensors.numpy import save_file

    from dance.core.versions import package_versions

    model._check_fitted()
    values, arrays = model._fitted_state()
    folder = Path(folder).expanduser()
    if folder.exists() and not folder.is_dir():
        raise DanceInputError(f"{folder} exists and is not a folder; choose another place to save the model", field="--save-model")
    folder.mkdir(parents=True, exist_ok=True)
    record = {
        "format": FORMAT,
        "model": model.name,
        "task": model.task,
        "target": f"{type(model).__module__}:{type(model).__qualname__}",
        "params": model.params.model_dump(mode="json"),
        "seed": model.seed,
        "keys": model.keys.model_dump(),
        "pipeline": [step.model_dump() for step in model.pipeline],
        "input_features": {role: list(names) for role, names in model.input_features_.items()},
        "state": values,
        "versions": package_versions(),
        "saved_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    contiguous = {name: np.ascontiguousarray(value) for name, value in arrays.items()}
    save_file(contiguous, str(folder / ARRAYS_FILE))
    (folder / MODEL_FILE).write_text(json.dumps(record, indent=1) + "\n")
    return folder


def load_model_dir(folder: str | Path, *, device: str = "auto", registry: Registry | None = None) -> Any:
    """The fitted model (a :class:`~dance.core.models.base.DanceModel`) saved in ``folder`` by
    :func:`save_model_dir`, ready to ``predict``.

    The model class comes from the registry (its plugin must be installed); parameters, seed,
    keys, pipeline and fitted state are restored as saved. ``predict`` then checks that new data
    hold the genes the model was fitted on (extra genes are ignored, the order is the saved one).
    """
    from safetensors.numpy import load_file

    if registry is None:
        from dance.core.registry import registry as default_registry

        registry = default_registry
    folder = Path(folder).expanduser()
    path = folder / MODEL_FILE
    if not path.is_file():
        raise DanceInputError(f"{folder} holds no saved dance model ({MODEL_FILE} is missing)", field="--model-dir")
    try:
        record = json.loads(path.read_text())
    except ValueError as exc:
        raise DanceInputError(f"{path} is not valid JSON ({exc})", field="--model-dir") from exc
    if record.get("format") != FORMAT:
        raise DanceInputError(f"{path} is format {record.get('format')!r}; this dance reads {FORMAT!r}", field="--model-dir")
    cls = registry.load_model(record["model"], record["task"])
    model = cls(record["params"], seed=record["seed"], device=device, keys=record["keys"], pipeline=record["pipeline"], registry=registry)
    arrays = load_file(str(folder / ARRAYS_FILE)) if (folder / ARRAYS_FILE).is_file() else {}
    model._restore_state(record.get("state", {}), arrays)
    model.input_features_ = {role: tuple(names) for role, names in record.get("input_features", {}).items()}
    model.fitted_ = True
    model.loaded_from_ = str(folder)
    return model


def model_dir_summary(folder: str | Path) -> dict[str, Any]:
    """The saved model's name, task, parameters and versions, without loading it."""
    path = Path(folder).expanduser() / MODEL_FILE
    if not path.is_file():
        raise DanceError(f"{folder} holds no saved dance model")
    record = json.loads(path.read_text())
    return {key: record.get(key) for key in ("model", "task", "params", "seed", "versions", "saved_at")}
