"""Autoencoders with a zero-inflated negative binomial (ZINB) decoder.

The ZINB decoder of DCA (Eraslan et al. 2019, Nat Commun 10:390) ends in three heads per gene:
the normalised mean (``exp``, clipped), the inverse dispersion (``softplus``, clipped) and the
dropout probability (``sigmoid``). scDeepCluster (Tian et al. 2019, Nat Mach Intell 1:191),
scDCC (Tian et al. 2021, Nat Commun 12:1873), scDSC (Gan et al. 2022, Brief Bioinform 23:bbac018)
and scTAG (Yu et al. 2022, AAAI 36:4671) all put these heads on their decoders; the likelihood
itself is :func:`dance.nn.likelihoods.zinb_loss`.

* :func:`mlp`: a stack of linear layers (optionally batch-normalised) with activations.
* :class:`ZINBHeads`: the three heads.
* :class:`DenoisingZINBAutoencoder`: scDeepCluster's / scDCC's model: Gaussian noise on the
  input, an MLP encoder to the latent space, an MLP decoder and ZINB heads.
* :func:`pretrain_zinb_autoencoder`: its pretraining by the ZINB likelihood (Adam with AMSGrad).
* :func:`iterate_minibatches`: seeded shuffled mini-batch indices.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from dance.nn.data import encode_in_batches, minibatch_indices
from dance.nn.layers import ZINBHeads, mlp
from dance.nn.likelihoods import zinb_loss

__all__ = ["DenoisingZINBAutoencoder", "encode_in_batches", "pretrain_zinb_autoencoder"]


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
        for index in minibatch_indices(x.shape[0], batch_size, generator=generator):
            # the clean embedding plays no part in this loss, so only the noisy path is computed
            mean, disp, pi = model.reconstruct(x[index], generator)
            loss = zinb_loss(counts[index], mean, disp, pi, scale_factor=size_factors[index])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += float(loss.detach()) * len(index)
        last = total / x.shape[0]
    return last
