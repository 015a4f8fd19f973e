"""Plugin discovery and isolation.

Plugins are modules named by entry points in the group ``dance.plugins``. Each one is imported
inside its own ``try``: a plugin that fails to import, or whose hooks raise, is recorded as
failed (with its error) and skipped, so one broken plugin never breaks the others. pluggy does
not isolate import failures itself; this module does.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import os
import traceback
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import Literal

from pydantic import BaseModel, Field

from dance.core.hookspecs import ENTRY_POINT_GROUP, HOOK_KINDS, PROJECT

__all__ = [
    "PluginRecord",
    "PluginSource",
    "check_hook_functions",
    "disabled_plugin_names",
    "entry_point_sources",
    "module_sources",
]

FIRST_PARTY_DISTRIBUTIONS = frozenset({"dance-core", "dance-cli", "dance-nn", "dance-single", "dance-multi", "dance-spatial"})


class PluginRecord(BaseModel):
    """What ``dance plugins`` reports about one plugin."""

    name: str
    module: str
    distribution: str | None = None
    version: str | None = None
    status: Literal["ok", "failed", "disabled"] = "ok"
    error: str | None = None
    registered: dict[str, list[str]] = Field(default_factory=dict)

    @property
    def first_party(self) -> bool:
        return self.distribution in FIRST_PARTY_DISTRIBUTIONS


@dataclass(frozen=True)
class PluginSource:
    """A plugin candidate: its name, where it comes from, and how to import it."""

    name: str
    module_name: str
    distribution: str | None
    version: str | None
    loader: Callable[[], ModuleType]

    @property
    def order(self) -> tuple[int, str]:
        # dance-core registers the tasks everything else refers to, so it goes first;
        # then dance's own packages, then third parties, each alphabetically.
        if self.distribution == "dance-core":
            rank = 0
        elif self.distribution in FIRST_PARTY_DISTRIBUTIONS:
            rank = 1
        else:
            rank = 2
        return (rank, self.name)

    def record(self, **fields: object) -> PluginRecord:
        return PluginRecord(name=self.name, module=self.module_name, distribution=self.distribution, version=self.version, **fields)


def entry_point_sources(group: str = ENTRY_POINT_GROUP) -> list[PluginSource]:
    """Plugin candidates from installed distributions' entry points (reads metadata only)."""
    sources = []
    seen: set[str] = set()
    for ep in importlib.metadata.entry_points(group=group):
        if ep.name in seen:  # the same distribution found twice on sys.path
            continue
        seen.add(ep.name)
        dist = getattr(ep, "dist", None)
        sources.append(
            PluginSource(
                name=ep.name,
                module_name=ep.value,
                distribution=dist.metadata["Name"] if dist is not None else None,
                version=dist.version if dist is not None else None,
                loader=ep.load,
            )
        )
    return sorted(sources, key=lambda s: s.order)


def module_sources(modules: Mapping[str, ModuleType | str], *, distribution: str | None = None) -> list[PluginSource]:
    """Plugin candidates from explicit modules (or module names), e.g. for an isolated registry in tests."""

    def loader_for(value: ModuleType | str) -> Callable[[], ModuleType]:
        if isinstance(value, ModuleType):
            return lambda: value
        return lambda: importlib.import_module(value)

    return [
        PluginSource(
            name=name,
            module_name=value.__name__ if isinstance(value, ModuleType) else value,
            distribution=distribution,
            version=None,
            loader=loader_for(value),
        )
        for name, value in modules.items()
    ]


def disabled_plugin_names(extra: Iterable[str] | None = None) -> frozenset[str]:
    """Names in ``DANCE_DISABLE_PLUGINS`` (comma-separated) plus ``extra``."""
    names = {n.strip() for n in os.environ.get("DANCE_DISABLE_PLUGINS", "").split(",") if n.strip()}
    return frozenset(names | set(extra or ()))


def describe_exception(exc: BaseException) -> str:
    """One line for the error, plus the innermost frame so authors can find it."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" (at {frames[-1].filename}:{frames[-1].lineno})" if frames else ""
    return f"{type(exc).__name__}: {exc}{where}"


def import_plugin(source: PluginSource) -> ModuleType:
    module = source.loader()
    if not isinstance(module, ModuleType):
        raise TypeError(f"entry point '{source.name}' must name a module, got {type(module).__name__}")
    return module


def check_hook_functions(module: ModuleType) -> None:
    """Refuse a plugin module whose hooks would silently do nothing.

    pluggy accepts a module whose ``@hookimpl`` function has a misspelled name
    (``dance_register_model``) and then simply never calls it, so the plugin loads "ok" and
    registers nothing. This raises ``ValueError`` naming the function and the hook it probably
    meant when a marked function is not one of dance's hooks, when a ``dance_register_*``
    function is not marked with ``@hookimpl``, or when the module marks no function at all.
    """
    import difflib

    hooks = sorted(HOOK_KINDS)
    marker = f"{PROJECT}_impl"
    marked = {}
    for attribute, value in vars(module).items():
        options = getattr(value, marker, None)
        if callable(value) and isinstance(options, dict):
            marked[attribute] = options.get("specname") or attribute
    for function, hook in sorted(marked.items()):
        if hook not in HOOK_KINDS:
            close = difflib.get_close_matches(hook, hooks, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else f" (dance's hooks: {', '.join(hooks)})"
            raise ValueError(f"@hookimpl function '{function}' implements no dance hook{hint}")
    unmarked = sorted(
        name for name, value in vars(module).items() if name.startswith("dance_register") and callable(value) and name not in marked
    )
    if unmarked:
        raise ValueError(
            f"function(s) {', '.join(unmarked)} are not marked @hookimpl, so dance would never call them; "
            "decorate them with `from dance.core import hookimpl`"
        )
    if not marked:
        raise ValueError(f"the module implements no dance hook (decorate functions named {', '.join(hooks)} with @hookimpl)")
