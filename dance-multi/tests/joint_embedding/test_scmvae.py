"""scMVAE-PoE: the product of experts, training on counts, saving and reusing the trained model."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dance.core.containers import Modalities
from dance.core.errors import DanceInputError
from dance.core.models.base import DanceModel
from dance.core.registry import registry
from dance.core.testing import synthetic_data
from dance.multi.joint_embedding.scmvae import ScMVAE
from dance.multi.joint_embedding.scmvae_module import product_of_experts


def test_the_product_of_two_experts_and_the_prior_expert():
    m1, m2 = torch.tensor([[1.0, -2.0]]), torch.tensor([[3.0, 0.0]])
    v = 0.5
    logvar = torch.full((1, 2), float(np.log(v)))
    mean, joint_logvar = product_of_experts([m1, m2], [logvar, logvar])
    precision = 1 + 2 / v  # the N(0, 1) prior expert counts once
    assert torch.allclose(mean, (m1 + m2) / v / precision, atol=1e-6)
    assert torch.allclose(joint_logvar, torch.full((1, 2), -float(np.log(precision))), atol=1e-6)


def test_an_odd_shared_width_is_refused_with_the_field():
    with pytest.raises(ValueError, match="must be even"):
        ScMVAE({"shared_dims": (16, 15)})


@pytest.fixture(scope="module")
def fitted():
    cls = registry.load_model("scmvae", "joint_embedding")
    view, _ = registry.contract("joint_embedding").holdout(synthetic_data("joint_embedding"), cls().keys, seed=0)
    return view, cls(dict(cls.quick_params), seed=0, device="cpu").fit(view)


def test_scmvae_embeds_new_cells_and_a_saved_model_gives_the_same_embedding(fitted, tmp_path):
    view, model = fitted
    embedding = model.predict(view)
    assert embedding.shape == (view.mod1.n_obs, model.params.latent_dim) and np.isfinite(embedding).all()
    # inductive: a subset of the cells gets the same rows (evaluation mode, posterior means)
    subset = Modalities(view.mod1[:20].copy(), view.mod2[:20].copy(), view.names)
    assert np.allclose(model.predict(subset), embedding[:20], atol=1e-5)
    assert {"nll_mod1", "nll_mod2", "kl_library", "kl_z"} <= set(model.training_history_["train"])
    restored = DanceModel.load(model.save(tmp_path / "scmvae"), device="cpu")
    assert np.allclose(restored.predict(view), embedding, atol=1e-5)


def test_scmvae_names_the_features_new_cells_lack(fitted):
    view, model = fitted
    missing = model.features_[0][0]
    genes = view.mod1[:, [g for g in view.mod1.var_names if g != missing]].copy()
    with pytest.raises(DanceInputError, match=rf"mod1.X lacks 1 of the .* features model 'scmvae' was fitted on \({missing}\)"):
        model.predict(Modalities(genes, view.mod2.copy(), view.names))


@pytest.mark.slow
def test_scmvae_on_the_bmmc_starter():
    """600 CITE-seq cells, 1,000 genes and 134 proteins from their counts; scored on the half whose
    types are hidden (as every joint-embedding run of the benchmark). Overall measured on seeds 0-2
    (2026-12-07, one thread): 0.646 / 0.672 / 0.675; pca_lsi 0.814 (a 15-epoch VAE on 600 cells is
    not the comparison that counts: docs/benchmarks/multimodal.md), random embeddings about 0.4."""
    from dance.core import run

    result = run("joint_embedding", "scmvae", "bmmc_cite", write=False, device="cpu", reveal_labels=0.5)
    assert result.notes["scmvae_likelihoods"] == "zinb/nb"
    assert result.metrics["overall"] > 0.6
    history = result.training["train"]
    assert history["nll_mod1"][-1] < history["nll_mod1"][0]
