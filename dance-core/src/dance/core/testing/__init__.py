"""The contributor test kit: conformance checks every dance model must pass.

Modelled on scikit-learn's ``parametrize_with_checks``. In your plugin's tests::

    from dance.core.testing import parametrize_with_checks

    @parametrize_with_checks(["my_model"])
    def test_dance_contract(dance_check):
        dance_check()

Each (model, check) pair becomes one pytest case, named ``my_model-check_deterministic`` and so
on. Known failures are declared, not hidden::

    @parametrize_with_checks(["my_model"], expected_failures={("my_model", "check_deterministic"): "uses cuDNN"})

This module is also an opt-in pytest plugin (``pytest -p dance.core.testing`` or
``pytest_plugins = ["dance.core.testing"]``) providing the fixtures ``dance_registry`` (a
freshly discovered registry), ``dance_synthetic_data`` (``dance_synthetic_data("clustering")``),
``shared_data`` / ``shared_data_env`` (dance's real test datasets), a ``slow`` marker with a
``--run-slow`` option, and a temporary data cache for the whole test session.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from dance.core.testing.checks import CHECKS
from dance.core.testing.synthetic import synthetic_data

if TYPE_CHECKING:
    from dance.core.registry import Registry
    from dance.core.specs import ModelSpec

__all__ = ["CHECKS", "ModelCheck", "check_model", "find_shared_data", "parametrize_with_checks", "synthetic_data"]


class ModelCheck:
    """One check bound to one model; call it to run the check."""

    def __init__(self, spec: ModelSpec, check: Callable[[ModelSpec, Any], None], registry: Registry) -> None:
        self.spec, self.check, self.registry = spec, check, registry

    @property
    def id(self) -> str:
        return f"{self.spec.task}:{self.spec.name}-{self.check.__name__}"

    def __call__(self) -> None:
        self.check(self.spec, self.registry)

    def __repr__(self) -> str:
        return f"ModelCheck({self.id})"


def _specs(models: Iterable[str] | None, task: str | None, registry: Registry) -> list[ModelSpec]:
    if models is None:
        return registry.models(task)
    specs = []
    for name in models:
        model_task = task
        if model_task is None and ":" in name:
            model_task, name = name.split(":", 1)
        specs.append(registry.get_model(name, model_task))
    return specs


def parametrize_with_checks(
    models: Iterable[str] | None = None,
    *,
    task: str | None = None,
    registry: Registry | None = None,
    expected_failures: Mapping[tuple[str, str], str] | None = None,
    checks: Iterable[Callable[[ModelSpec, Any], None]] = CHECKS,
) -> Any:
    """A ``pytest.mark.parametrize`` over (model, check) pairs, with argument ``dance_check``.

    Parameters
    ----------
    models
        Model names (``"task:name"`` when a name exists for several tasks); every model of
        ``task`` (or every registered model) when None.
    task
        Restrict to one task.
    registry
        The registry to take models from; the process-wide one by default.
    expected_failures
        ``{(model name, check name): reason}``; those cases are marked ``xfail(strict=True)``.
    """
    import pytest

    if registry is None:
        from dance.core.registry import registry as default_registry

        registry = default_registry
    expected = dict(expected_failures or {})
    params = []
    for spec in _specs(models, task, registry):
        for check in checks:
            bound = ModelCheck(spec, check, registry)
            reason = expected.get((spec.name, check.__name__))
            marks = [pytest.mark.xfail(reason=reason, strict=True)] if reason else []
            params.append(pytest.param(bound, id=bound.id, marks=marks))
    return pytest.mark.parametrize("dance_check", params)


def check_model(name: str, task: str | None = None, *, registry: Registry | None = None) -> dict[str, str | None]:
    """Run every check on one model outside pytest; returns ``{check: None or error}``."""
    if registry is None:
        from dance.core.registry import registry as default_registry

        registry = default_registry
    spec = registry.get_model(name, task)
    results: dict[str, str | None] = {}
    for check in CHECKS:
        try:
            check(spec, registry)
            results[check.__name__] = None
        except Exception as exc:  # report every failure, keep checking
            results[check.__name__] = f"{type(exc).__name__}: {exc}"
    return results


# ---------------------------------------------------------------------- pytest plugin (opt-in)
def find_shared_data() -> Any:
    """The folder of real shared datasets: ``DANCE_SHARED_DATA``, else ``../shared/data`` from the
    current directory or any parent (the layout of dance's repository and CI)."""
    import os
    from pathlib import Path

    value = os.environ.get("DANCE_SHARED_DATA")
    if value:
        return Path(value)
    for folder in (Path.cwd(), *Path.cwd().parents):
        candidate = folder.parent / "shared" / "data"
        if (candidate / "SHA256SUMS").is_file():
            return candidate
    return None


try:
    import pytest as _pytest
except ImportError:  # the kit's functions work without pytest; the fixtures need it
    _pytest = None

if _pytest is not None:

    def pytest_addoption(parser: Any) -> None:
        parser.addoption("--run-slow", action="store_true", default=False, help="also run tests marked slow (real data, full models)")

    def pytest_configure(config: Any) -> None:
        config.addinivalue_line("markers", "slow: real-data or full-model test, run with --run-slow (CI does)")

    def pytest_collection_modifyitems(config: Any, items: list[Any]) -> None:
        if config.getoption("--run-slow"):
            return
        skip = _pytest.mark.skip(reason="slow test: pass --run-slow")
        for item in items:
            if "slow" in item.keywords:
                item.add_marker(skip)

    @_pytest.fixture(scope="session")
    def shared_data() -> Any:
        """Path of the shared real datasets; skips when absent, fails when DANCE_REQUIRE_SHARED_DATA=1 (CI)."""
        import os

        folder = find_shared_data()
        if folder is None:
            if os.environ.get("DANCE_REQUIRE_SHARED_DATA") == "1":
                _pytest.fail("the shared datasets (../shared/data) are required here but were not found")
            _pytest.skip("shared datasets (../shared/data) not found")
        return folder

    @_pytest.fixture(autouse=True, scope="session")
    def _dance_isolated_cache(tmp_path_factory: Any) -> Any:
        """Downloads, pins and checksum memos of the test session go to a temporary cache."""
        import os

        previous = os.environ.get("DANCE_CACHE_DIR")
        os.environ["DANCE_CACHE_DIR"] = str(tmp_path_factory.mktemp("dance-cache"))
        yield
        if previous is None:
            os.environ.pop("DANCE_CACHE_DIR", None)
        else:
            os.environ["DANCE_CACHE_DIR"] = previous

    @_pytest.fixture
    def shared_data_env(shared_data: Any, monkeypatch: Any) -> Any:
        """``DANCE_DATA_DIR`` pointing at the shared datasets for this test."""
        monkeypatch.setenv("DANCE_DATA_DIR", str(shared_data))
        return shared_data

    @_pytest.fixture
    def dance_registry() -> Registry:
        """A registry discovered afresh from the installed plugins."""
        from dance.core.registry import Registry

        return Registry()

    @_pytest.fixture
    def dance_synthetic_data() -> Callable[..., Any]:
        """``dance_synthetic_data(task, seed=0)``: tiny synthetic input of a task."""
        return synthetic_data
