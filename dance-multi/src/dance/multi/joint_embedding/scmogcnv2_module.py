"""scMoGCN v2's joint-embedding network (DANCE's ``joint_embedding/scmogcnv2.py``, by the
scMoGNN authors): scMoGNN's graph encoder on the cell-feature graph of both modalities' features,
heads for cell type and cell cycle on the first latent dimensions, and a decoder of both
modalities from the embedding and the batch."""

from __future__ import annotations

import torch
from torch import nn

from dance.multi.modality_prediction.scmogcn_module import ScMoGNNModule
from dance.nn.graphs import BipartiteMean

__all__ = ["ScMoGCNv2Module"]


class ScMoGCNv2Module(nn.Module):
    """The encoder is :class:`~dance.multi.modality_prediction.scmogcn_module.ScMoGNNModule`
    without batch features or readout, its layers' cell states summed with learnt softmax weights
    (``hidden`` wide). The embedding is the first ``type_dims + free_dims`` of those dimensions:
    the first ``type_dims`` also feed a linear cell-type classifier and a linear regression of the
    S / G2M scores; the decoder (``width -> width``, GELU, dropout, ``-> n_outputs``) reconstructs
    both modalities from the embedding and the one-hot batch."""

    def __init__(
        self,
        n_features: int,
        n_outputs: int,
        *,
        n_cell_types: int,
        n_batches: int,
        hidden: int = 56,
        conv_layers: int = 3,
        dropout: float = 0.4,
        type_dims: int = 20,
        free_dims: int = 9,
    ) -> None:
        super().__init__()
        self.type_dims, self.free_dims, self.n_batches = type_dims, free_dims, n_batches
        self.encoder = ScMoGNNModule(
            n_features, 0, n_batch_features=0, hidden=hidden, conv_layers=conv_layers, edge_dropout=0.0, dropout=dropout, weighted_sum=True
        )
        self.cell_type = nn.Linear(type_dims, n_cell_types) if n_cell_types else None
        self.cell_cycle = nn.Linear(type_dims, 2)
        width = type_dims + free_dims + n_batches
        self.decoder = nn.Sequential(nn.Linear(width, width), nn.GELU(), nn.Dropout(dropout), nn.Linear(width, n_outputs))

    def embed(self, graph: BipartiteMean, feature_index: torch.Tensor | None = None) -> torch.Tensor:
        """The embedding of the cells of ``graph`` (a subgraph over the features ``feature_index``)."""
        states = self.encoder.cell_states(graph, None, feature_index)
        return states[:, : self.type_dims + self.free_dims]

    def decode(self, embedding: torch.Tensor, batch: torch.Tensor) -> torch.Tensor:
        one_hot = torch.nn.functional.one_hot(batch, self.n_batches).to(embedding.dtype)
        return self.decoder(torch.cat([embedding, one_hot], dim=1))
