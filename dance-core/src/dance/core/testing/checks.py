"""The checks every dance model must pass, ours or a third party's.

Each check is ``check(spec, registry)`` and raises ``AssertionError`` with a message that says
what is wrong. Models run on tiny synthetic data (:mod:`dance.core.testing.synthetic`) with
their ``quick_params``, on the CPU.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from dance.core.containers import roles_of
from dance.core.errors import DanceInputError
from dance.core.specs import ModelSpec

if TYPE_CHECKING:
    from dance.core.registry import Registry

__all__ = ["CHECKS", "HEAVY_MODULES"]

HEAVY_MODULES = ("torch", "torch_geometric", "tensorflow", "jax", "scanpy", "dgl")


# ---------------------------------------------------------------------- helpers
def _model(spec: ModelSpec, registry: Registry, data: Any, seed: int = 0) -> Any:
    from dance.core.keys import DataKeys

    cls = registry.load_model(spec.name, spec.task)
    params, _ = registry.contract(spec.task).suggest_params(cls, data, DataKeys(), dict(cls.quick_params))
    return cls(params, seed=seed, device="cpu", registry=registry)


def _data(spec: ModelSpec, seed: int = 0) -> Any:
    from dance.core.testing.synthetic import synthetic_data

    return synthetic_data(spec.task, seed=seed)


def _view(spec: ModelSpec, registry: Registry, data: Any, seed: int = 0) -> tuple[Any, Any]:
    from dance.core.keys import DataKeys

    return registry.contract(spec.task).holdout(data, DataKeys(), seed=seed)


def _snapshot(data: Any) -> list[tuple[str, Any]]:
    items: list[tuple[str, Any]] = []
    for role, adata in roles_of(data).items():
        x = adata.X
        items.append((f"{role}.X", x.toarray().copy() if sp.issparse(x) else np.array(x, copy=True)))
        items.append((f"{role}.obs", adata.obs.copy(deep=True)))
        items.append((f"{role}.var", adata.var.copy(deep=True)))
        items.append((f"{role}.obsm", {k: np.array(v, copy=True) for k, v in adata.obsm.items()}))
        items.append((f"{role}.layers", {k: (v.toarray() if sp.issparse(v) else np.array(v, copy=True)) for k, v in adata.layers.items()}))
        items.append((f"{role}.uns", sorted(adata.uns.keys())))
        items.append((f"{role}.shape", adata.shape))
    return items


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, pd.DataFrame):
        return isinstance(b, pd.DataFrame) and a.shape == b.shape and list(a.columns) == list(b.columns) and a.equals(b)
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.shape == b.shape and np.array_equal(a, b, equal_nan=True)
    return a == b


def _equal_predictions(a: Any, b: Any) -> bool:
    from dance.core.tasks.batch_integration import IntegrationOutput

    if isinstance(a, IntegrationOutput):
        return _equal_predictions(a.embedding, b.embedding) and _equal_predictions(a.corrected, b.corrected)
    if isinstance(a, (tuple, list)):
        return len(a) == len(b) and all(_equal_predictions(x, y) for x, y in zip(a, b, strict=False))
    if a is None or b is None:
        return a is b
    if isinstance(a, pd.DataFrame):
        return a.shape == b.shape and np.allclose(a.to_numpy(), b.to_numpy(), rtol=1e-5, atol=1e-6)
    if sp.issparse(a):
        a = a.toarray()
    if sp.issparse(b):
        b = b.toarray()
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype.kind in "fc":
        return a.shape == b.shape and np.allclose(a, b, rtol=1e-5, atol=1e-6)
    return a.shape == b.shape and bool((a == b).all())


# ---------------------------------------------------------------------- checks
PLACEHOLDER_CITATIONS = {"", "none", "null", "n/a", "na", "-", "?", "todo", "tbd", "tba", "fixme", "xxx", "unknown", "citation", "paper"}


def citation_problem(citation: str | None) -> str | None:
    """Why ``citation`` does not name a paper (None when it does): missing, a placeholder such as
    ``TODO`` or ``none``, or no year / DOI / URL to find the paper by."""
    import re

    text = (citation or "").strip()
    word = text.lower().strip(".!:")
    if word in PLACEHOLDER_CITATIONS or re.match(r"^(todo|tbd|fixme|xxx)\b", word):
        return "is missing" if not text else f"'{text}' is a placeholder"
    if not re.search(r"\b(1[89]|20)\d\d\b|doi\.org|\b10\.\d{4,}/|arxiv|https?://", text, flags=re.IGNORECASE):
        return f"'{text}' names no year, DOI or URL to find the paper by"
    return None


def check_spec_valid(spec: ModelSpec, registry: Registry) -> None:
    """The spec validates, names a registered task and cites the paper the method comes from."""
    again = ModelSpec.model_validate(spec.model_dump())
    assert again == spec, "the spec does not survive a validation round trip"
    assert spec.task in {t.name for t in registry.tasks()}, f"task '{spec.task}' is not registered"
    problem = citation_problem(spec.citation)
    assert problem is None, (
        f"{spec.label}: citation {problem}; name the paper the method comes from "
        "(authors, year, title, venue), e.g. 'Traag, Waltman & van Eck (2019) From Louvain to Leiden. Sci Rep 9:5233'"
    )


def check_target_resolves(spec: ModelSpec, registry: Registry) -> None:
    """The target imports and subclasses the task's model base; ``name``/``task`` agree with the spec."""
    cls = registry.load_model(spec.name, spec.task)
    base = registry.contract(spec.task).model_base
    assert issubclass(cls, base), f"{spec.target} is not a subclass of {base.__qualname__}"
    assert cls.task == spec.task, f"{cls.__qualname__}.task is '{cls.task}', the spec says '{spec.task}'"
    assert cls.name == spec.name, f"{cls.__qualname__}.name is '{cls.name}', the spec says '{spec.name}'"
    cls.Params()  # every parameter has a default


