"""Autoencoders with a zero-inflated negative binomial (ZINB) decoder.

The ZINB decoder of DCA (Eraslan et al. 2019, Nat Commun 10:390) ends in three heads per gene:
the normalised mean (``exp``, clipped), the inverse dispersion (``softplus``, clipped) and the
dropout probability (``sigmoid``). scDeepCluster (Tian et al. 2019, Nat Mach Intell 1:191),
scDCC (Tian et al. 2021, Nat Commun 12:1873), scDSC (Gan et al. 2022, Brief Bioinform 23:bbac018)
and scTAG (Yu et al. 2022, AAAI 36:4671) all put these heads on their decoders; the likelihood
itself is :func:`dance.single.nn.likelihoods.zinb_loss`.

* :func:`mlp`: a stack of linear layers (optionally batch-normalised) with activations.
* :class:`ZINBHeads`: the three heads.
* :class:`DenoisingZINBAutoencoder`: scDeepCluster's / scDCC's model: Gaussian noise on the
  input, an MLP encoder to the latent space, an MLP decoder and ZINB heads.
* :func:`pretrain_zinb_autoencoder`: its pretraining by the ZINB likelihood (Adam with AMSGrad).
* :func:`iterate_minibatches`: seeded shuffled mini-batch indices.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from dance.single.nn.likelihoods import zinb_loss

__all__ = [
    "DenoisingZINBAutoencoder",
    "DispAct",
    "MeanAct",
    "ZINBHeads",
    "encode_in_batches",
    "iterate_minibatches",
    "mlp",
    "pretrain_zinb_autoencoder",
]


class MeanAct(nn.Module):
    """``exp`` clipped to [1e-5, 1e6]: the normalised ZINB mean (DCA's ``MeanAct``)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.clamp(torch.exp(x), min=1e-5, max=1e6)


class DispAct(nn.Module):
    """``softplus`` clipped to [1e-4, 1e4]: the ZINB inverse dispersion (DCA's ``DispAct``)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.clamp(F.softplus(x), min=1e-4, max=1e4)


def mlp(
    dims: Sequence[int],
    *,
    activation: Literal["relu", "none"] = "relu",
    batch_norm: bool = False,
    last_activation: bool = True,
) -> nn.Sequential:
    """Linear layers ``dims[0] -> dims[1] -> ... -> dims[-1]``, each followed by optional batch
    normalisation and the activation (the last layer's activation only if ``last_activation``).
    """
    layers: list[nn.Module] = []
    for i in range(1, len(dims)):
        layers.append(nn.Linear(dims[i - 1], dims[i]))
        if batch_norm:
            layers.append(nn.BatchNorm1d(dims[i]))
        if activation == "relu" and (last_activation or i < len(dims) - 1):
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class ZINBHeads(nn.Module):
    """Mean, inverse dispersion and dropout probability per gene from a decoder's last layer."""

    def __init__(self, in_dim: int, n_genes: int) -> None:
        super().__init__()
        self.mean = nn.Sequential(nn.Linear(in_dim, n_genes), MeanAct())
        self.disp = nn.Sequential(nn.Linear(in_dim, n_genes), DispAct())
        self.pi = nn.Sequential(nn.Linear(in_dim, n_genes), nn.Sigmoid())

    def forward(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return self.mean(h), self.disp(h), self.pi(h)


class DenoisingZINBAutoencoder(nn.Module):
    """scDeepCluster's denoising autoencoder (Tian et al. 2019, Fig. 1).

    The decoder reconstructs the counts from the code of a *corrupted* input (Gaussian noise of
    standard deviation ``noise_sd`` added to the normalised, log-transformed, scaled expression);
    the clean input's code is the embedding used for clustering.

    Parameters
    ----------
    n_genes
        Number of input genes.
    hidden
        Encoder hidden widths (the decoder mirrors them).
    latent
        Width of the embedding.
    noise_sd
        Standard deviation of the input noise (the paper's sigma = 2.5).
    """

    def __init__(self, n_genes: int, hidden: Sequence[int] = (256, 64), latent: int = 32, noise_sd: float = 2.5) -> None:
        super().__init__()
        self.noise_sd = float(noise_sd)
        self.encoder = mlp([n_genes, *hidden])
        self.to_latent = nn.Linear(hidden[-1], latent)
        self.decoder = mlp([latent, *reversed(hidden)])
        self.heads = ZINBHeads(hidden[0], n_genes)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The embedding of the clean input."""
        return self.to_latent(self.encoder(x))

    def reconstruct(self, x: torch.Tensor, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(mean, disp, pi)`` decoded from the code of the noisy input."""
        if self.noise_sd > 0:
            x = x + torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype) * self.noise_sd
        return self.heads(self.decoder(self.encode(x)))

    def forward(
        self, x: torch.Tensor, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(z, mean, disp, pi)``: the clean embedding and the ZINB parameters decoded from the noisy input."""
        mean, disp, pi = self.reconstruct(x, generator)
        return self.encode(x), mean, disp, pi


def iterate_minibatches(
    n: int, batch_size: int, *, generator: torch.Generator | None = None, shuffle: bool = True
) -> Iterator[torch.Tensor]:
    """Index tensors of consecutive mini-batches over ``n`` items (a seeded permutation when shuffling)."""
    device = generator.device if generator is not None else torch.device("cpu")
    order = torch.randperm(n, generator=generator, device=device) if shuffle else torch.arange(n, device=device)
    for start in range(0, n, batch_size):
        yield order[start : start + batch_size]


@torch.no_grad()
def encode_in_batches(encode: nn.Module | object, x: torch.Tensor, batch_size: int = 1024) -> torch.Tensor:
    """``encode(x)`` computed in chunks (``encode`` is a callable such as ``model.encode``)."""
    return torch.cat([encode(x[start : start + batch_size]) for start in range(0, x.shape[0], batch_size)])  # type: ignore[operator]


def pretrain_zinb_autoencoder(
    model: DenoisingZINBAutoencoder,
    x: torch.Tensor,
    counts: torch.Tensor,
    size_factors: torch.Tensor,
    *,
    epochs: int,
    batch_size: int = 256,
    lr: float = 1e-3,
    generator: torch.Generator | None = None,
    desc: str = "pretraining",
) -> float:
    """Pretrain by the ZINB likelihood of the counts (Adam with AMSGrad, shuffled mini-batches),
    as scDeepCluster and scDCC do. Returns the last epoch's mean loss (NaN when ``epochs`` is 0).
    """
    from tqdm.auto import tqdm

    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr, amsgrad=True)
    last = float("nan")
    for _ in tqdm(range(epochs), desc=desc, disable=None, leave=False):
        total = 0.0
        for index in iterate_minibatches(x.shape[0], batch_size, generator=generator):
            # the clean embedding plays no part in this loss, so only the noisy path is computed
            mean, disp, pi = model.reconstruct(x[index], generator)
            loss = zinb_loss(counts[index], mean, disp, pi, scale_factor=size_factors[index])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += float(loss.detach()) * len(index)
        last = total / x.shape[0]
    return last
