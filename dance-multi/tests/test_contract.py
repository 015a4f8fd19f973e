"""Every model of dance-multi passes the contributor test kit."""

from __future__ import annotations

from dance.core import registry
from dance.core.testing import parametrize_with_checks

MULTI_MODELS = [f"{m.task}:{m.name}" for m in registry.models() if m.plugin == "multi"]


def test_one_model_per_multi_modal_task():
    assert {m.split(":")[0] for m in MULTI_MODELS} == {
        "modality_prediction",
        "modality_matching",
        "joint_embedding",
        "multiomics_integration",
    }


@parametrize_with_checks(MULTI_MODELS)
def test_contract(dance_check):
    dance_check()
