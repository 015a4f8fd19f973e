"""What the label-using joint-embedding models (scMoGCN, scMoGCN v2, JAE) learn besides the
reconstruction: the cell types of the cells whose labels were revealed, the batches, and the
cells' S / G2M cell-cycle scores computed from their own expression.

These models partition their latent space (Wen et al. 2022, KDD; Liu et al., JAE, NeurIPS 2021
joint-embedding winner): the first dimensions are the logits of the cell type, the next ones
hold the batch (pushed towards no information), the next two the cell-cycle scores, the rest are
free. Only the training cells' labels (``obs['known_<label_key>']``, which ``dance run`` fills
for them) are used; the cell-cycle scores are computed from the input expression, which every
model sees, never from the hidden solution.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from dance.core.errors import MetricNotComputableError

__all__ = ["LatentParts", "TrainingTargets", "training_targets"]


@dataclass
class TrainingTargets:
    """Per-cell targets over all cells of the input; ``cell_type`` is -1 where unknown."""

    cell_type: np.ndarray
    cell_types: list[str]
    batch: np.ndarray
    n_batches: int
    phase: np.ndarray | None
    notes: dict[str, str] = field(default_factory=dict)

    @property
    def labelled(self) -> np.ndarray:
        """Positions of the cells whose type the model may learn from."""
        return np.flatnonzero(self.cell_type >= 0)


def training_targets(data: Any, label_key: str, batch_key: str, *, seed: int = 0) -> TrainingTargets:
    """Targets of the label-using joint-embedding models for the cells of ``data`` (a
    :class:`~dance.core.containers.Modalities`): the revealed cell types
    (``obs['known_<label_key>']`` of the first modality), the batches (``obs[batch_key]``, one
    batch when absent) and the S / G2M scores of the expression modality (scanpy's
    ``score_genes_cell_cycle`` on the Tirosh genes; None with a note when the data have too few
    of them or no expression modality)."""
    from dance.core.metrics.conservation import cell_cycle_scores
    from dance.core.tasks.joint_embedding import log_expression

    notes: dict[str, str] = {}
    column = f"known_{label_key}"
    obs = data.mod1.obs
    if column in obs.columns:
        known = obs[column].astype(object).to_numpy()
        present = np.array([value is not None and value == value for value in known])  # NaN != NaN
        cell_types = sorted({str(v) for v in known[present]})
        lookup = {name: i for i, name in enumerate(cell_types)}
        codes = np.array([lookup[str(v)] if ok else -1 for v, ok in zip(known, present, strict=True)], dtype=np.int64)
        notes["training_labels"] = f"cell types of {int(present.sum())} of {len(known)} cells (obs['{column}'])"
    else:
        cell_types, codes = [], np.full(data.mod1.n_obs, -1, dtype=np.int64)
        notes["training_labels"] = f"none (no obs['{column}']): trained without the cell-type term"
    if batch_key in obs.columns:
        batch_names, batch = np.unique(obs[batch_key].astype(str).to_numpy(), return_inverse=True)
        n_batches = len(batch_names)
    else:
        batch, n_batches = np.zeros(data.mod1.n_obs, dtype=np.int64), 1
    expression, genes = log_expression(data)
    phase = None
    if expression is None:
        notes["cell_cycle_term"] = "off: neither modality is gene expression"
    else:
        try:
            phase = cell_cycle_scores(expression, genes, seed=seed).astype(np.float32)
        except MetricNotComputableError as reason:
            notes["cell_cycle_term"] = f"off: {reason}"
    return TrainingTargets(codes, cell_types, batch.astype(np.int64), n_batches, phase, notes)


class LatentParts:
    """The partition of a latent vector into cell-type logits, batch part and the two cell-cycle
    scores (then free dimensions), and the auxiliary losses on each part."""

    def __init__(self, n_cell_types: int, n_batches: int, n_phases: int = 2) -> None:
        self.n_cell_types, self.n_batches, self.n_phases = n_cell_types, n_batches, n_phases

    @property
    def size(self) -> int:
        return self.n_cell_types + self.n_batches + self.n_phases

    def cell_type_loss(self, z: torch.Tensor, cell_type: torch.Tensor) -> torch.Tensor:
        """Cross-entropy of the first ``n_cell_types`` dimensions against the known types (cells
        of unknown type, coded -1, are skipped)."""
        if self.n_cell_types == 0 or not bool((cell_type >= 0).any()):
            return z.new_zeros(())
        return F.cross_entropy(z[:, : self.n_cell_types], cell_type, ignore_index=-1)

    def batch_part(self, z: torch.Tensor) -> torch.Tensor:
        return z[:, self.n_cell_types : self.n_cell_types + self.n_batches]

    def uniform_batch_loss(self, z: torch.Tensor) -> torch.Tensor:
        """JAE's "random classification" loss: cross-entropy of the batch logits against the
        uniform distribution over batches, so that they say nothing about the batch."""
        logits = self.batch_part(z)
        return -(torch.log_softmax(logits, dim=1).mean(dim=1)).mean()

    def batch_norm_penalty(self, z: torch.Tensor) -> torch.Tensor:
        """scMoGCN's batch term: the L2 norms of the batch dimensions, summed over the cells, times 0.01."""
        return torch.linalg.norm(self.batch_part(z), dim=1).sum() * 1e-2

    def phase_loss(self, z: torch.Tensor, phase: torch.Tensor | None) -> torch.Tensor:
        """Mean squared error of the two cell-cycle dimensions against the S / G2M scores."""
        if phase is None:
            return z.new_zeros(())
        start = self.n_cell_types + self.n_batches
        return F.mse_loss(z[:, start : start + self.n_phases], phase)


