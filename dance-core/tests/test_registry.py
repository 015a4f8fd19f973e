from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest
from helpers import kmeans_plugin, plugin_module

from dance.core.errors import DanceError, TargetImportError, UnknownNameError
from dance.core.plugins import PluginSource
from dance.core.specs import ModelSpec

TASKS = {
    "cell_type_annotation",
    "clustering",
    "imputation",
    "batch_integration",
    "modality_prediction",
    "modality_matching",
    "joint_embedding",
    "multiomics_integration",
    "spatial_domain",
    "cell_type_deconvolution",
}


def test_core_declares_the_ten_tasks_with_their_metrics(make_registry):
    registry = make_registry()
    assert {t.name for t in registry.tasks()} == TASKS
    for task in registry.tasks():
        registered = {m.name for m in registry.metrics(task.name)}
        assert set(task.metrics) - {"bio_conservation", "batch_correction", "overall"} <= registered, task.name


def test_models_of_a_plugin_are_listed_and_loaded(make_registry):
    registry = make_registry({"testplugin": kmeans_plugin()})
    (spec,) = registry.models("clustering")
    assert (spec.name, spec.plugin) == ("kmeans_test", "testplugin")
    assert registry.load_model("kmeans_test").__name__ == "KMeansClustering"
    assert registry.default_model("clustering").name == "kmeans_test"


def test_unknown_names_suggest_the_closest(make_registry):
    registry = make_registry({"testplugin": kmeans_plugin()})
    with pytest.raises(UnknownNameError, match="did you mean 'kmeans_test'"):
        registry.get_model("kmeans_tst")
    with pytest.raises(UnknownNameError, match="did you mean 'clustering'"):
        registry.get_task("clusterin")


def test_same_model_name_for_two_tasks_needs_the_task(make_registry):
    def other(register):
        register(name="kmeans_test", task="spatial_domain", target="helpers:KMeansClustering", summary="s", citation="c")

    registry = make_registry({"a": kmeans_plugin(), "b": plugin_module("b", dance_register_models=other)})
    with pytest.raises(DanceError, match="several tasks"):
        registry.get_model("kmeans_test")
    with pytest.raises(DanceError) as caught:
        registry.load_model("kmeans_test")
    message = str(caught.value)
    assert "(clustering, spatial_domain)" in message
    assert "registry.load_model('kmeans_test', task='spatial_domain') in Python, --task spatial_domain on the command line" in message
    assert registry.get_model("kmeans_test", "spatial_domain").plugin == "b"


def test_duplicate_name_fails_the_second_plugin_naming_both(make_registry):
    registry = make_registry({"first": kmeans_plugin("first"), "second": kmeans_plugin("second")})
    records = {p.name: p for p in registry.plugins()}
    assert records["first"].status == "ok"
    assert records["second"].status == "failed"
    assert "'second'" in records["second"].error and "'first'" in records["second"].error
    assert [m.plugin for m in registry.models("clustering")] == ["first"]


def test_plugin_failing_to_import_is_recorded_and_others_work(make_registry):
    def broken_loader():
        raise ImportError("No module named 'missing_dependency'")

    from dance.core.plugins import module_sources

    sources = module_sources({"core": "dance.core._plugin", "good": kmeans_plugin()}, distribution="dance-core")
    sources.append(PluginSource("broken", "broken_module", "broken-dist", "1.0", broken_loader))
    from dance.core.registry import Registry

    registry = Registry(sources)
    records = {p.name: p for p in registry.plugins()}
    assert records["broken"].status == "failed"
    assert "missing_dependency" in records["broken"].error
    assert records["good"].status == "ok"
    assert registry.get_model("kmeans_test").plugin == "good"


def test_plugin_raising_in_a_hook_keeps_none_of_its_entries(make_registry):
    def dance_register_models(register):
        register(name="half_registered", task="clustering", target="helpers:KMeansClustering", summary="s", citation="c")
        raise RuntimeError("boom")

    registry = make_registry({"raising": plugin_module("raising", dance_register_models=dance_register_models), "good": kmeans_plugin()})
    record = next(p for p in registry.plugins() if p.name == "raising")
    assert record.status == "failed" and "boom" in record.error
    assert [m.name for m in registry.models()] == ["kmeans_test"]


def test_invalid_spec_fails_the_plugin_with_the_field(make_registry):
    def dance_register_models(register):
        register(name="Bad-Name", task="clustering", target="helpers:KMeansClustering", summary="s")

    registry = make_registry({"bad": plugin_module("bad", dance_register_models=dance_register_models)})
    record = next(p for p in registry.plugins() if p.name == "bad")
    assert record.status == "failed" and "name" in record.error and "Bad-Name" in record.error


