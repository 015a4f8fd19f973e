"""Every model of dance-spatial passes the contributor test kit."""

from __future__ import annotations

from dance.core import registry
from dance.core.testing import parametrize_with_checks

SPATIAL_MODELS = [f"{m.task}:{m.name}" for m in registry.models() if m.plugin == "spatial"]


def test_models_for_both_spatial_tasks():
    assert {m.split(":")[0] for m in SPATIAL_MODELS} == {"spatial_domain", "cell_type_deconvolution"}


@parametrize_with_checks(SPATIAL_MODELS)
def test_contract(dance_check):
    dance_check()
