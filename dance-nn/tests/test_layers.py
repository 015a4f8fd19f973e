from __future__ import annotations

import pytest
import torch

from dance.nn.layers import FCLayers, GaussianEncoder, ZINBHeads, mlp


def _kinds(layers: FCLayers) -> list[str]:
    return [type(m).__name__ for layer in layers.layers for m in layer]


def test_mlp_layers():
    assert _kinds(mlp([10, 8, 4], batch_norm=True)) == ["Linear", "BatchNorm1d", "ReLU", "Linear", "BatchNorm1d", "ReLU"]
    assert _kinds(mlp([10, 8, 4], last_activation=False)) == ["Linear", "ReLU", "Linear"]
    assert _kinds(mlp([10, 4], activation="none")) == ["Linear"]
    assert _kinds(mlp([10, 4], activation="gelu", dropout=0.2)) == ["Linear", "GELU", "Dropout"]
    with pytest.raises(ValueError, match="unknown activation 'swish'"):
        mlp([3, 2], activation="swish")


def test_scvi_fc_layers_inject_the_covariate_into_every_layer():
    layers = FCLayers.scvi(5, 7, [3], n_layers=2, n_hidden=4)
    assert [layer[0].in_features for layer in layers.layers] == [5 + 3, 4 + 3]
    assert _kinds(layers) == ["Linear", "BatchNorm1d", "ReLU", "Dropout"] * 2
    assert layers.layers[0][1].momentum == 0.01 and layers.layers[0][1].eps == 0.001
    out = layers(torch.randn(6, 5), torch.tensor([0, 1, 2, 0, 1, 2]))
    assert out.shape == (6, 7)


def test_the_same_seed_gives_the_same_weights_as_a_plain_sequential():
    """mlp replaced nn.Sequential builders; weights are drawn in the same order, so seeded models keep their results."""
    torch.manual_seed(3)
    built = mlp([6, 5, 4])
    torch.manual_seed(3)
    plain = torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.ReLU(), torch.nn.Linear(5, 4), torch.nn.ReLU())
    x = torch.randn(3, 6)
    assert torch.equal(built(x), plain(x))


def test_gaussian_encoder_samples_with_gradients():
    torch.manual_seed(0)
    encoder = GaussianEncoder(8, 3, n_hidden=6)
    dist, z = encoder(torch.randn(5, 8))
    assert z.shape == (5, 3) and z.requires_grad and (dist.scale > 0).all()


def test_zinb_heads_respect_their_ranges():
    torch.manual_seed(0)
    mean, disp, pi = ZINBHeads(6, 5)(torch.randn(7, 6) * 100)
    assert mean.shape == disp.shape == pi.shape == (7, 5)
    assert (mean >= 1e-5).all() and (mean <= 1e6).all()
    assert (disp >= 1e-4).all() and (disp <= 1e4).all()
    assert ((pi >= 0) & (pi <= 1)).all()
