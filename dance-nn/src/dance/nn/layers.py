"""Layers more than one model uses: one fully connected builder, a Gaussian encoder and the
zero-inflated negative binomial heads of DCA-type decoders.

* :class:`FCLayers` is the one fully connected stack: ``Linear -> [BatchNorm1d] -> activation ->
  [Dropout]`` per layer, with optional categorical covariates (one-hot) concatenated to the input
  of every layer, as scVI injects the batch (Lopez et al. 2018, Nat Methods 15:1053;
  scvi-tools' ``FCLayers``). :func:`mlp` builds one from a list of widths.
* :class:`GaussianEncoder`: mean and variance of ``q(z | x)`` and a reparameterised sample
  (Kingma & Welling 2014), the encoder of every VAE here.
* :class:`ZINBHeads`: the mean / inverse dispersion / dropout heads of DCA (Eraslan et al. 2019,
  Nat Commun 10:390), used by scDeepCluster, scDCC, scDSC and scTAG; the likelihood is
  :func:`dance.nn.likelihoods.zinb_loss`.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn
from torch.distributions import Normal

__all__ = ["DispAct", "FCLayers", "GaussianEncoder", "MeanAct", "ZINBHeads", "mlp", "one_hot"]

Activation = Literal["relu", "gelu", "elu", "leaky_relu", "sigmoid", "tanh", "none"]

_ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "gelu": nn.GELU,
    "elu": nn.ELU,
    "leaky_relu": nn.LeakyReLU,
    "sigmoid": nn.Sigmoid,
    "tanh": nn.Tanh,
}


def one_hot(index: torch.Tensor, n: int) -> torch.Tensor:
    """One-hot float encoding of integer codes (shape ``(cells,)`` or ``(cells, 1)``)."""
    return F.one_hot(index.reshape(-1).long(), n).float()


class FCLayers(nn.Module):
    """Fully connected layers ``dims[0] -> dims[1] -> ... -> dims[-1]``.

    Each layer is ``Linear -> [BatchNorm1d] -> activation -> [Dropout]``; categorical covariates
    given to :meth:`forward` are one-hot encoded and concatenated to the input of every layer.

    Parameters
    ----------
    dims
        Widths, input first.
    n_cat_list
        Number of categories of each covariate (covariates with one category are ignored).
    activation
        Activation after each layer (``"none"``: linear).
    batch_norm
        Batch-normalise each layer's output (``batch_norm_momentum``, ``batch_norm_eps``; scVI
        uses 0.01 and 1e-3, torch's defaults are 0.1 and 1e-5).
    dropout
        Dropout probability after each activation (0: no dropout layer).
    last_activation
        Whether the last layer gets the activation (and batch norm and dropout) too.
    """

    def __init__(
        self,
        dims: Sequence[int],
        *,
        n_cat_list: Sequence[int] = (),
        activation: Activation = "relu",
        batch_norm: bool = False,
        batch_norm_momentum: float = 0.1,
        batch_norm_eps: float = 1e-5,
        dropout: float = 0.0,
        last_activation: bool = True,
    ) -> None:
        super().__init__()
        if len(dims) < 2:
            raise ValueError(f"FCLayers needs at least an input and an output width; got {list(dims)}")
        if activation != "none" and activation not in _ACTIVATIONS:
            raise ValueError(f"unknown activation '{activation}'; expected one of {sorted(_ACTIVATIONS)} or 'none'")
        self.n_cat_list = [int(n) for n in n_cat_list if n > 1]
        extra = sum(self.n_cat_list)
        self.layers = nn.ModuleList()
        pairs = list(itertools.pairwise(dims))
        for i, (d_in, d_out) in enumerate(pairs):
            parts: list[nn.Module] = [nn.Linear(d_in + extra, d_out)]
            if last_activation or i < len(pairs) - 1:
                if batch_norm:
                    parts.append(nn.BatchNorm1d(d_out, momentum=batch_norm_momentum, eps=batch_norm_eps))
                if activation != "none":
                    parts.append(_ACTIVATIONS[activation]())
                if dropout > 0:
                    parts.append(nn.Dropout(dropout))
            self.layers.append(nn.Sequential(*parts))

    @classmethod
    def scvi(
        cls,
        n_in: int,
        n_out: int,
        n_cat_list: Sequence[int] = (),
        *,
        n_layers: int = 1,
        n_hidden: int = 128,
        dropout_rate: float = 0.1,
        use_batch_norm: bool = True,
    ) -> FCLayers:
        """scvi-tools' ``FCLayers``: ``n_layers`` layers of ``n_hidden`` units ending in ``n_out``,
        ``Linear -> BatchNorm1d(momentum 0.01, eps 1e-3) -> ReLU -> Dropout``."""
        dims = [n_in] + [n_hidden] * (n_layers - 1) + [n_out]
        return cls(
            dims,
            n_cat_list=n_cat_list,
            batch_norm=use_batch_norm,
            batch_norm_momentum=0.01,
            batch_norm_eps=0.001,
            dropout=dropout_rate,
        )

    def forward(self, x: torch.Tensor, *cats: torch.Tensor) -> torch.Tensor:
        onehots = [one_hot(c, n) for c, n in zip(cats, self.n_cat_list, strict=False)] if self.n_cat_list else []
        for layer in self.layers:
            x = layer(torch.cat([x, *onehots], dim=-1) if onehots else x)
        return x


def mlp(
    dims: Sequence[int],
    *,
    activation: Activation = "relu",
    batch_norm: bool = False,
    dropout: float = 0.0,
    last_activation: bool = True,
) -> FCLayers:
    """Linear layers ``dims[0] -> ... -> dims[-1]`` (see :class:`FCLayers`), without covariates."""
    return FCLayers(dims, activation=activation, batch_norm=batch_norm, dropout=dropout, last_activation=last_activation)


class GaussianEncoder(nn.Module):
    """``q(z | x)``: a normal distribution whose mean and variance (``exp(.) + var_eps``) an
    :class:`FCLayers` stack and two linear heads compute, and a reparameterised sample from it
    (scvi-tools' ``Encoder``)."""

    def __init__(
        self,
        n_input: int,
        n_output: int,
        n_cat_list: Sequence[int] = (),
        *,
        n_layers: int = 1,
        n_hidden: int = 128,
        dropout_rate: float = 0.1,
        var_eps: float = 1e-4,
    ) -> None:
        super().__init__()
        self.var_eps = var_eps
        self.encoder = FCLayers.scvi(n_input, n_hidden, n_cat_list, n_layers=n_layers, n_hidden=n_hidden, dropout_rate=dropout_rate)
        self.mean_encoder = nn.Linear(n_hidden, n_output)
        self.var_encoder = nn.Linear(n_hidden, n_output)

    def forward(self, x: torch.Tensor, *cats: torch.Tensor) -> tuple[Normal, torch.Tensor]:
        q = self.encoder(x, *cats)
        mean = self.mean_encoder(q)
        var = torch.exp(self.var_encoder(q)) + self.var_eps
        dist = Normal(mean, var.sqrt())
        return dist, dist.rsample()


class MeanAct(nn.Module):
    """``exp`` clipped to [1e-5, 1e6]: the normalised ZINB mean (DCA's ``MeanAct``)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.clamp(torch.exp(x), min=1e-5, max=1e6)


class DispAct(nn.Module):
    """``softplus`` clipped to [1e-4, 1e4]: the ZINB inverse dispersion (DCA's ``DispAct``)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.clamp(F.softplus(x), min=1e-4, max=1e4)


class ZINBHeads(nn.Module):
    """Mean, inverse dispersion and dropout probability per gene from a decoder's last layer."""

    def __init__(self, in_dim: int, n_genes: int) -> None:
        super().__init__()
        self.mean = nn.Sequential(nn.Linear(in_dim, n_genes), MeanAct())
        self.disp = nn.Sequential(nn.Linear(in_dim, n_genes), DispAct())
        self.pi = nn.Sequential(nn.Linear(in_dim, n_genes), nn.Sigmoid())

    def forward(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return self.mean(h), self.disp(h), self.pi(h)
