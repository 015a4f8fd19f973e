"""Task ``modality_matching``: find which cell of one modality is which cell of the other.

Input
    :class:`~dance.core.containers.Modalities` of paired cells (same cells, same order) with
    ``mod1.obs['split']`` (a seeded 80/20 split when absent). Training pairs are known to the
    model; test pairs are what it must recover (NeurIPS 2021 "match modality").
    The challenge form (both modalities with ``obs['split']``, test rows of ``mod2`` unaligned)
    is taken too: without truth it is run unscored; with the challenge's pairing matrix
    (``--solution test_sol.h5ad``, test mod1 x test mod2) the test rows of ``mod2`` are first
    aligned to their ``mod1`` partners (:func:`dance.core.data.solutions.merge_solution`).
Hold-out
    In the copy the model sees, the test cells of ``mod2`` are shuffled and renamed
    (``test_0``, ``test_1``, ...) and keep only ``obs['split']``; the permutation is the truth.
    Both modalities carry ``obs['split']``; training rows stay aligned and named.
Prediction
    A non-negative score matrix, test cells of ``mod1`` x test cells of ``mod2`` (in the order
    of the view), dense or sparse. As the challenge required of submissions, each row keeps at
    most :data:`MAX_CANDIDATES` non-zero scores (its largest) and rows are normalised to
    probabilities for scoring.
Output
    ``output_mod1.h5ad`` with ``obs['<model>_match']`` (best match among mod2's test cells) and
    ``uns['<model>_matching']`` (the sparse score matrix); ``output_mod2.h5ad``.
Metrics (``fn(true_partner, scores)``)
    ``matching_score``: the probability mass on the true partner, averaged over test cells
    (the NeurIPS 2021 match-modality metric); ``top1_accuracy``: the share of test cells whose
    highest score is on the partner.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dance.core.errors import DanceInputError
from dance.core.models.base import DanceModel
from dance.core.specs import FieldSpec, TaskSpec
from dance.core.tasks.base import TaskContract, ensure_split, matrix_shape_check

if TYPE_CHECKING:
    from anndata import AnnData

    from dance.core.containers import Modalities
    from dance.core.keys import DataKeys
    from dance.core.plotting.context import PlotContext

__all__ = ["MAX_CANDIDATES", "SPEC", "ModalityMatching", "ModalityMatchingModel", "keep_top_per_row"]

#: non-zero scores a row may keep (the challenge's check_format: at most 1,000 per row)
MAX_CANDIDATES = 1000

SPEC = TaskSpec(
    name="modality_matching",
    summary="Match each cell of one modality to the same cell in another modality",
    target="dance.core.tasks.modality_matching:ModalityMatching",
    input_kind="modalities",
    roles=("mod1", "mod2"),
    inputs=(
        FieldSpec(role="mod1", slot="X", description="first modality"),
        FieldSpec(role="mod2", slot="X", description="second modality, same cells (paired)"),
        FieldSpec(role="mod1", slot="obs", key="split", option="split_key", required=False, description="'train'/'test'"),
    ),
    outputs=(
        FieldSpec(role="mod1", slot="obs", key="{model}_match", description="best-matching mod2 test cell"),
        FieldSpec(role="mod1", slot="uns", key="{model}_matching", description="test x test score matrix"),
    ),
    metrics=("matching_score", "top1_accuracy"),
)


class ModalityMatchingModel(DanceModel):
    """Base class: ``predict`` returns a (test mod1) x (test mod2) score matrix."""

    task = "modality_matching"

    def split_masks(self, data: Modalities) -> tuple[Any, Any]:
        """Boolean train masks of mod1 and mod2."""
        return split_masks(data, self.keys)


def split_masks(data: Modalities, keys: DataKeys) -> tuple[Any, Any]:
    import numpy as np

    def mask(adata: AnnData) -> Any:
        if keys.split_key not in adata.obs.columns:
            return np.ones(adata.n_obs, dtype=bool)
        return (adata.obs[keys.split_key].astype(str) == "train").to_numpy()

    return mask(data.mod1), mask(data.mod2)


class ModalityMatching(TaskContract):
    spec = SPEC
    preserves_cells = False
    model_base = ModalityMatchingModel

    def check(self, data: Modalities, keys: DataKeys, *, stage: str = "fit", needs_counts: bool = False) -> None:
        from dance.core import validation as v

        super().check(data, keys, stage=stage, needs_counts=needs_counts)
        v.require_split(data.mod1, keys, role="mod1")
        if data.paired:
            return
        if keys.split_key not in data.mod2.obs.columns:
            v.check_same_cells(data.mod1, data.mod2, data.names)
        v.require_split(data.mod2, keys, role="mod2")
        train1, train2 = split_masks(data, keys)
        if train1.sum() != train2.sum() or (data.mod1.obs_names[train1] != data.mod2.obs_names[train2]).any():
            raise DanceInputError("the training cells of mod1 and mod2 must be the same cells in the same order", field="mod2.obs_names")
        if (~train1).sum() != (~train2).sum():
            raise DanceInputError(
                f"mod1 has {(~train1).sum()} test cells and mod2 {(~train2).sum()}; matching needs the same number",
                field="mod2.obs['split']",
            )

    def holdout(self, data: Modalities, keys: DataKeys, *, seed: int) -> tuple[Modalities, Any]:
        import numpy as np
        import pandas as pd

        from dance.core.containers import Modalities

        self.validate(data, keys, stage="evaluate")
        if not data.paired:  # already in challenge form: train pairs + unpaired test cells, no truth
            return data.copy(), None
        split = ensure_split(data.mod1, keys, seed=seed, stratify=False, test_fraction=self.test_fraction)
        train = np.flatnonzero(split == "train")
        test = np.flatnonzero(split == "test")
        rng = np.random.default_rng(seed)
        shuffled = rng.permutation(len(test))  # view row j of the test block is original test cell shuffled[j]
        mod1 = data.mod1.copy()
        mod1.obs[keys.split_key] = pd.Categorical(split, categories=["train", "test"])
        train2 = data.mod2[train].copy()
        test2 = data.mod2[test[shuffled]].copy()
        test2.obs = pd.DataFrame(index=[f"test_{j}" for j in range(len(test))])
        mod2 = _concat_rows(train2, test2)
        mod2.obs[keys.split_key] = pd.Categorical(["train"] * len(train) + ["test"] * len(test), categories=["train", "test"])
        truth = np.argsort(shuffled)  # partner of the i-th test cell of mod1 among the view's test rows
        return Modalities(mod1, mod2, data.names), truth

    def check_prediction(self, prediction: Any, data: Modalities, keys: DataKeys, *, model: DanceModel | None = None) -> Any:
        import numpy as np
        import scipy.sparse as sp

        train1, train2 = split_masks(data, keys)
        matrix = matrix_shape_check(prediction, (int((~train1).sum()), int((~train2).sum())), "matching score matrix")
        values = matrix.data if sp.issparse(matrix) else np.asarray(matrix)
        if values.size and values.min() < 0:
            raise DanceInputError("matching scores must be non-negative", field="prediction")
        return keep_top_per_row(sp.csr_matrix(matrix, dtype=np.float32), MAX_CANDIDATES)

    def store_prediction(self, data: Modalities, prediction: Any, keys: DataKeys, *, key: str, model: DanceModel | None = None) -> None:
        """``mod1.uns[key]``: the test x test score matrix; ``mod1.obs[key]``: the best-matching
        mod2 test cell of each mod1 test cell (empty for training cells)."""
        import numpy as np

        train1, train2 = split_masks(data, keys)
        names2 = np.asarray(data.mod2.obs_names[~train2])
        best = np.full(data.mod1.n_obs, None, dtype=object)
        if prediction.shape[1]:
            best[~train1] = names2[np.asarray(prediction.argmax(axis=1)).ravel()]
        data.mod1.uns[key] = prediction
        data.mod1.obs[key] = best

    def write_output(
        self, data: Modalities, prediction: Any, keys: DataKeys, *, model_name: str, model: DanceModel | None = None
    ) -> dict[str, AnnData]:
        import numpy as np

        train1, train2 = split_masks(data, keys)
        mod1 = data.mod1.copy()
        names2 = np.asarray(data.mod2.obs_names[~train2])
        best = np.full(mod1.n_obs, None, dtype=object)
        if prediction.shape[1]:
            best[~train1] = names2[np.asarray(prediction.argmax(axis=1)).ravel()]
        mod1.obs[f"{model_name}_match"] = best
        mod1.uns[f"{model_name}_matching"] = prediction
        return {"output_mod1": mod1, "output_mod2": data.mod2.copy()}

    def plot(
        self, outputs: dict[str, AnnData], prediction: Any, truth: Any, keys: DataKeys, *, context: PlotContext, folder: Any
    ) -> dict[str, Any]:
        """``matching_scores.png``: the row-normalised scores of up to 100 test cells of mod1
        (a seeded sample) against their true partners, in the same order, so a good matching is
        a bright diagonal; without the pairing, the first 100 rows and columns as given."""
        from pathlib import Path

        from dance.core.plotting.matching import plot_matching_scores

        path = plot_matching_scores(
            prediction,
            truth,
            Path(folder) / "matching_scores.png",
            title=context.title("test cells"),
            seed=context.seed,
            names=context.modality_names,
        )
        return {"plot": path}


def keep_top_per_row(matrix: Any, k: int) -> Any:
    """The CSR ``matrix`` with only the ``k`` largest entries of each row kept (ties: any of them)."""
    import numpy as np
    import scipy.sparse as sp

    matrix = sp.csr_matrix(matrix)
    matrix.eliminate_zeros()
    counts = np.diff(matrix.indptr)
    if not (counts > k).any():
        return matrix
    keep = np.ones(matrix.nnz, dtype=bool)
    for row in np.flatnonzero(counts > k):
        start, stop = matrix.indptr[row], matrix.indptr[row + 1]
        smallest = np.argpartition(matrix.data[start:stop], counts[row] - k)[: counts[row] - k]
        keep[start + smallest] = False
    matrix.data[~keep] = 0
    matrix.eliminate_zeros()
    return matrix


def _concat_rows(first: AnnData, second: AnnData) -> AnnData:
    import anndata as ad

    return ad.concat([first, second], join="outer", merge="first", uns_merge="first")
