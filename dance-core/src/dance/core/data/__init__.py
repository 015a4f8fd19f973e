"""Datasets: locating verified files, reading formats, loading registered datasets."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dance.core.registry import Registry

__all__ = ["load_dataset"]


def load_dataset(name: str, task: str | None = None, *, download: bool = True, registry: Registry | None = None) -> Any:
    """Load a registered dataset as the input of ``task``.

    Parameters
    ----------
    name
        Registered dataset name (``dance list datasets``).
    task
        The task to shape the data for; the dataset's first task by default.
    download
        Allow downloading missing files (verified against their sha256).

    Returns
    -------
    AnnData, Modalities or SpotsAndReference
        What the task takes, with dance's conventional keys.
    """
    from dance.core.data.fetch import fetch_dataset
    from dance.core.errors import DanceInputError

    if registry is None:
        from dance.core.registry import registry as default_registry

        registry = default_registry
    spec = registry.get_dataset(name)
    task = task or spec.tasks[0]
    if task not in spec.tasks:
        raise DanceInputError(f"dataset '{name}' is for task(s) {', '.join(spec.tasks)}, not '{task}'", field="dataset")
    files = fetch_dataset(spec, download=download)
    loader = spec.load()
    return loader(files, task)