def check_plugin_import_is_light(spec: ModelSpec, registry: Registry) -> None:
    """Importing the plugin module that registered the model imports no deep-learning library."""
    record = next((p for p in registry.plugins() if p.name == spec.plugin), None)
    if record is None:  # registered from code, not by a plugin
        return
    code = (
        "import importlib, json, sys; importlib.import_module(sys.argv[1]); "
        f"print(json.dumps([m for m in {list(HEAVY_MODULES)!r} if m in sys.modules]))"
    )
    # the child sees the same import path as this process (plugins under test may not be installed)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    completed = subprocess.run([sys.executable, "-c", code, record.module], capture_output=True, text=True, timeout=120, env=env)
    assert completed.returncode == 0, f"importing plugin module {record.module} failed: {completed.stderr[-500:]}"
    heavy = json.loads(completed.stdout.strip().splitlines()[-1])
    assert not heavy, f"importing plugin module {record.module} imports {heavy}; import them inside the model instead"


def check_model_import_is_light(spec: ModelSpec, registry: Registry) -> None:
    """Importing the module of the model's target imports no deep-learning library or scanpy
    (``dance info`` imports it to read the parameters, default pipeline and docstring)."""
    module = spec.target.partition(":")[0]
    code = (
        "import importlib, json, sys; importlib.import_module(sys.argv[1]); "
        f"print(json.dumps([m for m in {list(HEAVY_MODULES)!r} if m in sys.modules]))"
    )
    # the child sees the same import path as this process (models under test may not be installed)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    completed = subprocess.run([sys.executable, "-c", code, module], capture_output=True, text=True, timeout=120, env=env)
    assert completed.returncode == 0, f"importing model module {module} failed: {completed.stderr[-500:]}"
    heavy = json.loads(completed.stdout.strip().splitlines()[-1])
    assert not heavy, (
        f"{spec.label}: importing its module {module} imports {heavy}; import them inside _fit / _predict "
        "(keep the torch.nn.Module in a separate module) so `dance info` and `dance list` stay fast"
    )


