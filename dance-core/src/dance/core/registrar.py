"""The ``register`` callable each plugin hook receives (see :mod:`dance.core.hookspecs`)."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from dance.core.errors import DanceError
from dance.core.specs import SPEC_TYPES, EntrySpec

__all__ = ["Registrar"]


class Registrar:
    """The ``register`` callable a hook receives: collects one plugin's entries of one kind."""

    def __init__(self, kind: str, plugin: str, sink: list[EntrySpec]) -> None:
        self.kind = kind
        self.plugin = plugin
        self._sink = sink
        self._spec_type = SPEC_TYPES[kind]

    def __call__(self, spec: EntrySpec | None = None, /, **fields: Any) -> EntrySpec:
        """Register one entry, given as a spec object or as the spec's fields."""
        if spec is None:
            try:
                spec = self._spec_type(**fields)
            except ValidationError as exc:
                name = fields.get("name", "?")
                raise DanceError(f"plugin '{self.plugin}': invalid {self.kind} spec '{name}': {_brief(exc)}") from exc
        elif fields:
            raise TypeError("pass either a spec object or keyword fields, not both")
        elif not isinstance(spec, self._spec_type):
            raise TypeError(f"dance_register_{self.kind}s expects {self._spec_type.__name__}, got {type(spec).__name__}")
        spec = spec.model_copy(update={"plugin": self.plugin})
        self._sink.append(spec)
        return spec

    def __repr__(self) -> str:
        return f"<Registrar {self.kind}s of plugin '{self.plugin}'>"


def _brief(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(map(str, e['loc'])) or 'spec'}: {e['msg']}" for e in exc.errors())
