"""Cross-modal autoencoders (Yang et al. 2021, "Multi-domain translation between single-cell
imaging and sequencing data using autoencoders", Nat Commun 12:31), with the networks of DANCE's
MUNIT-derived port (``dance/modules/multi_modality/predict_modality/cmae.py``). Used by the
``cmae`` prediction model."""

from __future__ import annotations

import itertools

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["CrossModalAutoencoders", "LatentDiscriminator", "ModalityAutoencoder"]


def _leaky() -> nn.LeakyReLU:
    return nn.LeakyReLU(0.2)


class ModalityAutoencoder(nn.Module):
    """One modality: ``n -> h -> h -> h -> dim -> latent`` (``h = min(n, 1000)``, leaky ReLU 0.2
    after every layer) and the mirror image back, ending in a leaky ReLU."""

    def __init__(self, n_features: int, dim: int = 100, latent: int = 50) -> None:
        super().__init__()
        hidden = min(n_features, 1000)
        widths = [n_features, hidden, hidden, hidden, dim, latent]
        encoder: list[nn.Module] = []
        for a, b in itertools.pairwise(widths):
            encoder += [nn.Linear(a, b), _leaky()]
        decoder: list[nn.Module] = []
        reverse = widths[::-1]
        for a, b in itertools.pairwise(reverse):
            decoder += [nn.Linear(a, b), _leaky()]
        self.encoder = nn.Sequential(*encoder)
        self.decoder = nn.Sequential(*decoder)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)


class LatentDiscriminator(nn.Module):
    """Tells the two modalities' latent codes apart (least-squares GAN: modality 1 -> 0,
    modality 2 -> 1)."""

    def __init__(self, latent: int = 50, dim: int = 100) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(latent, latent), _leaky(), nn.Linear(latent, dim), _leaky(), nn.Linear(dim, 1), _leaky())

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)

    def loss(self, z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
        """The discriminator's least-squares loss."""
        return (self(z1) ** 2).mean() + ((self(z2) - 1) ** 2).mean()

    def fooling_loss(self, z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
        """The encoders' adversarial loss: each modality's codes scored as the other's."""
        return ((self(z1) - 1) ** 2).mean() + (self(z2) ** 2).mean()


class CrossModalAutoencoders(nn.Module):
    """Two autoencoders, a latent discriminator and a linear classifier of the latent codes (on an
    auxiliary label, e.g. the batch)."""

    def __init__(self, sizes: tuple[int, int], *, dim: int = 100, latent: int = 50, n_classes: int = 0) -> None:
        super().__init__()
        self.autoencoders = nn.ModuleList(ModalityAutoencoder(n, dim, latent) for n in sizes)
        self.discriminator = LatentDiscriminator(latent, dim)
        self.classifier = nn.Linear(latent, n_classes) if n_classes > 1 else None
        for module in (*self.autoencoders, self.classifier):
            if module is None:
                continue
            for layer in module.modules():
                if isinstance(layer, nn.Linear):
                    nn.init.kaiming_normal_(layer.weight, a=0, mode="fan_in")
                    nn.init.zeros_(layer.bias)
        for layer in self.discriminator.modules():
            if isinstance(layer, nn.Linear):
                nn.init.normal_(layer.weight, 0.0, 0.02)
                nn.init.zeros_(layer.bias)

    def generator_parameters(self) -> list[nn.Parameter]:
        params = [p for ae in self.autoencoders for p in ae.parameters()]
        return params + (list(self.classifier.parameters()) if self.classifier is not None else [])

    def translate(self, x: torch.Tensor) -> torch.Tensor:
        """Modality 1 -> latent -> modality 2."""
        return self.autoencoders[1].decode(self.autoencoders[0].encode(x))

    def classification_loss(self, z: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        if self.classifier is None or labels is None:
            return torch.zeros((), device=z.device)
        return F.cross_entropy(self.classifier(z), labels)
