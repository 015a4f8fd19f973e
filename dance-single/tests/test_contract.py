"""Every model of dance-single passes the contributor test kit."""

from __future__ import annotations

from dance.core import registry
from dance.core.testing import parametrize_with_checks

SINGLE_MODELS = [f"{m.task}:{m.name}" for m in registry.models() if m.plugin == "single"]


def test_the_plugin_registers_every_baseline():
    assert sorted(SINGLE_MODELS) == sorted(
        [
            "batch_integration:combat",
            "batch_integration:pca",
            "cell_type_annotation:celltypist",
            "cell_type_annotation:svm",
            "clustering:leiden",
            "clustering:louvain",
            "imputation:magic",
        ]
    )


@parametrize_with_checks(SINGLE_MODELS)
def test_contract(dance_check):
    dance_check()
