"""scMoGCN, scMoGCN v2 and JAE train on the cell types of the cells ``dance run`` reveals (half by
default) and are scored on the others."""

from __future__ import annotations

import pytest

from dance.core import run
from dance.core.containers import Modalities
from dance.core.errors import DanceInputError
from dance.core.registry import registry
from dance.core.testing import synthetic_data

LABEL_USING = ("scmogcn", "scmogcnv2", "jae")


@pytest.mark.parametrize("name", LABEL_USING)
def test_without_revealed_types_the_model_trains_without_the_cell_type_term(name):
    cls = registry.load_model(name, "joint_embedding")
    view, _ = registry.contract("joint_embedding").holdout(synthetic_data("joint_embedding"), cls().keys, seed=0)
    model = cls(dict(cls.quick_params), seed=0, device="cpu").fit(view)
    assert model.notes_["training_labels"].startswith("none (no obs['known_cell_type'])")
    assert max(model.training_history_["train"]["cell_type"]) == 0
    assert model.predict(view).shape[0] == view.mod1.n_obs
    with pytest.raises(DanceInputError, match="transductive"):
        model.predict(Modalities(view.mod1[:10].copy(), view.mod2[:10].copy(), view.names))


@pytest.mark.slow
@pytest.mark.parametrize(
    "name, params, floor",
    [
        # measured overall on seeds 0 / 1 / 2 (2026-12-07): see the docstring
        ("scmogcn", {}, 0.62),
        ("jae", {}, 0.66),
        ("scmogcnv2", {"epochs": 80}, 0.62),
    ],
)
def test_label_using_models_on_the_bmmc_starter(name, params, floor):
    """The 600-cell CITE starter: 300 cells' types revealed, the other 300 scored. Overall measured
    on seeds 0-2 (2026-12-07, one thread): scMoGCN 0.674 / 0.741 / 0.694 (7,000 steps), JAE 0.776 / 0.703 / 0.771,
    scMoGCN v2 (80 epochs) 0.674 / 0.726 / 0.688 -- most of the spread is ti_cons, 0.54 to 0.88 on
    300 cells; pca_lsi scores 0.814 on the same cells (300 training cells are few for a network:
    the comparison that counts is the benchmark's on 10,000-cell sets, docs/benchmarks/multimodal.md);
    random embeddings score about 0.4 (the challenge's baseline table)."""
    result = run("joint_embedding", name, "bmmc_cite", params=params, write=False, device="cpu")
    assert result.notes["revealed_labels"].startswith("the cell types of 300 of 600 cells shown")
    assert result.notes["training_labels"] == "cell types of 300 of 600 cells (obs['known_cell_type'])"
    assert result.metrics["overall"] > floor
    history = result.training["train"]["cell_type"]
    assert history[-1] < 0.8 * history[0]
