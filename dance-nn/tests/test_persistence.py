from __future__ import annotations

import pytest
import torch

from dance.nn.layers import mlp
from dance.nn.persistence import load_module_arrays, module_arrays


def test_weights_survive_the_round_trip_through_arrays():
    torch.manual_seed(0)
    net = mlp([6, 5, 3], batch_norm=True)
    net.train()
    net(torch.randn(8, 6))  # moves the batch-norm running statistics (buffers are saved too)
    arrays = module_arrays(net, "encoder")
    assert all(name.startswith("encoder.") for name in arrays) and any("running_mean" in name for name in arrays)
    torch.manual_seed(1)
    copy = load_module_arrays(mlp([6, 5, 3], batch_norm=True), arrays, "encoder")
    net.eval()
    copy.eval()
    x = torch.randn(4, 6)
    assert torch.equal(net(x), copy(x))
    with pytest.raises(RuntimeError, match="size mismatch"):
        load_module_arrays(mlp([6, 4, 3], batch_norm=True), arrays, "encoder")
