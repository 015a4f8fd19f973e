"""The hooks a dance plugin implements.

A plugin is a module named by an entry point in the group ``dance.plugins``::

    # pyproject.toml of your package
    [project.entry-points."dance.plugins"]
    my_plugin = "my_package.dance_plugin"

That module implements any of the hooks below with the :data:`hookimpl` marker. Each hook
receives a ``register`` callable; call it once per entry, with a spec object or the spec's
fields as keyword arguments::

    from dance.core import hookimpl

    @hookimpl
    def dance_register_models(register):
        register(
            name="my_model",
            task="clustering",
            target="my_package.model:MyModel",   # imported only when the model is used
            summary="What it does, in one line",
            citation="Author et al. (2024) Journal",
        )

Rules that keep ``dance`` fast and robust:

* The plugin module must import nothing heavy (no torch, scanpy, ...): targets are strings
  and are imported only when used. The contributor test kit checks this.
* A hook implementation may accept a subset of the arguments of its spec (pluggy's rule), so
  hooks can gain arguments later without breaking plugins.
* A plugin that fails to import, or raises inside a hook, or registers an invalid or duplicate
  entry, is reported by ``dance plugins`` with its error and none of its entries are kept;
  every other plugin keeps working. ``DANCE_DISABLE_PLUGINS=a,b`` blocks plugins by name.
* dance's own packages (``dance-core``, ``dance-single``, ...) register through the same entry
  point group and the same hooks.

The specs each ``register`` accepts are in :mod:`dance.core.specs`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from dance.core.registrar import Registrar

__all__ = ["PROJECT", "hookimpl", "hookspec"]

PROJECT = "dance"
ENTRY_POINT_GROUP = "dance.plugins"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# --------------------------------------------------------------------------------------------
# Tasks
# --------------------------------------------------------------------------------------------
@hookspec
def dance_register_tasks(register: Registrar) -> None:
    """Register task contracts.

    Parameters
    ----------
    register
        Accepts a :class:`~dance.core.specs.TaskSpec` (or its fields). The target is the
        :class:`~dance.core.tasks.base.TaskContract` subclass implementing validation,
        hold-out, output writing and evaluation. The ten built-in tasks are registered by
        dance-core; a plugin adds a task only for a genuinely new problem.

    Called once per plugin, before every other hook, when the registry is first used.
    """


# --------------------------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------------------------
@hookspec
def dance_register_models(register: Registrar) -> None:
    """Register models.

    Parameters
    ----------
    register
        Accepts a :class:`~dance.core.specs.ModelSpec` (or its fields). The target must be a
        subclass of the task's model base class (e.g.
        :class:`~dance.core.tasks.clustering.ClusteringModel`). Names are unique per task.

    Called once per plugin when the registry is first used.
    """


# --------------------------------------------------------------------------------------------
# Datasets
# --------------------------------------------------------------------------------------------
@hookspec
def dance_register_datasets(register: Registrar) -> None:
    """Register datasets.

    Parameters
    ----------
    register
        Accepts a :class:`~dance.core.specs.DatasetSpec` (or its fields): files with sha256
        (and upstream URL where one exists) and a loader target called as
        ``loader(files: dict[str, pathlib.Path], task: str)``, returning the task's input
        (an AnnData, :class:`~dance.core.containers.Modalities` or
        :class:`~dance.core.containers.SpotsAndReference`).

    Called once per plugin when the registry is first used.
    """


# --------------------------------------------------------------------------------------------
# Transforms
# --------------------------------------------------------------------------------------------
@hookspec
def dance_register_transforms(register: Registrar) -> None:
    """Register preprocessing and graph-construction transforms.

    Parameters
    ----------
    register
        Accepts a :class:`~dance.core.specs.TransformSpec` (or its fields). The target is
        called as ``fn(adata, **params)`` on a private copy and returns the AnnData.

    Called once per plugin when the registry is first used.
    """


# --------------------------------------------------------------------------------------------
# Metrics
# --------------------------------------------------------------------------------------------
@hookspec
def dance_register_metrics(register: Registrar) -> None:
    """Register metrics.

    Parameters
    ----------
    register
        Accepts a :class:`~dance.core.specs.MetricSpec` (or its fields). The target is called
        as ``fn(truth, prediction)`` with the task's truth and prediction objects (documented
        in each task contract) and returns a float, or ``None`` when the truth it needs is
        absent. Every registered metric of a task is reported by ``score`` and ``dance run``.

    Called once per plugin when the registry is first used.
    """


# --------------------------------------------------------------------------------------------
# Command-line extensions
# --------------------------------------------------------------------------------------------
@hookspec
def dance_register_commands(register: Registrar) -> None:
    """Register ``dance`` sub-commands.

    Parameters
    ----------
    register
        Accepts a :class:`~dance.core.specs.CommandSpec` (or its fields). The target is a
        ``typer.Typer`` app (added as a command group) or a plain function (added as a
        command); it is imported only when that command runs or help is shown.

    Called once per plugin when the registry is first used.
    """


HOOK_KINDS: dict[str, str] = {
    "dance_register_tasks": "task",
    "dance_register_metrics": "metric",
    "dance_register_transforms": "transform",
    "dance_register_models": "model",
    "dance_register_datasets": "dataset",
    "dance_register_commands": "command",
}
