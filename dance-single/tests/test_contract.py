"""Every model of dance-single passes the contributor test kit."""

from __future__ import annotations

from dance.core import registry
from dance.core.testing import parametrize_with_checks
from dance.single.plugin import MODELS

SINGLE_MODELS = [f"{m.task}:{m.name}" for m in registry.models() if m.plugin == "single"]


def test_the_plugin_registers_every_model_of_every_specs_module():
    record = next(p for p in registry.plugins() if p.name == "single")
    assert record.status == "ok", record.error
    assert sorted(SINGLE_MODELS) == sorted(f"{m.task}:{m.name}" for m in MODELS)
    assert {"clustering:leiden", "cell_type_annotation:svm", "imputation:magic", "batch_integration:pca"} <= set(SINGLE_MODELS)


@parametrize_with_checks(SINGLE_MODELS)
def test_contract(dance_check):
    dance_check()
