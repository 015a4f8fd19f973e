"""The registry of tasks, models, datasets, transforms, metrics and CLI commands.

Use the shared instance::

    from dance.core import registry

    registry.models(task="clustering")          # specs, nothing imported
    spec = registry.get_model("leiden")         # unknown names get a "did you mean"
    Leiden = registry.load_model("leiden")      # imports the model class now
    registry.plugins()                          # every plugin, its version, entries and error

Entries come from plugins (see :mod:`dance.core.hookspecs`), discovered the first time the
registry is used. An isolated registry for tests is ``Registry(sources=module_sources({...}))``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import pluggy

import dance.core.hookspecs as hookspecs
from dance.core.errors import DanceError, DuplicateNameError, UnknownNameError
from dance.core.plugins import (
    PluginRecord,
    PluginSource,
    check_hook_functions,
    describe_exception,
    disabled_plugin_names,
    entry_point_sources,
    import_plugin,
)
from dance.core.registrar import Registrar
from dance.core.specs import (
    CommandSpec,
    DatasetSpec,
    EntrySpec,
    MetricSpec,
    ModelSpec,
    TaskSpec,
    TransformSpec,
)

__all__ = ["Registrar", "Registry", "registry"]

SpecT = TypeVar("SpecT", bound=EntrySpec)
KINDS = ("task", "metric", "transform", "model", "dataset", "command")


class Registry:
    """Registered entries of every kind, filled from plugins on first use.

    Parameters
    ----------
    sources
        Returns the plugin candidates; defaults to the ``dance.plugins`` entry points.
    disabled
        Plugin names to skip, in addition to ``DANCE_DISABLE_PLUGINS``.
    """

    def __init__(
        self,
        sources: Callable[[], list[PluginSource]] | list[PluginSource] | None = None,
        *,
        disabled: Iterable[str] | None = None,
    ) -> None:
        if isinstance(sources, list):
            fixed = sources
            sources = lambda: fixed  # noqa: E731
        self._sources = sources or entry_point_sources
        self._extra_disabled = tuple(disabled or ())
        self._lock = threading.RLock()
        self._loaded = False
        self._entries: dict[str, dict[tuple[str, ...], EntrySpec]] = {}
        self._plugins: dict[str, PluginRecord] = {}
        self._contracts: dict[str, Any] = {}

    # ------------------------------------------------------------------ loading
    def refresh(self) -> None:
        """Forget everything and discover plugins again on next use."""
        with self._lock:
            self._loaded = False
            self._entries = {}
            self._plugins = {}
            self._contracts = {}

    def _ensure_loaded(self) -> None:
        if self._loaded:
            return
        with self._lock:
            if self._loaded:
                return
            self._entries = {kind: {} for kind in KINDS}
            self._plugins = {}
            self._load_plugins()
            self._loaded = True

    def _load_plugins(self) -> None:
        disabled = disabled_plugin_names(self._extra_disabled)
        manager = pluggy.PluginManager(hookspecs.PROJECT)
        manager.add_hookspecs(hookspecs)
        staged: dict[str, dict[str, list[EntrySpec]]] = {}
        for source in self._sources():
            if source.name in self._plugins:
                continue
            if source.name in disabled:
                self._plugins[source.name] = source.record(status="disabled", error="disabled by DANCE_DISABLE_PLUGINS")
                continue
            try:
                module = import_plugin(source)
                check_hook_functions(module)
                manager.register(module, name=source.name)
                try:
                    manager.check_pending()  # every hook implementation must match a spec
                except Exception:
                    manager.unregister(module)
                    raise
                staged[source.name] = self._collect(manager, source.name)
            except Exception as exc:  # isolate: record and keep going
                self._plugins[source.name] = source.record(status="failed", error=describe_exception(exc))
                continue
            self._plugins[source.name] = source.record(status="ok")
        # Tasks first (from every plugin), so any plugin may add models to any plugin's task.
        for name, by_kind in staged.items():
            self._commit(name, by_kind, kinds=("task",))
        for name, by_kind in staged.items():
            if self._plugins[name].status == "ok":
                self._commit(name, by_kind, kinds=KINDS[1:])

    def _collect(self, manager: pluggy.PluginManager, plugin: str) -> dict[str, list[EntrySpec]]:
        by_kind: dict[str, list[EntrySpec]] = {kind: [] for kind in KINDS}
        for hook_name, kind in hookspecs.HOOK_KINDS.items():
            caller = getattr(manager.hook, hook_name)
            for impl in caller.get_hookimpls():
                if impl.plugin_name != plugin:
                    continue
                registrar = Registrar(kind, plugin, by_kind[kind])
                # pluggy lets an implementation take a subset of the spec's arguments.
                impl.function(**{arg: registrar for arg in impl.argnames})
        return by_kind

    def _commit(self, plugin: str, by_kind: dict[str, list[EntrySpec]], kinds: Iterable[str]) -> None:
        record = self._plugins[plugin]
        try:
            for kind in kinds:
                for spec in by_kind.get(kind, []):
                    self._add(spec)
                    record.registered.setdefault(kind, []).append(spec.name)
        except DanceError as exc:
            self._remove_plugin_entries(plugin)
            record.status = "failed"
            record.error = str(exc)
            record.registered = {}

    def _remove_plugin_entries(self, plugin: str) -> None:
        for entries in self._entries.values():
            for key in [k for k, s in entries.items() if s.plugin == plugin]:
                del entries[key]

    def _add(self, spec: EntrySpec, *, replace: bool = False) -> None:
        kind = spec.kind
        entries = self._entries[kind]
        existing = entries.get(spec.key)
        if existing is not None and not replace:
            raise DuplicateNameError(f"{spec.label} from plugin '{spec.plugin}' is already registered by plugin '{existing.plugin}'")
        tasks = self._entries["task"]
        needed: tuple[str, ...] = ()
        if isinstance(spec, (ModelSpec, MetricSpec)):
            needed = (spec.task,)
        elif isinstance(spec, DatasetSpec):
            needed = spec.tasks + spec.default_for
            stray = set(spec.default_for) - set(spec.tasks)
            if stray:
                raise DanceError(f"{spec.label}: default_for {sorted(stray)} is not among its tasks {list(spec.tasks)}")
        for task in needed:
            if (task,) not in tasks:
                raise UnknownNameError("task", task, [k[0] for k in tasks], hint=f"referenced by {spec.label} of plugin '{spec.plugin}'")
        entries[spec.key] = spec

    # ------------------------------------------------------------------ programmatic registration
    def register(self, spec: EntrySpec, *, plugin: str = "__main__", replace: bool = False) -> EntrySpec:
        """Register one entry from code (a notebook, a test); ``replace=True`` overrides a name."""
        self._ensure_loaded()
        spec = spec.model_copy(update={"plugin": plugin})
        with self._lock:
            self._add(spec, replace=replace)
            self._contracts.pop(spec.name, None)
        return spec

    # ------------------------------------------------------------------ listing
    def plugins(self) -> list[PluginRecord]:
        """Every plugin found: name, distribution, version, status, entries, error."""
        self._ensure_loaded()
        return list(self._plugins.values())

    def _list(self, kind: str) -> list[Any]:
        self._ensure_loaded()
        return list(self._entries[kind].values())

    def tasks(self) -> list[TaskSpec]:
        """All task specs, in registration order."""
        return self._list("task")

    def models(self, task: str | None = None) -> list[ModelSpec]:
        """Model specs, optionally of one task, sorted by task and name."""
        if task is not None:
            self.get_task(task)
        specs = [s for s in self._list("model") if task is None or s.task == task]
        return sorted(specs, key=lambda s: (s.task, s.name))

    def datasets(self, task: str | None = None) -> list[DatasetSpec]:
        """Dataset specs, optionally only those usable for ``task``, sorted by name."""
        if task is not None:
            self.get_task(task)
        specs = [s for s in self._list("dataset") if task is None or task in s.tasks]
        return sorted(specs, key=lambda s: s.name)

    def transforms(self) -> list[TransformSpec]:
        """Transform specs, sorted by category and name."""
        return sorted(self._list("transform"), key=lambda s: (s.category, s.name))

    def metrics(self, task: str | None = None) -> list[MetricSpec]:
        """Metric specs, optionally of one task, in registration order."""
        if task is not None:
            self.get_task(task)
        return [s for s in self._list("metric") if task is None or s.task == task]

    def commands(self) -> list[CommandSpec]:
        """CLI extension specs."""
        return self._list("command")

    # ------------------------------------------------------------------ lookup
    def _get(self, kind: str, name: str) -> Any:
        self._ensure_loaded()
        spec = self._entries[kind].get((name,))
        if spec is None:
            raise UnknownNameError(kind, name, [k[0] for k in self._entries[kind]], hint=self._failed_plugins_hint())
        return spec

    def get_task(self, name: str) -> TaskSpec:
        """The spec of task ``name``."""
        return self._get("task", name)

    def get_dataset(self, name: str) -> DatasetSpec:
        """The spec of dataset ``name``."""
        return self._get("dataset", name)

    def get_transform(self, name: str) -> TransformSpec:
        """The spec of transform ``name``."""
        return self._get("transform", name)

    def get_command(self, name: str) -> CommandSpec:
        """The spec of CLI command ``name``."""
        return self._get("command", name)

    def get_model(self, name: str, task: str | None = None) -> ModelSpec:
        """The spec of model ``name``; pass ``task`` when the name exists for several tasks."""
        return self._get_per_task("model", name, task)

    def get_metric(self, name: str, task: str | None = None) -> MetricSpec:
        """The spec of metric ``name``; pass ``task`` when the name exists for several tasks."""
        return self._get_per_task("metric", name, task)

    def _get_per_task(self, kind: str, name: str, task: str | None) -> Any:
        self._ensure_loaded()
        entries = self._entries[kind]
        if task is not None:
            self.get_task(task)
            spec = entries.get((task, name))
            if spec is not None:
                return spec
            elsewhere = sorted(t for t, n in entries if n == name)
            hint = f"'{name}' is a {kind} of task {', '.join(elsewhere)}" if elsewhere else f"{kind}s of task '{task}'"
            raise UnknownNameError(
                kind, name, [n for t, n in entries if t == task], hint="; ".join(filter(None, [hint, self._failed_plugins_hint()]))
            )
        matches = [s for (t, n), s in entries.items() if n == name]
        if len(matches) == 1:
            return matches[0]
        if not matches:
            raise UnknownNameError(kind, name, [n for _, n in entries], hint=self._failed_plugins_hint())
        tasks = sorted(s.task for s in matches)
        example = (
            f"registry.load_model('{name}', task='{tasks[-1]}')"
            if kind == "model"
            else f"registry.get_{kind}('{name}', task='{tasks[-1]}')"
        )
        raise DanceError(
            f"{kind} name '{name}' is registered for several tasks ({', '.join(tasks)}); name the task: "
            f"{example} in Python, --task {tasks[-1]} on the command line"
        )

    def load_model(self, name: str, task: str | None = None) -> type:
        """Import the model class, checking it subclasses its task's model base."""
        spec = self.get_model(name, task)
        cls = spec.load()
        base = self.contract(spec.task).model_base
        if not (isinstance(cls, type) and issubclass(cls, base)):
            raise DanceError(
                f"{spec.label} of plugin '{spec.plugin}': target '{spec.target}' is not a subclass of {base.__module__}.{base.__qualname__}"
            )
        return cls

    def contract(self, task: str) -> Any:
        """The task's contract object (a :class:`~dance.core.tasks.base.TaskContract`)."""
        with self._lock:
            contract = self._contracts.get(task)
            if contract is None:
                spec = self.get_task(task)
                contract = spec.load()(spec, registry=self)
                self._contracts[task] = contract
            return contract

    def default_model(self, task: str) -> ModelSpec:
        """The model ``dance run TASK`` uses when none is named."""
        models = self.models(task)
        if not models:
            raise DanceError(f"no model is registered for task '{task}'; install a package that provides one (e.g. dance-single)")
        defaults = [m for m in models if m.default] or models
        return sorted(defaults, key=lambda m: (not self._first_party(m), m.name))[0]

    def default_dataset(self, task: str) -> DatasetSpec:
        """The dataset ``dance run TASK`` uses when none is given: an embedded one when possible."""
        datasets = self.datasets(task)
        if not datasets:
            raise DanceError(f"no dataset is registered for task '{task}'; pass --data FILE")
        defaults = [d for d in datasets if task in d.default_for] or datasets
        return sorted(defaults, key=lambda d: (not d.embedded, not self._first_party(d), d.name))[0]

    def _failed_plugins_hint(self) -> str:
        """A note naming the plugins that failed to load (their entries are missing), or ''."""
        failed = [p for p in self._plugins.values() if p.status == "failed"]
        if not failed:
            return ""
        return "not registered because they failed to load: " + "; ".join(f"plugin '{p.name}': {p.error}" for p in failed)

    def _first_party(self, spec: EntrySpec) -> bool:
        record = self._plugins.get(spec.plugin or "")
        return bool(record and record.first_party)

    def find(self, name: str) -> list[EntrySpec]:
        """Every entry of any kind called ``name`` (for ``dance info``)."""
        self._ensure_loaded()
        found = [s for entries in self._entries.values() for s in entries.values() if s.name == name]
        if not found:
            every = {s.name for entries in self._entries.values() for s in entries.values()}
            raise UnknownNameError("name", name, every, hint=self._failed_plugins_hint())
        return found


registry = Registry()
"""The process-wide registry, filled from installed plugins on first use."""
