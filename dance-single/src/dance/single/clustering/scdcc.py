"""scDCC: scDeepCluster with pairwise must-link / cannot-link constraints."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from pydantic import Field

from dance.single.clustering.scdeepcluster import ScDeepCluster

if TYPE_CHECKING:
    import torch
    from anndata import AnnData

    from dance.nn.trainer import Batch, Stage

__all__ = ["PairwiseConstraints", "ScDCC", "draw_pairwise_constraints", "pairwise_loss"]


@dataclass(frozen=True)
class PairwiseConstraints:
    """Index pairs of cells that must be (``must_link``) or cannot be (``cannot_link``) together."""

    must_link: np.ndarray  # shape (n, 2)
    cannot_link: np.ndarray  # shape (m, 2)

    def __len__(self) -> int:
        return len(self.must_link) + len(self.cannot_link)


def draw_pairwise_constraints(labels: np.ndarray, n_pairs: int, *, labelled_fraction: float, seed: int) -> PairwiseConstraints:
    """scDCC's protocol: label a random ``labelled_fraction`` of the cells that have a label, then
    draw ``n_pairs`` distinct random pairs of labelled cells; same label -> must-link, different
    label -> cannot-link (``generate_random_pair`` of the authors' code, on the labelled subset as
    in DANCE's example). Cells without a label (NaN / None) are never used.
    """
    rng = np.random.default_rng(seed)
    labels = np.asarray(labels, dtype=object)
    known = np.flatnonzero([value is not None and value == value for value in labels])  # value == value is False for NaN
    empty = PairwiseConstraints(np.empty((0, 2), dtype=np.int64), np.empty((0, 2), dtype=np.int64))
    if n_pairs <= 0 or len(known) < 2:
        return empty
    chosen = rng.choice(known, size=max(2, int(np.ceil(labelled_fraction * len(known)))), replace=False)
    n_possible = len(chosen) * (len(chosen) - 1) // 2
    n_pairs = min(n_pairs, n_possible)
    seen: set[tuple[int, int]] = set()
    must, cannot = [], []
    while len(seen) < n_pairs:
        i, j = rng.choice(chosen, size=2, replace=False)
        key = (min(i, j), max(i, j))
        if key in seen:
            continue
        seen.add(key)
        (must if labels[i] == labels[j] else cannot).append((int(i), int(j)))
    as_array = lambda pairs: np.asarray(pairs, dtype=np.int64).reshape(-1, 2)  # noqa: E731
    return PairwiseConstraints(as_array(must), as_array(cannot))


def pairwise_loss(q1: torch.Tensor, q2: torch.Tensor, kind: str, eps: float = 1e-10) -> torch.Tensor:
    """scDCC's constraint losses on soft assignments: must-link ``-log Σ_j q1_j q2_j`` (the two cells
    fall in the same cluster), cannot-link ``-log(1 - Σ_j q1_j q2_j)``; mean over pairs.
    """
    import torch

    same = torch.sum(q1 * q2, dim=1)
    if kind == "must_link":
        return torch.mean(-torch.log(same + eps))
    if kind == "cannot_link":
        return torch.mean(-torch.log(1.0 - same + eps))
    raise ValueError(f"unknown constraint kind '{kind}'")


class ScDCC(ScDeepCluster):
    """scDCC (Tian, Zhang, Lin, Wei & Hakonarson 2021, Nat Commun 12:1873).

    scDeepCluster's model and training (see :class:`ScDeepCluster`; same defaults) with prior
    knowledge as pairwise constraints: after each clustering epoch, mini-batches of must-link
    pairs are trained on ``ml_weight * (-log Σ q_i q_j) + ZINB(i) + ZINB(j)`` and mini-batches of
    cannot-link pairs on ``cl_weight * (-log(1 - Σ q_i q_j))``, as in the authors' code.

    Constraints come from known labels, following the paper's protocol: a random
    ``labelled_fraction`` of the labelled cells is taken as known and ``n_pairwise`` random pairs
    of them become must-link (same label) or cannot-link (different labels) constraints. The
    labels are read at fit time from, in this order: ``obs[constraint_key]``; the column
    ``obs['known_<label_key>']`` that ``dance run --reveal-labels FRACTION`` fills with the
    labels of a seeded fraction of the cells; the task's label column itself, of which 10 % of
    the cells are taken as known (the class fitted directly on labelled data). A column of known
    labels (the first two) holds missing values (NaN / None) for the other cells, and all its
    labelled cells are known unless ``labelled_fraction`` says otherwise. Under ``dance run``
    without ``--reveal-labels`` the evaluation hides the label column, so there are no
    constraints and scDCC behaves exactly like scDeepCluster (which is also how DANCE's
    reproduction scripts ran it: ``--n_pairwise 0``); ``notes_['constraints']`` then says so
    and how to give it some.
    """

    name = "scdcc"

    class Params(ScDeepCluster.Params):
        n_pairwise: int = Field(1000, ge=0, description="number of random constraint pairs drawn among the known cells (0: none)")
        labelled_fraction: float | None = Field(
            None,
            gt=0,
            le=1,
            description="fraction of the labelled cells taken as known; None: 0.1 of the task's label column (the paper's "
            "protocol), all cells of a column of known labels (constraint_key or known_<label_key>)",
        )
        constraint_key: str | None = Field(
            None,
            description="obs column with the known labels (NaN elsewhere); None: obs['known_<label_key>'] "
            "(dance run --reveal-labels) if present, else the task's label column",
        )
        ml_weight: float = Field(1.0, ge=0, description="weight of the must-link loss")
        cl_weight: float = Field(1.0, ge=0, description="weight of the cannot-link loss")

    quick_params = {**ScDeepCluster.quick_params, "n_pairwise": 50}

    def _constraints(self, data: AnnData) -> PairwiseConstraints | None:
        p = self.params
        if p.n_pairwise == 0:
            self.notes_.update(constraints="none: n_pairwise=0", n_must_link=0, n_cannot_link=0)
            return None
        key, known_only = self._constraint_source(data)
        if key is None:
            label = self.keys.label_key
            why = f"no known labels at fit time (no obs['known_{label}']; obs['{label}'] is absent or hidden by the evaluation)"
            self.notes_.update(constraints=self._no_constraints(why), n_must_link=0, n_cannot_link=0)
            return None
        values = data.obs[key].astype(object).to_numpy()
        # a column of known labels is used whole; the task's full label column gives the paper's 10 %
        fraction = p.labelled_fraction if p.labelled_fraction is not None else (1.0 if known_only else 0.1)
        constraints = draw_pairwise_constraints(values, p.n_pairwise, labelled_fraction=fraction, seed=self.seed)
        if len(constraints):
            source = f"{fraction:g} of the labelled cells of obs['{key}']"
        else:
            source = self._no_constraints(f"obs['{key}'] has fewer than two labelled cells")
        self.notes_.update(constraints=source, n_must_link=len(constraints.must_link), n_cannot_link=len(constraints.cannot_link))
        return constraints if len(constraints) else None

    def _constraint_source(self, data: AnnData) -> tuple[str | None, bool]:
        """The obs column the constraints are drawn from and whether it holds only known labels:
        ``constraint_key``; else ``known_<label_key>`` (the labels ``dance run --reveal-labels``
        shows the model); else the task's label column (present when the class is fitted
        directly on labelled data); else none."""
        from dance.core.errors import DanceInputError

        columns = data.obs.columns
        key = self.params.constraint_key
        if key is not None:
            if key not in columns:
                raise DanceInputError(
                    f"scdcc: constraint_key names obs['{key}'], which the data does not have (obs columns: {sorted(map(str, columns))})",
                    field=f"obs['{key}']",
                )
            return key, True
        known = f"known_{self.keys.label_key}"
        if known in columns:
            return known, True
        if self.keys.label_key in columns:
            return self.keys.label_key, False
        return None, False

    @staticmethod
    def _no_constraints(why: str) -> str:
        """The note saying scDCC ran without constraints (exactly as scDeepCluster) and how to give it some."""
        return (
            f"none: {why}, so scDCC ran as scDeepCluster; pass --set constraint_key=<obs column of known labels>, "
            "or dance run --reveal-labels 0.1"
        )

    def _constraint_stages(
        self,
        constraints: PairwiseConstraints | None,
        x: torch.Tensor,
        counts: torch.Tensor,
        size_factors: torch.Tensor,
        optimizer: torch.optim.Optimizer,
        generator: torch.Generator,
    ) -> list[Stage]:
        """The authors' passes after each clustering epoch: minibatches of must-link pairs in
        order, then minibatches of cannot-link pairs, each step with the clustering optimiser."""
        if constraints is None:
            return []
        import torch

        from dance.nn.clustering import soft_assignment
        from dance.nn.likelihoods import zinb_loss
        from dance.nn.trainer import OptimizerStep, Stage

        p = self.params
        module, centres = self.module_, self.centres_
        must = torch.from_numpy(constraints.must_link).to(x.device)
        cannot = torch.from_numpy(constraints.cannot_link).to(x.device)

        def must_link(batch: Batch) -> dict[str, torch.Tensor]:
            i, j = must[batch.index, 0], must[batch.index, 1]
            z1, mean1, disp1, pi1 = module(x[i], generator)
            z2, mean2, disp2, pi2 = module(x[j], generator)
            pair = pairwise_loss(soft_assignment(z1, centres, p.alpha), soft_assignment(z2, centres, p.alpha), "must_link")
            zinb1 = zinb_loss(counts[i], mean1, disp1, pi1, scale_factor=size_factors[i])
            zinb2 = zinb_loss(counts[j], mean2, disp2, pi2, scale_factor=size_factors[j])
            # summed in the authors' order, so the recorded loss is theirs to the last bit
            return {"loss": p.ml_weight * pair + zinb1 + zinb2, "pair": pair, "zinb": zinb1 + zinb2}

        def cannot_link(batch: Batch) -> dict[str, torch.Tensor]:
            i, j = cannot[batch.index, 0], cannot[batch.index, 1]
            # only the clean embeddings matter here; the decoder is not part of the cannot-link loss
            q1 = soft_assignment(module.encode(x[i]), centres, p.alpha)
            q2 = soft_assignment(module.encode(x[j]), centres, p.alpha)
            return {"loss": p.cl_weight * pairwise_loss(q1, q2, "cannot_link")}

        stages = []
        for name, pairs, loss in (("must_link", must, must_link), ("cannot_link", cannot, cannot_link)):
            if len(pairs):
                # epochs is unused: the clustering stage runs one pass of each after every epoch
                stages.append(
                    Stage(name, epochs=1, n=len(pairs), batch_size=p.batch_size, shuffle=False, steps=[OptimizerStep(optimizer, loss)])
                )
        return stages
