"""DeepImpute's subnetworks, all of them one torch module (batched matrix products).

DeepImpute trains one small network per subset of target genes: its predictor genes ->
Dense(hidden, ReLU) -> Dropout -> Dense(subset size, softplus). The authors build them as the
branches of one Keras model; here they are one set of stacked weights, ``(subnets x inputs x
hidden)`` and ``(subnets x hidden x outputs)``, applied with ``torch.baddbmm`` to a gather of each
subnet's predictor columns, so a few thousand subnets' worth of genes train in one step.

Subnets have different numbers of predictors; each is padded to the largest with an index that
reads an all-zero column, and the weights of padded rows start at zero. A padded input is always
zero, so those rows get a zero gradient and (with Adam or SGD, no weight decay) stay zero: each
subnet computes exactly what its own unpadded network would (``test_deepimpute.py`` checks it).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

__all__ = ["BatchedSubnets", "weighted_mse"]


def weighted_mse(y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
    """DeepImpute's loss per subnet: ``mean(y_true * (y_true - y_pred) ** 2)`` over its cells and
    target genes (entries whose observed value is 0 weigh nothing). ``(subnets x cells x genes)``
    in, ``(subnets,)`` out."""
    return (y_true * (y_true - y_pred) ** 2).mean(dim=(1, 2))


class BatchedSubnets(nn.Module):
    """``n_subnets`` networks ``inputs -> Dense(hidden, ReLU) -> Dropout(dropout) -> Dense(outputs, softplus)``.

    Parameters
    ----------
    predictors
        ``(n_subnets, max_inputs)`` integers: the columns of the input matrix each subnet reads,
        padded with -1 (subnets with fewer inputs).
    targets
        ``(n_subnets, outputs)`` integers: the columns each subnet predicts (used by
        :meth:`targets_of`; the forward pass only needs the inputs).
    n_columns
        Columns of the input matrix the indices refer to.
    hidden, dropout
        Width of the hidden layer and dropout rate after it.
    """

    def __init__(self, predictors: np.ndarray, targets: np.ndarray, n_columns: int, *, hidden: int = 256, dropout: float = 0.2) -> None:
        super().__init__()
        predictors = np.asarray(predictors, dtype=np.int64)
        targets = np.asarray(targets, dtype=np.int64)
        if predictors.ndim != 2 or targets.ndim != 2 or predictors.shape[0] != targets.shape[0]:
            raise ValueError(f"predictors {predictors.shape} and targets {targets.shape} must be (subnets x k) with the same subnets")
        if (predictors >= n_columns).any() or (targets < 0).any() or (targets >= n_columns).any():
            raise ValueError(f"an index is outside the {n_columns} columns of the input")
        n_subnets, max_inputs = predictors.shape
        self.n_columns = int(n_columns)
        self.n_subnets, self.max_inputs, self.hidden, self.outputs = n_subnets, max_inputs, int(hidden), targets.shape[1]
        valid = predictors >= 0
        if not valid.any(axis=1).all():
            raise ValueError("every subnet needs at least one predictor")
        # padded slots read column n_columns: the zero column appended in forward()
        self.register_buffer("input_index", torch.from_numpy(np.where(valid, predictors, n_columns)))
        self.register_buffer("target_index", torch.from_numpy(targets))
        self.register_buffer("n_inputs", torch.from_numpy(valid.sum(axis=1)))
        self.w1 = nn.Parameter(torch.zeros(n_subnets, max_inputs, self.hidden))
        self.b1 = nn.Parameter(torch.zeros(n_subnets, self.hidden))
        self.w2 = nn.Parameter(torch.zeros(n_subnets, self.hidden, self.outputs))
        self.b2 = nn.Parameter(torch.zeros(n_subnets, self.outputs))
        self.dropout = nn.Dropout(dropout)
        self.reset_parameters()

    @torch.no_grad()
    def reset_parameters(self) -> None:
        """Keras' defaults for ``Dense``: Glorot-uniform weights (each subnet's own fan-in), zero biases;
        the padded rows of the first layer stay zero."""
        for s, n_in in enumerate(self.n_inputs.tolist()):
            self.w1[s].zero_()
            self.w1[s, :n_in].uniform_(-math.sqrt(6.0 / (n_in + self.hidden)), math.sqrt(6.0 / (n_in + self.hidden)))
            self.w2[s].uniform_(-math.sqrt(6.0 / (self.hidden + self.outputs)), math.sqrt(6.0 / (self.hidden + self.outputs)))
        self.b1.zero_()
        self.b2.zero_()

    def gather_inputs(self, x: torch.Tensor) -> torch.Tensor:
        """``(subnets x cells x max_inputs)``: each subnet's predictor columns of ``x`` (cells x n_columns), zeros in padded slots."""
        padded = nn.functional.pad(x, (0, 1))
        return padded[:, self.input_index.reshape(-1)].reshape(x.shape[0], self.n_subnets, self.max_inputs).transpose(0, 1)

    def gather_targets(self, x: torch.Tensor) -> torch.Tensor:
        """``(subnets x cells x outputs)``: each subnet's target columns of ``x``."""
        return x[:, self.target_index.reshape(-1)].reshape(x.shape[0], self.n_subnets, self.outputs).transpose(0, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: cells x n_columns (log1p counts) -> ``(subnets x cells x outputs)`` predictions."""
        hidden = torch.relu(torch.baddbmm(self.b1.unsqueeze(1), self.gather_inputs(x), self.w1))
        return nn.functional.softplus(torch.baddbmm(self.b2.unsqueeze(1), self.dropout(hidden), self.w2))

    def loss(self, x: torch.Tensor) -> torch.Tensor:
        """The authors' training objective on the cells ``x``: the sum over subnets of each
        subnet's weighted MSE (a multi-output Keras model sums its outputs' losses)."""
        return weighted_mse(self.gather_targets(x), self(x)).sum()
