"""Optimal-transport integration of an embedding onto a reference batch (the scBIOT approach)."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from pydantic import Field

from dance.core.errors import DanceInputError
from dance.core.tasks.batch_integration import BatchIntegrationModel
from dance.core.transforms.pipeline import Step
from dance.single.batch_integration.input_embedding import EmbeddingInput, embedding_pipeline, input_embedding

__all__ = ["OT", "choose_reference", "smooth_displacement"]


def choose_reference(batch: np.ndarray, reference: str | None) -> str:
    """The reference batch: ``reference`` when given (must exist), else the largest batch
    (ties broken by name, so the choice is deterministic)."""
    names, counts = np.unique(np.asarray(batch).astype(str), return_counts=True)
    if reference is not None:
        if reference not in names:
            raise DanceInputError(f"reference batch '{reference}' is not a batch (batches: {', '.join(names)})", field="reference")
        return reference
    order = np.lexsort((names, -counts))
    return str(names[order[0]])


def smooth_displacement(x: np.ndarray, displacement: np.ndarray, k: int, *, seed: int = 0) -> np.ndarray:
    """Average each cell's displacement over its ``k`` nearest neighbours (itself included) in
    ``x``, so the correction is a smooth vector field and within-batch structure is kept."""
    from dance.core.neighbors import knn

    k = int(min(k, x.shape[0]))
    if k <= 1:
        return displacement
    indices, _ = knn(x, k, seed=seed)
    smoothed = np.zeros_like(displacement)
    for j in range(k):
        smoothed += displacement[indices[:, j]]
    return smoothed / k


class OT(BatchIntegrationModel):
    """Optimal-transport batch integration (the scBIOT approach; Chizat et al. 2018, Math Comp
    87:2563 for unbalanced entropic OT; POT, Flamary et al. 2021, JMLR 22:1).

    Works on an embedding: the PCA of log-normalised, scaled HVGs made by its pipeline, or an
    existing one named by ``use_rep``. A reference batch is chosen (the largest, or
    ``reference``). Every other batch is transported onto the reference by unbalanced entropic OT
    (squared Euclidean cost divided by its mean; KL-relaxed marginals, so cell-type proportions
    may differ between batches), each cell is sent to its barycentric image (the plan-weighted
    mean of the reference cells), and the displacement, averaged over the cell's ``smooth_k``
    nearest neighbours within its batch, is added to the cell. Reference cells do not move.

    With ``supervised=True`` and labels in ``obs['cell_type']``, transporting a cell to a
    reference cell of another known label costs ``label_penalty`` more (unlabelled cells, i.e.
    missing or "Unknown" labels, pay nothing). Unseen cell types need no special treatment: the
    method predicts no labels.

    Deviations from scBIOT's ``integrate_ot``: one OT solve per batch on the cells themselves
    (scBIOT transports k-means prototypes and refines iteratively with pseudo-label forces,
    edge-stretch guards and step schedules, which are heuristics without a paper); for memory, a
    reference of more than ``max_reference_cells`` cells is represented by a random subset, and a
    batch of more than ``max_source_cells`` cells is solved in random chunks of that size
    (minibatch OT, Fatras et al. 2020, AISTATS). For millions of cells use ``ot_centroids``.
    """

    name = "ot"
    transductive = True

    class Params(EmbeddingInput):
        reference: str | None = Field(None, description="reference batch; None = the largest")
        reg: float = Field(0.05, gt=0, description="entropic regularisation (relative to the mean squared distance)")
        reg_m: float = Field(1.0, gt=0, description="KL penalty on the marginals (inf = balanced OT)")
        supervised: bool = Field(False, description="penalise transport between different known labels (obs['cell_type'])")
        label_penalty: float = Field(1.0, ge=0, description="extra cost between different known labels, in units of the mean cost")
        smooth_k: int = Field(15, ge=1, description="neighbours over which each cell's displacement is averaged (1 = none)")
        max_reference_cells: int = Field(10_000, ge=10, description="larger references are represented by a random subset")
        max_source_cells: int = Field(10_000, ge=10, description="larger batches are solved in random chunks of this size")
        max_iter: int = Field(1000, ge=1, description="Sinkhorn iterations")
        tol: float = Field(1e-6, gt=0, description="Sinkhorn stopping threshold")
        method: Literal["sinkhorn", "sinkhorn_translation_invariant"] = Field(
            "sinkhorn_translation_invariant", description="POT's unbalanced Sinkhorn variant"
        )

    quick_params = {"max_iter": 200}

    def build_pipeline(self) -> tuple[Step, ...]:
        return embedding_pipeline(self.params)

    def _fit(self, data: Any) -> None:
        x = input_embedding(data, self.params)
        batch = data.obs[self.keys.batch_key].astype(str).to_numpy()
        labels = self._labels(data)
        self.embedding_, self.notes_ = integrate_cells(x, batch, labels, self.params, device=self.device_, seed=self.seed)

    def _labels(self, data: Any) -> np.ndarray | None:
        from dance.single.batch_integration.optimal_transport.transport_maps import encode_labels

        if not self.params.supervised:
            return None
        if self.keys.label_key not in data.obs.columns:
            raise DanceInputError(f"supervised=True needs labels in obs['{self.keys.label_key}']", field=f"obs['{self.keys.label_key}']")
        return encode_labels(data.obs[self.keys.label_key].to_numpy())[0]

    def _predict(self, data: Any) -> Any:
        return self.embedding_


def integrate_cells(
    x: np.ndarray, batch: np.ndarray, labels: np.ndarray | None, params: Any, *, device: str = "cpu", seed: int = 0
) -> tuple[np.ndarray, dict[str, Any]]:
    """Full-cell OT integration of embedding ``x`` (the ``ot`` model's algorithm, on arrays).

    ``params`` is an :class:`OT.Params`; ``labels`` are integer codes (``-1`` = unlabelled) or None.
    """
    from tqdm.auto import tqdm

    from dance.single.batch_integration.optimal_transport.transport_maps import barycentric_map

    rng = np.random.default_rng(seed)
    reference = choose_reference(batch, params.reference)
    ref_cells = np.flatnonzero(batch == reference)
    if len(ref_cells) > params.max_reference_cells:
        ref_cells = np.sort(rng.choice(ref_cells, size=params.max_reference_cells, replace=False))
    target = x[ref_cells]
    target_labels = None if labels is None else labels[ref_cells]
    out = x.copy()
    others = [b for b in sorted(set(batch.tolist())) if b != reference]
    unmatched, iterations, methods = 0, 0, set()
    for name in tqdm(others, desc="OT per batch", disable=None):
        cells = np.flatnonzero(batch == name)
        displacement = np.zeros((len(cells), x.shape[1]), dtype=np.float32)
        n_chunks = int(np.ceil(len(cells) / params.max_source_cells))
        order = rng.permutation(len(cells)) if n_chunks > 1 else np.arange(len(cells))
        for chunk in np.array_split(order, n_chunks):
            rows = cells[chunk]
            result = barycentric_map(
                x[rows],
                target,
                reg=params.reg,
                reg_m=params.reg_m,
                source_labels=None if labels is None else labels[rows],
                target_labels=target_labels,
                label_penalty=params.label_penalty,
                method=params.method,
                max_iter=params.max_iter,
                tol=params.tol,
                device=device,
            )
            displacement[chunk] = result.mapped - x[rows]
            unmatched += result.n_unmatched
            iterations += 1
            methods.add(result.method)
        out[cells] = x[cells] + smooth_displacement(x[cells], displacement, params.smooth_k, seed=seed)
    notes = {
        "reference": reference,
        "n_reference_support": len(ref_cells),
        "n_ot_problems": iterations,
        "n_unmatched_cells": unmatched,
        "ot_solver": ", ".join(sorted(methods)),
    }
    return out, notes
