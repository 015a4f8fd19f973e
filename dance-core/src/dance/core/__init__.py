"""dance-core: task contracts, registries, the plugin manager and the runner of dance.

Public API::

    from dance.core import registry, run, load_dataset, hookimpl
    from dance.core import DataKeys, Modalities, SpotsAndReference

Importing ``dance.core`` is cheap (no numpy, scanpy or torch); heavy pieces load on first use.
It sets ``OMP_WAIT_POLICY=PASSIVE`` unless the variable is already set (see below).
"""

from __future__ import annotations

import importlib
import importlib.metadata
import os
from typing import Any

# OpenMP threads spin while they wait by default. When cores are shared -- with other jobs, or
# within one process between torch's and scikit-learn's OpenMP runtimes -- spinning threads stall
# the ones with work: ACTINN trained in 594 s instead of 26 s on a loaded 2-core machine.
# Yielding costs next to nothing on an idle machine. OpenMP reads the variable when a runtime
# loads, so it must be set before torch or scikit-learn is imported; a user's setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from dance.core.errors import DanceError, DanceInputError, UnknownNameError
from dance.core.hookspecs import hookimpl
from dance.core.registry import Registry, registry

try:
    __version__ = importlib.metadata.version("dance-core")
except importlib.metadata.PackageNotFoundError:  # running from a source tree
    __version__ = "0.0.0"

_LAZY = {
    "run": "dance.core.runner:run",
    "RunResult": "dance.core.runner:RunResult",
    "load_dataset": "dance.core.data:load_dataset",
    "DataKeys": "dance.core.keys:DataKeys",
    "Modalities": "dance.core.containers:Modalities",
    "SpotsAndReference": "dance.core.containers:SpotsAndReference",
    "DanceModel": "dance.core.models.base:DanceModel",
    "ModelParams": "dance.core.models.base:ModelParams",
    "Step": "dance.core.transforms.pipeline:Step",
    "step": "dance.core.transforms.pipeline:step",
}

__all__ = [
    "DanceError",
    "DanceInputError",
    "Registry",
    "UnknownNameError",
    "__version__",
    "hookimpl",
    "registry",
    *_LAZY,
]


def __getattr__(name: str) -> Any:
    target = _LAZY.get(name)
    if target is None:
        raise AttributeError(f"module 'dance.core' has no attribute '{name}'")
    module_name, _, attr = target.partition(":")
    value = getattr(importlib.import_module(module_name), attr)
    globals()[name] = value
    return value
