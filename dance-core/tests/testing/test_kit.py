"""The contributor test kit, run on a conforming model and on deliberately broken ones."""

from __future__ import annotations

import pytest

from dance.core.testing import checks, parametrize_with_checks


def _registry():
    from dance.core.plugins import module_sources
    from dance.core.registry import Registry

    return Registry(module_sources({"core": "dance.core._plugin"}, distribution="dance-core") + module_sources({"kit": "kit_plugins"}))


@pytest.fixture(scope="module")
def registry():
    return _registry()


@parametrize_with_checks(["kmeans_test"], registry=_registry())
def test_a_conforming_model_passes_every_check(dance_check):
    dance_check()


def test_a_model_that_modifies_its_input_fails(registry):
    with pytest.raises(AssertionError, match="modified the input"):
        checks.check_input_not_modified(registry.get_model("mutating_test"), registry)


def test_a_model_that_ignores_its_seed_fails(registry):
    with pytest.raises(AssertionError, match="same seed gave different predictions"):
        checks.check_deterministic(registry.get_model("random_test"), registry)


def test_a_spec_whose_name_disagrees_with_its_class_fails(registry):
    wrong = registry.get_model("kmeans_test").model_copy(update={"name": "renamed"})
    registry.register(wrong, plugin="kit")
    with pytest.raises(AssertionError, match="name is 'kmeans_test', the spec says 'renamed'"):
        checks.check_target_resolves(registry.get_model("renamed"), registry)


def test_a_model_whose_module_imports_a_heavy_library_fails():
    registry = _registry()
    spec = registry.get_model("kmeans_test").model_copy(update={"name": "heavy_import_test", "target": "heavy_model:HeavyImportClustering"})
    registry.register(spec, plugin="kit")
    checks.check_target_resolves(spec, registry)  # a valid model otherwise
    with pytest.raises(
        AssertionError, match=r"importing its module heavy_model imports \['scanpy'\]; import them inside _fit / _predict .* `dance info`"
    ):
        checks.check_model_import_is_light(spec, registry)


def test_parametrize_ids_name_model_and_check():
    mark = parametrize_with_checks(["kmeans_test"], registry=_registry())
    ids = [p.id for p in mark.args[1]]
    assert "clustering:kmeans_test-check_deterministic" in ids and len(ids) == len(checks.CHECKS)


@pytest.mark.parametrize("citation", [None, "", "none", "TODO", "todo: find the paper", "N/A", "Smith et al., Nature"])
def test_a_placeholder_citation_fails_the_spec_check(registry, citation):
    spec = registry.get_model("kmeans_test").model_copy(update={"name": "uncited_test", "citation": citation})
    with pytest.raises(AssertionError, match=r"citation .*name the paper the method comes from"):
        checks.check_spec_valid(spec, registry)


def test_a_real_citation_passes_the_spec_check(registry):
    spec = registry.get_model("kmeans_test").model_copy(
        update={"citation": "MacQueen (1967) Some methods for classification. Proc 5th Berkeley Symp 1:281-297"}
    )
    checks.check_spec_valid(spec, registry)
