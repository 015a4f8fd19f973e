"""scMoGCN's joint-embedding network (Wen et al. 2022, KDD; DANCE's
``joint_embedding/scmogcn.py``): a learnt softmax mix of the propagated layers, then an
autoencoder whose latent space is partitioned (:class:`~dance.multi.joint_embedding.training_targets.LatentParts`)."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["ScMoGCNAutoencoder"]


class ScMoGCNAutoencoder(nn.Module):
    """``in -> 150 -> 120 -> 100 -> latent`` (GELU, batch norm, dropout 0.3 after each hidden
    layer) and the decoder ``latent -> 150 -> in`` with ReLU outputs, as the authors'; the mixing
    weights of the propagated layers are learnt with it (without weight decay)."""

    def __init__(self, n_inputs: int, latent: int, n_layers: int, *, dropout: float = 0.3) -> None:
        super().__init__()
        blocks: list[nn.Module] = []
        for n_in, n_out in ((n_inputs, 150), (150, 120), (120, 100)):
            blocks += [nn.Linear(n_in, n_out), nn.GELU(), nn.BatchNorm1d(n_out), nn.Dropout(dropout)]
        self.encoder = nn.Sequential(*blocks, nn.Linear(100, latent))
        self.decoder = nn.Sequential(nn.Linear(latent, 150), nn.ReLU(), nn.Linear(150, n_inputs), nn.ReLU())
        self.layer_weights = nn.Parameter(torch.zeros(n_layers))

    def combine(self, layers: torch.Tensor) -> torch.Tensor:
        """Softmax-weighted sum of the propagated layers (layers x cells x features)."""
        weights = torch.softmax(self.layer_weights, dim=0)
        return (weights[:, None, None] * layers).sum(dim=0)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        z = self.encoder(x)
        return z, self.decoder(z)
