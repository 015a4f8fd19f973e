"""OpenProblems-style solution files: the truth the NeurIPS 2021 challenge keeps apart.

The challenge's task layouts hand models their inputs in some files and keep the truth in a
separate *solution* file. ``dance run ... --solution FILE`` merges the solution into the input,
so the data take the form the task's contract already knows, and the contract's hold-out
protocol hides that truth from the model again and scores against it. The solution is never
shown to a model.

=======================  ===========================================  ======================================================
task                     the user passes                              the solution merged in
=======================  ===========================================  ======================================================
``joint_embedding``      ``--data mod1 --data2 mod2``                 its ``obs[label_key]`` (cell types) joined onto mod1
                                                                      by cell name; every cell of mod1 must be in it
``modality_prediction``  ``--data mod1`` (train + test cells)         mod2 of the test cells, added to ``--data2``'s training
                         ``--data2 train_mod2``                       cells; the test cells are ``mod1.obs[split_key] ==
                                                                      'test'``, or the cells not in ``--data2``
``modality_matching``    ``--data mod1 --data2 mod2`` (both with      the pairing matrix test mod1 x test mod2: mod2's test
                         ``obs[split_key]``, test rows of mod2        rows are reordered and renamed to their mod1 partners,
                         unaligned)                                   so the two modalities become paired
=======================  ===========================================  ======================================================
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from dance.core.errors import DanceInputError

if TYPE_CHECKING:
    from anndata import AnnData

    from dance.core.containers import Modalities
    from dance.core.keys import DataKeys

__all__ = ["SOLUTION_TASKS", "merge_solution", "pairing_partners"]

#: the tasks whose challenge layout keeps the truth in a solution file
SOLUTION_TASKS = ("joint_embedding", "modality_prediction", "modality_matching")


def _examples(index: Any, n: int = 3) -> str:
    return ", ".join(map(repr, list(index[:n])))


def _require_unique(names: pd.Index, what: str, field: str) -> None:
    if not names.is_unique:
        duplicated = names[names.duplicated()].unique()
        raise DanceInputError(
            f"{what} has {len(duplicated)} duplicated name(s) (e.g. {_examples(duplicated)}); names must be unique", field=field
        )


def merge_solution(
    task: str, data: Modalities, solution: AnnData, keys: DataKeys, *, source: str = "the solution"
) -> tuple[Modalities, dict[str, Any]]:
    """``data`` with the truth of ``solution`` merged in, in the form ``task``'s contract takes.

    Parameters
    ----------
    task
        One of :data:`SOLUTION_TASKS`.
    data
        The two modalities as the user gave them.
    solution
        The challenge's solution AnnData for ``task``.
    keys
        The run's data keys (label column, split column).
    source
        How to call the solution in messages and notes (its file name).

    Returns
    -------
    tuple
        The merged :class:`~dance.core.containers.Modalities` (new objects: the inputs are not
        modified) and notes for the run's record.

    Raises
    ------
    DanceInputError
        When the task takes no solution, or the solution does not fit the data (other cells,
        other features, a pairing that is not one-to-one, ...).
    """
    if task == "joint_embedding":
        return _joint_embedding(data, solution, keys, source)
    if task == "modality_prediction":
        return _modality_prediction(data, solution, keys, source)
    if task == "modality_matching":
        return _modality_matching(data, solution, keys, source)
    raise DanceInputError(
        f"--solution applies to the NeurIPS 2021 task layouts of {', '.join(SOLUTION_TASKS)}; task '{task}' takes none", field="--solution"
    )


# ---------------------------------------------------------------------- joint embedding
def _joint_embedding(data: Modalities, solution: AnnData, keys: DataKeys, source: str) -> tuple[Modalities, dict[str, Any]]:
    from dance.core.containers import Modalities

    label = keys.label_key
    if label not in solution.obs.columns:
        available = ", ".join(map(str, solution.obs.columns[:15])) or "none"
        raise DanceInputError(
            f"{source} has no obs['{label}'] to score the embedding against (its obs columns: {available}); "
            "pass --label-key to name the label column",
            field=f"solution.obs['{label}']",
        )
    _require_unique(solution.obs_names, source, "solution.obs_names")
    _require_unique(data.mod1.obs_names, data.names[0], "mod1.obs_names")
    cells = data.mod1.obs_names
    missing = cells.difference(solution.obs_names)
    extra = solution.obs_names.difference(cells)
    # a partial solution means mismatched files far more often than a deliberately unlabelled
    # subset, and scoring a subset would make metrics incomparable: refuse it
    if len(missing) or len(extra):
        parts = []
        if len(missing):
            parts.append(f"{len(missing)} of the {len(cells)} cells of {data.names[0]} are not in it (e.g. {_examples(missing)})")
        if len(extra):
            parts.append(f"{len(extra)} of its cells are not in {data.names[0]} (e.g. {_examples(extra)})")
        raise DanceInputError(f"{source} must hold the cells of {data.names[0]}: " + "; ".join(parts), field="solution.obs_names")
    mod1 = data.mod1.copy()
    replaced = label in mod1.obs.columns  # the solution is the truth: it wins over labels mod1 carried
    values = solution.obs[label].reindex(cells)
    mod1.obs[label] = pd.Categorical(values.astype(object).where(values.notna(), None))
    joined = [label]
    # the batch is an input of the challenge (mod1 carries it too), never truth: take it only when
    # mod1 lacks it. The pseudotime orders and cell-cycle scores are truth the joint-embedding
    # hold-out hides and scores with (ti_cons, cc_cons); other columns are not joined.
    if keys.batch_key in solution.obs.columns and keys.batch_key not in mod1.obs.columns:
        mod1.obs[keys.batch_key] = solution.obs[keys.batch_key].reindex(cells).to_numpy()
        joined.append(keys.batch_key)
    from dance.core.tasks.joint_embedding import HIDDEN_COLUMNS, HIDDEN_PREFIXES

    for column in solution.obs.columns:
        if str(column).startswith(HIDDEN_PREFIXES) or column in HIDDEN_COLUMNS:
            mod1.obs[column] = solution.obs[column].reindex(cells).to_numpy(dtype=np.float64)
            joined.append(str(column))
    unused = [str(c) for c in solution.obs.columns if c not in joined]
    note = f"obs {', '.join(repr(c) for c in joined)} of the {len(cells)} cells joined onto {data.names[0]} from {source} by cell name"
    if unused:
        note += f" (not used: {', '.join(unused)})"
    if replaced:
        note += f"; it replaced {data.names[0]}'s own obs['{label}']"
    return Modalities(mod1, data.mod2.copy(), data.names), {"solution": note}


# ---------------------------------------------------------------------- modality prediction
def _modality_prediction(data: Modalities, solution: AnnData, keys: DataKeys, source: str) -> tuple[Modalities, dict[str, Any]]:
    import anndata as ad

    from dance.core import validation as v
    from dance.core.containers import Modalities

    name1, name2 = data.names
    mod1, mod2 = data.mod1, data.mod2
    _require_unique(mod1.obs_names, name1, "mod1.obs_names")
    _require_unique(mod2.obs_names, name2, "mod2.obs_names")
    _require_unique(solution.obs_names, source, "solution.obs_names")
    _require_unique(solution.var_names, f"{source} (features)", "solution.var_names")

    missing_features = mod2.var_names.difference(solution.var_names)
    extra_features = solution.var_names.difference(mod2.var_names)
    if len(missing_features) or len(extra_features):
        parts = []
        if len(missing_features):
            parts.append(f"{len(missing_features)} of {name2}'s {mod2.n_vars} features are not in it (e.g. {_examples(missing_features)})")
        if len(extra_features):
            parts.append(f"{len(extra_features)} of its features are not in {name2} (e.g. {_examples(extra_features)})")
        raise DanceInputError(
            f"{source} must hold {name2} of the test cells, with the features of {name2}: " + "; ".join(parts), field="solution.var_names"
        )

    both = mod2.obs_names.intersection(solution.obs_names)
    if len(both):
        raise DanceInputError(
            f"{len(both)} cell(s) are both in {name2} (the training cells) and in {source} (the test cells) (e.g. {_examples(both)}); "
            f"give {name2} of the training cells only",
            field="solution.obs_names",
        )
    for names, what, field in ((mod2.obs_names, name2, "mod2.obs_names"), (solution.obs_names, source, "solution.obs_names")):
        stray = names.difference(mod1.obs_names)
        if len(stray):
            raise DanceInputError(
                f"{len(stray)} cell(s) of {what} are not cells of {name1} (e.g. {_examples(stray)}); {name1} must hold every cell",
                field=field,
            )

    split = v.require_split(mod1, keys, role="mod1")
    notes: dict[str, Any] = {}
    if split is None:
        # no split column: the cells of --data2 are the training cells, the solution's the test cells
        uncovered = mod1.obs_names.difference(mod2.obs_names.append(solution.obs_names))
        if len(uncovered):
            raise DanceInputError(
                f"{len(uncovered)} cell(s) of {name1} are neither in {name2} (training cells) nor in {source} (test cells) "
                f"(e.g. {_examples(uncovered)}); without mod1.obs['{keys.split_key}'] every cell must be in one of them",
                field="solution.obs_names",
            )
        mod1 = mod1.copy()
        is_train = mod1.obs_names.isin(mod2.obs_names)
        mod1.obs[keys.split_key] = pd.Categorical(np.where(is_train, "train", "test"), categories=["train", "test"])
        notes["split"] = (
            f"mod1.obs['{keys.split_key}'] made from the inputs: the {int(is_train.sum())} cells of {name2} train, the others test"
        )
    else:
        test = mod1.obs_names[(split == "test").to_numpy()]
        train = mod1.obs_names[(split == "train").to_numpy()]
        lacking = test.difference(solution.obs_names)
        if len(lacking):
            raise DanceInputError(
                f"{source} lacks {len(lacking)} of the {len(test)} test cells of {name1} (mod1.obs['{keys.split_key}'] == 'test'; "
                f"e.g. {_examples(lacking)}); it must hold {name2} of every test cell",
                field="solution.obs_names",
            )
        trained = solution.obs_names.intersection(train)
        if len(trained):
            raise DanceInputError(
                f"{len(trained)} cell(s) of {source} are training cells in mod1.obs['{keys.split_key}'] (e.g. {_examples(trained)}); "
                "the solution holds the test cells only",
                field="solution.obs_names",
            )
        untrained = train.difference(mod2.obs_names)
        if len(untrained):
            raise DanceInputError(
                f"{len(untrained)} training cell(s) of {name1} are not in {name2} (e.g. {_examples(untrained)}); "
                f"{name2} must hold every training cell",
                field="mod2.obs_names",
            )

    truth = solution[:, mod2.var_names]
    full = ad.concat([mod2, truth], join="inner", merge="first", uns_merge="first")
    full = full[mod1.obs_names].copy()
    full.var = mod2.var.copy()
    notes["solution"] = (
        f"{name2} of the {solution.n_obs} test cells taken from {source} next to the {mod2.n_obs} training cells; "
        "the hold-out hides them from the model and scores against them"
    )
    # mod1 is already a copy when a split column was added to it
    return Modalities(mod1.copy() if mod1 is data.mod1 else mod1, full, data.names), notes


# ---------------------------------------------------------------------- modality matching
def pairing_partners(matrix: Any, *, rows: str = "rows", columns: str = "columns", source: str = "the solution") -> np.ndarray:
    """The column paired with each row of a one-to-one pairing matrix (the challenge's ``*_sol``).

    Parameters
    ----------
    matrix
        Square, non-negative (dense or sparse); exactly one positive entry in every row and
        every column.
    rows, columns
        What the rows and columns are, for messages.
    source
        The solution's name, for messages.

    Returns
    -------
    numpy.ndarray
        ``partner[i]`` = the column paired with row ``i`` (a permutation).
    """
    m = sp.csr_matrix(matrix) if sp.issparse(matrix) else sp.csr_matrix(np.asarray(matrix))
    if m.shape[0] != m.shape[1]:
        raise DanceInputError(
            f"{source} has shape {m.shape}; a pairing of {rows} and {columns} is square (one partner each)", field="solution.X"
        )
    values = m.data
    if values.size and (not np.isfinite(values).all() or values.min() < 0):
        raise DanceInputError(f"{source} holds negative or non-finite values; a pairing matrix is 0 / 1", field="solution.X")
    positive = (m > 0).astype(np.int64)
    per_row = np.asarray(positive.sum(axis=1)).ravel()
    per_column = np.asarray(positive.sum(axis=0)).ravel()
    if (per_row != 1).any() or (per_column != 1).any():
        problems = []
        for counts, what in ((per_row, rows), (per_column, columns)):
            if (counts == 0).any():
                problems.append(f"{int((counts == 0).sum())} of its {what} have no partner")
            if (counts > 1).any():
                problems.append(f"{int((counts > 1).sum())} of its {what} have several")
        raise DanceInputError(f"{source} is not a one-to-one pairing: " + "; ".join(problems), field="solution.X")
    return np.asarray(m.argmax(axis=1)).ravel()


def _modality_matching(data: Modalities, solution: AnnData, keys: DataKeys, source: str) -> tuple[Modalities, dict[str, Any]]:
    from dance.core import validation as v
    from dance.core.containers import Modalities

    name1, name2 = data.names
    mod1, mod2 = data.mod1, data.mod2
    splits = []
    for adata, role in ((mod1, "mod1"), (mod2, "mod2")):
        split = v.require_split(adata, keys, role=role, need_test=True)
        if split is None:
            raise DanceInputError(
                f"{role}.obs['{keys.split_key}'] is missing: with --solution, matching takes the challenge form, in which both "
                f"modalities hold training and test cells marked 'train' / 'test' (--split-key names another column)",
                field=f"{role}.obs['{keys.split_key}']",
            )
        splits.append((split == "train").to_numpy())
    train1, train2 = splits
    names1, names2 = mod1.obs_names, mod2.obs_names
    _require_unique(names1, name1, "mod1.obs_names")
    _require_unique(names2[train2], f"the training cells of {name2}", "mod2.obs_names")
    _require_unique(names2[~train2], f"the test cells of {name2}", "mod2.obs_names")

    # training rows pair by name (the challenge gives them aligned)
    missing = names1[train1].difference(names2[train2])
    if len(missing) or train1.sum() != train2.sum():
        raise DanceInputError(
            f"the training cells of {name1} and {name2} must be the same cells: {len(missing)} of {name1}'s {int(train1.sum())} "
            f"training cells are not among {name2}'s {int(train2.sum())} (e.g. {_examples(missing)})",
            field="mod2.obs_names",
        )
    test1, test2 = names1[~train1], names2[~train2]
    if len(test1) != len(test2):
        raise DanceInputError(
            f"{name1} has {len(test1)} test cells and {name2} {len(test2)}; matching pairs them one to one", field="mod2.obs['split']"
        )
    expected = (len(test1), len(test2))
    if tuple(solution.shape) != expected:
        raise DanceInputError(
            f"{source} has shape {tuple(solution.shape)}; expected the pairing of the test cells, "
            f"{name1} test cells x {name2} test cells = {expected}",
            field="solution.X",
        )
    _require_unique(solution.obs_names, f"{source} (rows)", "solution.obs_names")
    _require_unique(solution.var_names, f"{source} (columns)", "solution.var_names")
    for axis_names, cells, what, field in (
        (solution.obs_names, test1, f"the test cells of {name1}", "solution.obs_names"),
        (solution.var_names, test2, f"the test cells of {name2}", "solution.var_names"),
    ):
        absent = cells.difference(axis_names)
        if len(absent):
            axis = "rows (obs_names)" if field.endswith("obs_names") else "columns (var_names)"
            raise DanceInputError(
                f"{source}'s {axis} must be {what}: {len(absent)} of them are not among its names (e.g. {_examples(absent)}; "
                f"its names e.g. {_examples(axis_names)})",
                field=field,
            )
    matrix = solution.X
    rows = solution.obs_names.get_indexer(test1)
    columns = solution.var_names.get_indexer(test2)
    matrix = (sp.csr_matrix(matrix) if sp.issparse(matrix) else np.asarray(matrix))[rows][:, columns]
    partner = pairing_partners(matrix, rows=f"{name1} test cells", columns=f"{name2} test cells", source=source)

    # mod2 rebuilt in mod1's order: training rows by name, test rows by the pairing
    positions = np.empty(mod1.n_obs, dtype=np.int64)
    train_rows2 = np.flatnonzero(train2)
    test_rows2 = np.flatnonzero(~train2)
    positions[train1] = train_rows2[pd.Index(names2[train2]).get_indexer(names1[train1])]
    positions[~train1] = test_rows2[partner]
    aligned = mod2[positions].copy()
    aligned.obs_names = names1
    notes = {
        "solution": (
            f"{len(test1)} test pairs of {source} used to align {name2}'s test cells with {name1}'s; "
            "the hold-out shuffles and hides the pairing again and scores against it"
        )
    }
    return Modalities(mod1.copy(), aligned, data.names), notes