def check_fit_returns_self(spec: ModelSpec, registry: Registry) -> None:
    """``fit`` returns the model itself."""
    data = _data(spec)
    view, _ = _view(spec, registry, data)
    model = _model(spec, registry, data)
    assert model.fit(view) is model, "fit must return self"


def check_predict_contract(spec: ModelSpec, registry: Registry) -> None:
    """``predict`` output passes the task's check and can be written to the conventional keys."""
    from dance.core.keys import DataKeys

    data = _data(spec)
    view, _ = _view(spec, registry, data)
    model = _model(spec, registry, data).fit(view)
    prediction = model.predict(view)
    contract = registry.contract(spec.task)
    contract.check_prediction(prediction, view, DataKeys(), model=model)
    outputs = contract.write_output(
        contract.output_source(view, data, DataKeys()), prediction, DataKeys(), model_name=spec.name, model=model
    )
    assert outputs, "write_output produced nothing"


def check_score_returns_metrics(spec: ModelSpec, registry: Registry) -> None:
    """``score`` returns every metric of the task contract as a finite float, or says why the data
    do not allow it (``model.metrics_absent_``)."""
    data = _data(spec)
    view, _ = _view(spec, registry, data)
    model = _model(spec, registry, data).fit(view)
    metrics = model.score(data)
    task = registry.get_task(spec.task)
    absent = getattr(model, "metrics_absent_", {})
    missing = [m for m in task.metrics if m not in metrics and m not in absent]
    assert not missing, f"score() is missing metrics {missing} without a reason; got {sorted(metrics)}"
    bad = {k: v for k, v in metrics.items() if not (isinstance(v, float) and np.isfinite(v))}
    assert not bad, f"score() returned non-finite or non-float values: {bad}"


def check_deterministic(spec: ModelSpec, registry: Registry) -> None:
    """Two models with the same seed give the same prediction."""
    data = _data(spec)
    view, _ = _view(spec, registry, data)
    first = _model(spec, registry, data, seed=7).fit(view).predict(view)
    second = _model(spec, registry, data, seed=7).fit(view).predict(view)
    assert _equal_predictions(first, second), "the same seed gave different predictions"


def check_input_not_modified(spec: ModelSpec, registry: Registry) -> None:
    """``fit``, ``predict`` and ``score`` leave the user's data untouched."""
    data = _data(spec)
    view, _ = _view(spec, registry, data)
    before_data, before_view = _snapshot(data), _snapshot(view)
    model = _model(spec, registry, data).fit(view)
    model.predict(view)
    model.score(data)
    for (name, before), (_, after) in zip(before_data + before_view, _snapshot(data) + _snapshot(view), strict=False):
        assert _same(before, after), f"the model modified the input ({name})"


def check_missing_field_error(spec: ModelSpec, registry: Registry) -> None:
    """A removed or corrupted required field gives a DanceInputError naming the field."""
    from dance.core.keys import DataKeys

    data = _data(spec)
    view, _ = _view(spec, registry, data)
    for broken in registry.contract(spec.task).broken_inputs(view, DataKeys()):
        model = _model(spec, registry, data)
        try:
            model.fit(broken.data)
        except DanceInputError as exc:
            assert broken.named_in(str(exc)), f"{broken.description}: the error names none of {broken.fields}: {exc}"
        else:
            raise AssertionError(f"{broken.description}: fit accepted the broken input instead of raising DanceInputError")


CHECKS: tuple[Callable[[ModelSpec, Any], None], ...] = (
    check_spec_valid,
    check_target_resolves,
    check_plugin_import_is_light,
    check_model_import_is_light,
    check_fit_returns_self,
    check_predict_contract,
    check_score_returns_metrics,
    check_deterministic,
    check_input_not_modified,
    check_missing_field_error,
)
