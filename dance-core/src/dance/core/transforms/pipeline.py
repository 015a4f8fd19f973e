"""Composable preprocessing pipelines made of registered transforms.

A pipeline is a list of :class:`Step` objects naming registered transforms; it is plain data,
so a run records exactly which pipeline it used (``result.json``) and a user can replace it.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from dance.core.containers import TaskData
    from dance.core.keys import DataKeys
    from dance.core.registry import Registry

__all__ = ["Step", "apply_pipeline", "parse_pipeline", "step"]


class Step(BaseModel):
    """One pipeline step: a registered transform, its parameters, and the input role it acts on."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    transform: str = Field(description="registered transform name")
    params: dict[str, Any] = Field(default_factory=dict)
    on: str | None = Field(default=None, description="role to transform ('mod1', 'reference', ...); None = every role")

    def describe(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        where = f" on {self.on}" if self.on else ""
        return f"{self.transform}({args}){where}"


def step(transform: str, *, on: str | None = None, **params: Any) -> Step:
    """Shorthand: ``step("normalize_total", target_sum=1e4)``."""
    return Step(transform=transform, params=params, on=on)


def parse_pipeline(value: Iterable[Step | dict[str, Any] | str] | None) -> tuple[Step, ...]:
    """Accept steps, dicts (as in result.json) or bare transform names."""
    if value is None:
        return ()
    steps = []
    for item in value:
        if isinstance(item, Step):
            steps.append(item)
        elif isinstance(item, str):
            steps.append(Step(transform=item))
        else:
            steps.append(Step.model_validate(item))
    return tuple(steps)


def apply_pipeline(
    data: TaskData,
    steps: Sequence[Step],
    *,
    keys: DataKeys,
    seed: int = 0,
    registry: Registry | None = None,
) -> TaskData:
    """Apply ``steps`` to a copy of ``data`` and return the copy.

    Transforms receive ``keys`` and ``seed`` when their signature accepts them. Steps with
    ``on=None`` apply to every role of a two-input container.
    """
    from dance.core.containers import Modalities, SpotsAndReference, roles_of
    from dance.core.errors import DanceInputError

    if registry is None:
        from dance.core.registry import registry as default_registry

        registry = default_registry
    result = data.copy()
    roles = roles_of(result)
    for s in steps:
        fn = registry.get_transform(s.transform).load()
        targets = [s.on] if s.on else list(roles)
        for role in targets:
            if role not in roles:
                raise DanceInputError(
                    f"pipeline step {s.describe()} names role '{role}'; this data has {', '.join(roles)}", field="pipeline"
                )
            extra = _optional_arguments(fn, keys=keys, seed=seed)
            roles[role] = fn(roles[role], **s.params, **extra)
    if isinstance(result, Modalities):
        return Modalities(roles["mod1"], roles["mod2"], result.names)
    if isinstance(result, SpotsAndReference):
        return SpotsAndReference(roles["spots"], roles["reference"])
    return roles["adata"]


def _optional_arguments(fn: Any, **candidates: Any) -> dict[str, Any]:
    try:
        parameters = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return {}
    return {k: v for k, v in candidates.items() if k in parameters}
