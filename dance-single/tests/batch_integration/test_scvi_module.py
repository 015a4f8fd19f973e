"""scVI / scANVI torch modules: shapes, the likelihood they use, the KL terms, and their training
on the trainer (learning, skipped small batches, KL warm-up, determinism, divergence)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dance.nn.likelihoods import nb_log_likelihood, zinb_log_likelihood
from dance.nn.trainer import Trainer, TrainingDivergedError
from dance.single.batch_integration.scvi_module import SCANVAE, VAE, train_vae


def _counts(n=64, g=30, seed=0, groups=2):
    rng = np.random.default_rng(seed)
    group = rng.integers(0, groups, n)
    profile = rng.gamma(1.0, 1.0, (groups, g)) + 0.1
    x = rng.poisson(profile[group] * 5.0).astype(np.float32)
    return torch.tensor(x), torch.tensor(rng.integers(0, 2, n)), torch.tensor(group)


def test_latent_and_losses_have_the_right_shapes():
    torch.manual_seed(0)
    x, batch, _ = _counts()
    vae = VAE(30, 2, n_hidden=16, n_latent=4)
    out = vae.loss(x, batch)
    assert out["loss"].ndim == 0 and torch.isfinite(out["loss"])
    vae.eval()
    assert vae.latent(x).shape == (64, 4)


def test_reconstruction_is_the_shared_zinb_likelihood_with_the_observed_library():
    torch.manual_seed(0)
    x, batch, _ = _counts()
    vae = VAE(30, 2, n_hidden=16, n_latent=4).eval()
    inf = vae.inference(x)
    assert torch.allclose(inf["library"], torch.log(x.sum(1, keepdim=True)))
    gen = vae.generative(inf["qz"].loc, inf["library"], batch)
    assert torch.allclose(gen["px_rate"].sum(1), x.sum(1), rtol=1e-4)  # softmax scale times the library
    expected = -zinb_log_likelihood(x, gen["px_rate"], gen["px_r"], pi_logits=gen["px_dropout"]).sum(1)
    assert torch.allclose(vae.reconstruction_loss(x, gen), expected)
    nb = VAE(30, 2, n_hidden=16, n_latent=4, gene_likelihood="nb").eval()
    gen = nb.generative(inf["qz"].loc, inf["library"], batch)
    assert torch.allclose(nb.reconstruction_loss(x, gen), -nb_log_likelihood(x, gen["px_rate"], gen["px_r"]).sum(1))


def test_gene_batch_dispersion_differs_by_batch():
    vae = VAE(30, 3, dispersion="gene-batch", n_hidden=8).eval()
    gen = vae.generative(torch.zeros(3, 10), torch.zeros(3, 1), torch.tensor([0, 1, 2]))
    assert not torch.allclose(gen["px_r"][0], gen["px_r"][1])


def test_latent_library_needs_a_prior_and_adds_its_kl():
    with pytest.raises(ValueError, match="library"):
        VAE(30, 2, use_observed_lib_size=False)
    x, batch, _ = _counts()
    vae = VAE(30, 2, n_hidden=16, use_observed_lib_size=False, library_log_means=[5.0, 5.0], library_log_vars=[0.1, 0.1])
    assert vae.kl_library(vae.inference(x), batch).shape == (64,)


def test_scanvae_marginalises_labels_and_adds_the_classification_term():
    torch.manual_seed(0)
    x, batch, group = _counts(groups=3)
    model = SCANVAE(30, 2, 3, n_hidden=16, n_latent=4)
    torch.manual_seed(1)
    unsupervised = model.loss(x, batch)
    assert "classification" not in unsupervised and torch.isfinite(unsupervised["loss"])
    torch.manual_seed(1)  # same samples and dropout masks for the shared part
    supervised = model.loss(x, batch, labelled_x=x[:10], labelled_y=group[:10], classification_ratio=50.0)
    assert supervised["classification"] > 0
    assert torch.allclose(supervised["loss"], unsupervised["loss"] + 50.0 * supervised["classification"], rtol=1e-5)


def test_training_lowers_the_loss_and_scanvi_learns_the_labels():
    x, batch, group = _counts(n=300, groups=3, seed=1)
    trainer = Trainer("scvi", seed=0, progress=False)
    vae = VAE(30, 2, n_hidden=32, n_latent=4)
    first = float(vae.loss(x, batch)["loss"].detach())
    result = train_vae(trainer, vae, x.numpy(), batch.numpy(), epochs=30, batch_size=64)
    assert result.final["loss"] < 0.8 * first and trainer.history["train"]["loss"][-1] == result.final["loss"]
    assert not vae.training  # left in evaluation mode
    model = SCANVAE(30, 2, 3, n_hidden=32, n_latent=4)
    labels = group.numpy().copy()
    labels[::2] = -1  # half unlabelled
    result = train_vae(trainer, model, x.numpy(), batch.numpy(), stage="scanvi", epochs=30, batch_size=64, labels=labels)
    assert set(trainer.history) == {"train", "scanvi"} and "classification" in result.final
    with torch.no_grad():
        predicted = model.classify(x).argmax(1)
    accuracy = float((predicted[1::2] == group[1::2]).float().mean())  # labelled cells
    held_out = float((predicted[::2] == group[::2]).float().mean())  # unlabelled cells
    assert accuracy > 0.9 and held_out > 0.8  # three well-separated groups; chance is 1/3


def test_small_batches_are_skipped_and_the_kl_warms_up(monkeypatch):
    x, batch, _ = _counts(n=130)
    trainer = Trainer("scvi", seed=0, progress=False)
    vae = VAE(30, 2, n_hidden=8, n_latent=2)
    seen: list[tuple[int, float]] = []
    loss = vae.loss

    def recording(x, batch, kl_weight=1.0):
        seen.append((len(x), kl_weight))
        return loss(x, batch, kl_weight)

    monkeypatch.setattr(vae, "loss", recording)
    result = train_vae(trainer, vae, x.numpy(), batch.numpy(), epochs=4, batch_size=64, n_epochs_kl_warmup=2)
    # 64 + 64 + 2 cells per epoch: the 2-cell batch is skipped (batch normalisation needs several)
    assert result.steps == 8 and {n for n, _ in seen} == {64}
    assert [w for _, w in seen[::2]] == [0.0, 0.5, 1.0, 1.0]


def test_training_is_deterministic_and_restores_torch_threads():
    x, batch, _ = _counts(n=100)
    threads = torch.get_num_threads()
    latents = []
    for _ in range(2):
        trainer = Trainer("scvi", seed=3, progress=False)
        vae = VAE(30, 2, n_hidden=16, n_latent=4)
        train_vae(trainer, vae, x.numpy(), batch.numpy(), epochs=3)
        latents.append(vae.latent(x))
    assert torch.equal(latents[0], latents[1]) and torch.get_num_threads() == threads


def test_a_diverging_loss_names_the_model_stage_and_term_and_restores_threads(monkeypatch):
    x, batch, _ = _counts(n=100)
    threads = torch.get_num_threads()
    vae = VAE(30, 2, n_hidden=8, n_latent=2)
    loss = vae.loss

    def diverging(x, batch, kl_weight=1.0):
        out = loss(x, batch, kl_weight)
        return {**out, "kl_z": out["kl_z"] * float("inf")}

    monkeypatch.setattr(vae, "loss", diverging)
    with pytest.raises(TrainingDivergedError, match="scvi: the loss term 'kl_z' became inf in stage 'pretrain' at epoch 0"):
        train_vae(Trainer("scvi", progress=False), vae, x.numpy(), batch.numpy(), stage="pretrain", epochs=2)
    assert torch.get_num_threads() == threads and not vae.training