def test_model_for_an_unknown_task_fails_its_plugin(make_registry):
    def dance_register_models(register):
        register(name="m", task="no_such_task", target="helpers:KMeansClustering", summary="s")

    registry = make_registry({"p": plugin_module("p", dance_register_models=dance_register_models)})
    record = next(p for p in registry.plugins() if p.name == "p")
    assert record.status == "failed" and "no_such_task" in record.error


def test_disabled_plugins_are_reported_not_loaded(make_registry, monkeypatch):
    monkeypatch.setenv("DANCE_DISABLE_PLUGINS", "testplugin, other")
    registry = make_registry({"testplugin": kmeans_plugin()})
    record = next(p for p in registry.plugins() if p.name == "testplugin")
    assert record.status == "disabled"
    assert registry.models() == []


def test_hook_implementation_may_take_fewer_arguments(make_registry):
    calls = []

    def dance_register_models():  # pluggy allows a subset of the spec's arguments
        calls.append(True)

    registry = make_registry({"p": plugin_module("p", dance_register_models=dance_register_models)})
    assert next(p for p in registry.plugins() if p.name == "p").status == "ok"
    assert calls == [True]


def test_target_import_error_names_the_dotted_path_and_requirement():
    spec = ModelSpec(name="m", task="clustering", target="no_such_package.model:Model", summary="s", requires=("no-such-dist",))
    with pytest.raises(TargetImportError, match=r"no_such_package\.model.*pip install no-such-dist"):
        spec.load()


def test_load_model_checks_the_task_base_class(make_registry):
    def dance_register_models(register):
        register(name="wrong", task="cell_type_annotation", target="helpers:KMeansClustering", summary="s")

    registry = make_registry({"p": plugin_module("p", dance_register_models=dance_register_models)})
    with pytest.raises(DanceError, match=r"not a subclass of .*CellTypeAnnotationModel"):
        registry.load_model("wrong")


def test_programmatic_registration_refuses_duplicates_unless_replaced(make_registry):
    registry = make_registry({"testplugin": kmeans_plugin()})
    spec = registry.get_model("kmeans_test")
    with pytest.raises(DanceError, match="already registered by plugin 'testplugin'"):
        registry.register(spec, plugin="notebook")
    registry.register(spec, plugin="notebook", replace=True)
    assert registry.get_model("kmeans_test").plugin == "notebook"


def test_listing_imports_nothing_heavy():
    code = textwrap.dedent(
        """
        import json, sys
        from dance.core import registry
        registry.tasks(); registry.models(); registry.datasets(); registry.plugins()
        print(json.dumps([m for m in ("numpy", "pandas", "anndata", "scanpy", "sklearn", "torch") if m in sys.modules]))
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert json.loads(out.strip().splitlines()[-1]) == []


def test_importing_dance_core_lets_openmp_threads_yield_unless_told_otherwise():
    code = "import os, dance.core; print(os.environ['OMP_WAIT_POLICY'])"
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env).stdout.strip() == "PASSIVE"
    env["OMP_WAIT_POLICY"] = "ACTIVE"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env).stdout.strip() == "ACTIVE"


def test_a_misspelled_hook_fails_the_plugin_and_is_named_when_its_model_is_looked_up(make_registry):
    def dance_register_model(register):  # the spec is dance_register_models
        register(name="typo_model", task="clustering", target="helpers:KMeansClustering", summary="s", citation="c (2020)")

    registry = make_registry({"typo": plugin_module("typo", dance_register_model=dance_register_model), "fine": kmeans_plugin("fine")})
    records = {p.name: p for p in registry.plugins()}
    assert records["typo"].status == "failed" and records["fine"].status == "ok"
    assert "'dance_register_model' implements no dance hook; did you mean 'dance_register_models'?" in records["typo"].error
    with pytest.raises(DanceError, match=r"plugin 'typo': .*did you mean 'dance_register_models'"):
        registry.get_model("typo_model")


def test_a_hook_function_without_the_marker_or_no_hook_at_all_fails_the_plugin(make_registry):
    import types

    unmarked = types.ModuleType("unmarked")
    unmarked.dance_register_models = lambda register: None
    empty = types.ModuleType("empty")
    registry = make_registry({"unmarked": unmarked, "empty": empty})
    records = {p.name: p for p in registry.plugins()}
    assert records["unmarked"].status == "failed" and "not marked @hookimpl" in records["unmarked"].error
    assert records["empty"].status == "failed" and "implements no dance hook" in records["empty"].error