def train_partitioned_autoencoder(
    model: Any,
    trainer: Any,
    module: torch.nn.Module,
    inputs: Any,
    targets: TrainingTargets,
    parts: LatentParts,
    optimizer: torch.optim.Optimizer,
    *,
    batch_term: str,
    weights: tuple[float, float, float, float],
    epochs: int,
    batch_size: int,
    patience: int,
    validation_fraction: float,
    min_steps: int = 0,
) -> Any:
    """Train ``module`` (``x -> (z, reconstruction)``) on the cells of known type (all cells when
    none is known) with dance's trainer: ``weights`` of the reconstruction error, the cell-type
    cross-entropy, the batch term (``"norm"``: scMoGCN's penalty; ``"uniform"``: JAE's
    cross-entropy to the uniform distribution) and the cell-cycle error; early stopping on the
    weighted validation loss of a seeded ``validation_fraction`` of those cells (best weights
    kept). ``inputs(index)`` gives the input rows of the cells at ``index``. ``trainer`` is made
    before ``module`` (it seeds the initial weights). With ``min_steps``, ``epochs`` and
    ``patience`` are stretched by the same factor until the training takes at least that many
    optimiser steps (a schedule written for tens of thousands of cells keeps its length in steps
    on a smaller set). Returns the trainer's stage result; the history is in
    ``model.training_history_`` and the epochs and patience used in ``model.schedule_``."""
    import torch.nn.functional as F

    from dance.core.errors import DanceInputError
    from dance.nn.trainer import Batch, EarlyStopping, OptimizerStep, Stage

    device = model.device_
    rows = targets.labelled if len(targets.labelled) else np.arange(len(targets.cell_type))
    if len(rows) < 10:
        raise DanceInputError(
            f"{model.name} (joint embedding) trains on the cells of known type; only {len(rows)} have one in "
            f"obs['known_{model.keys.label_key}'] (at least 10 are needed)",
            field=f"obs['known_{model.keys.label_key}']",
        )
    n_train = len(rows) - max(2, round(validation_fraction * len(rows)))
    steps_per_epoch = max(1, -(-n_train // batch_size))
    stretch = max(1.0, min_steps / (epochs * steps_per_epoch))
    epochs, patience = int(np.ceil(epochs * stretch)), int(np.ceil(patience * stretch))
    model.schedule_ = {"epochs": epochs, "patience": patience, "steps_per_epoch": steps_per_epoch}
    rows_t = torch.as_tensor(rows, device=device)
    cell_type = torch.as_tensor(targets.cell_type, device=device)
    phase = None if targets.phase is None else torch.as_tensor(targets.phase, device=device)
    penalty = parts.batch_norm_penalty if batch_term == "norm" else parts.uniform_batch_loss

    def loss(batch: Batch) -> dict[str, torch.Tensor]:
        index = rows_t if batch.index is None else rows_t[batch.index]
        x = inputs(index)
        z, reconstruction = module(x)
        terms = {
            "reconstruction": F.mse_loss(reconstruction, x),
            "cell_type": parts.cell_type_loss(z, cell_type[index]),
            "batch": penalty(z),
            "cell_cycle": parts.phase_loss(z, None if phase is None else phase[index]),
        }
        total = sum(w * value for w, value in zip(weights, terms.values(), strict=True))
        return {"loss": total, **terms}

    stage = Stage(
        "train",
        epochs=epochs,
        n=len(rows),
        batch_size=batch_size,
        min_batch_size=2,
        steps=[OptimizerStep(optimizer, loss)],
        early_stopping=EarlyStopping(fraction=validation_fraction, monitor="loss", patience=patience, restore_best=True, min_rows=2),
    )
    result = trainer.fit(stage, module=module)
    module.eval()
    model.training_history_ = trainer.history
    return result
