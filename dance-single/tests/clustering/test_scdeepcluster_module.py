"""scDeepCluster's denoising ZINB autoencoder on plain tensors: the noise, the embedding, and its
pretraining loss trained by the trainer."""

from __future__ import annotations

import numpy as np
import torch

from dance.nn.data import encode_in_batches
from dance.nn.likelihoods import zinb_loss
from dance.nn.trainer import Batch, OptimizerStep, Stage, Trainer
from dance.single.clustering.scdeepcluster_module import DenoisingZINBAutoencoder


def test_noise_changes_the_reconstruction_but_not_the_embedding():
    torch.manual_seed(0)
    model = DenoisingZINBAutoencoder(12, hidden=(8,), latent=3, noise_sd=2.5)
    x = torch.randn(5, 12)
    z1, mean1, *_ = model(x, torch.Generator().manual_seed(1))
    z2, mean2, *_ = model(x, torch.Generator().manual_seed(2))
    _, mean3, *_ = model(x, torch.Generator().manual_seed(1))
    assert torch.equal(z1, z2) and torch.equal(z1, model.encode(x))
    assert not torch.equal(mean1, mean2)
    assert torch.equal(mean1, mean3)  # the seeded generator makes the noise repeatable
    quiet = DenoisingZINBAutoencoder(12, hidden=(8,), latent=3, noise_sd=0.0)
    _, mean_a, *_ = quiet(x, torch.Generator().manual_seed(1))
    _, mean_b, *_ = quiet(x, torch.Generator().manual_seed(2))
    assert torch.equal(mean_a, mean_b)


def test_encode_in_batches_equals_one_pass():
    torch.manual_seed(0)
    model = DenoisingZINBAutoencoder(6, hidden=(4,), latent=2)
    x = torch.randn(11, 6)
    assert torch.allclose(encode_in_batches(model.encode, x, batch_size=3), model.encode(x))


def test_reconstruction_loss_is_the_zinb_loss_of_the_noisy_path():
    torch.manual_seed(0)
    model = DenoisingZINBAutoencoder(7, hidden=(5,), latent=2, noise_sd=1.0)
    x = torch.randn(4, 7)
    counts = torch.poisson(torch.full((4, 7), 3.0))
    size_factors = torch.tensor([0.5, 1.0, 1.5, 2.0])
    mean, disp, pi = model.reconstruct(x, torch.Generator().manual_seed(3))
    expected = zinb_loss(counts, mean, disp, pi, scale_factor=size_factors)
    assert torch.equal(model.reconstruction_loss(x, counts, size_factors, torch.Generator().manual_seed(3)), expected)


def test_pretraining_on_the_trainer_lowers_the_zinb_loss():
    rng = np.random.default_rng(0)
    groups = rng.integers(0, 2, size=120)
    rates = np.where(groups[:, None] == 0, np.r_[np.full(10, 5.0), np.full(10, 0.5)], np.r_[np.full(10, 0.5), np.full(10, 5.0)])
    counts = torch.tensor(rng.poisson(rates), dtype=torch.float32)
    size_factors = counts.sum(1) / counts.sum(1).median()
    x = torch.log1p(counts / size_factors[:, None])
    x = (x - x.mean(0)) / x.std(0)
    trainer = Trainer("scdeepcluster", seed=0, progress=False)
    model = DenoisingZINBAutoencoder(20, hidden=(16,), latent=2, noise_sd=0.5)

    def loss() -> float:
        with torch.no_grad():
            return float(model.reconstruction_loss(x, counts, size_factors, torch.Generator().manual_seed(0)))

    def zinb(batch: Batch) -> dict[str, torch.Tensor]:
        index = batch.index
        return {"zinb": model.reconstruction_loss(x[index], counts[index], size_factors[index], trainer.generator)}

    before = loss()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2, amsgrad=True)
    result = trainer.fit(Stage("pretrain", epochs=30, n=120, batch_size=32, steps=[OptimizerStep(optimizer, zinb)]), module=model)
    assert np.isfinite(result.final["zinb"]) and loss() < 0.8 * before
    assert len(trainer.history["pretrain"]["zinb"]) == 30
