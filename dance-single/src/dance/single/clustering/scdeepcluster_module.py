"""scDeepCluster's network (Tian et al. 2019, Nat Mach Intell 1:191), also scDCC's (Tian et al.
2021, Nat Commun 12:1873): a denoising autoencoder whose decoder ends in DCA's zero-inflated
negative binomial heads (:class:`dance.nn.layers.ZINBHeads`; the likelihood is
:func:`dance.nn.likelihoods.zinb_loss`)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from dance.nn.layers import ZINBHeads, mlp
from dance.nn.likelihoods import zinb_loss

__all__ = ["DenoisingZINBAutoencoder"]


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
        """``(mean, disp, pi)`` decoded from the code of the noisy input (noise drawn from ``generator``)."""
        if self.noise_sd > 0:
            x = x + torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype) * self.noise_sd
        return self.heads(self.decoder(self.encode(x)))

    def forward(
        self, x: torch.Tensor, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(z, mean, disp, pi)``: the clean embedding and the ZINB parameters decoded from the noisy input."""
        mean, disp, pi = self.reconstruct(x, generator)
        return self.encode(x), mean, disp, pi

    def reconstruction_loss(
        self, x: torch.Tensor, counts: torch.Tensor, size_factors: torch.Tensor, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """The pretraining loss: the ZINB negative log-likelihood of ``counts`` (mean scaled by each
        cell's size factor) under the parameters decoded from the noisy ``x``.

        Only the noisy path is computed: the clean embedding plays no part in this loss.
        """
        mean, disp, pi = self.reconstruct(x, generator)
        return zinb_loss(counts, mean, disp, pi, scale_factor=size_factors)
