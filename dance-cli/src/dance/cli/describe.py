"""Details of one registered entry for ``dance info`` (imports the model class for models)."""

from __future__ import annotations

from typing import Any

from dance.core import registry


def describe(spec: Any) -> dict[str, Any]:
    detail: dict[str, Any] = {"kind": spec.kind, "name": spec.name, "summary": spec.summary, "plugin": spec.plugin, "target": spec.target}
    if spec.citation:
        detail["citation"] = spec.citation
    if spec.requires:
        detail["requires"] = list(spec.requires)
    if spec.kind == "task":
        detail["input"] = spec.input_kind
        detail["reads"] = [f"{f.address()}{'' if f.required else ' (optional)'}: {f.description}" for f in spec.inputs]
        detail["writes"] = [f"{f.address()}: {f.description}" for f in spec.outputs]
        detail["metrics"] = [f"{m.name} ({'higher' if m.higher_is_better else 'lower'} is better)" for m in registry.metrics(spec.name)]
        detail["models"] = [m.name for m in registry.models(spec.name)]
        detail["datasets"] = [d.name for d in registry.datasets(spec.name)]
    elif spec.kind == "model":
        detail["task"] = spec.task
        cls = registry.load_model(spec.name, spec.task)
        params = {}
        for name, field in cls.Params.model_fields.items():
            text = f"{field.annotation.__name__ if hasattr(field.annotation, '__name__') else field.annotation} = {field.default!r}"
            if field.description:
                text += f"  ({field.description})"
            params[name] = text
        detail["parameters"] = params
        detail["default pipeline"] = [s.describe() for s in cls.default_pipeline] or ["none"]
        detail["needs raw counts"] = cls.needs_counts
        if cls.__doc__:
            detail["description"] = " ".join(cls.__doc__.strip().split("\n\n")[0].split())
    elif spec.kind == "dataset":
        from dance.core.data.fetch import file_status

        detail["tasks"] = list(spec.tasks)
        if spec.shape:
            detail["shape"] = spec.shape
        if spec.description:
            detail["description"] = spec.description
        detail["files"] = [f"{f.path} [{where or 'missing'}] {f.url or f.source or ''}".strip() for f, where in file_status(spec)]
        if spec.keys:
            detail["keys"] = spec.keys
    elif spec.kind == "metric":
        detail["task"] = spec.task
        detail["higher is better"] = spec.higher_is_better
    elif spec.kind == "transform":
        detail["category"] = spec.category
    return detail
