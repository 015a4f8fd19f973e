"""Reference-to-query annotation: one annotation input from a labelled reference and a query.

``cell_type_annotation`` takes one AnnData whose training cells carry labels and whose test
cells are to be labelled (``obs['split']``). The everyday workflow gives two files instead: a
labelled *reference* and a *query* to annotate (``dance run cell_type_annotation --reference
ref.h5ad --data query.h5ad``). :func:`combine_reference_query` turns them into the one-AnnData
form, so the task's contract (validation, hold-out, scoring) applies unchanged:

* the reference cells are the training cells and the query cells the test cells
  (``obs[split_key]`` = ``train`` / ``test``, replacing any split column either file had);
* the labels are the reference's; the query's own labels, when it has any, are kept in the
  same column, and the contract's hold-out hides them from the model and scores against them;
* genes are those of both files, in the reference's order (at least :data:`MIN_SHARED_GENES`);
* the query keeps its cell names; reference cells whose names also occur in the query are
  renamed ``<name>-reference``;
* both files must hold expression on the same scale, because models log-normalise raw counts
  themselves: raw counts in one and normalised values in the other is refused unless both have
  raw counts somewhere (``X`` or ``layers[counts_layer]``), in which case both are taken from
  their raw counts.

The caller writes only the query cells (the returned mask) to the output.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from dance.core.errors import DanceInputError

if TYPE_CHECKING:
    from anndata import AnnData

    from dance.core.keys import DataKeys

__all__ = ["MIN_SHARED_GENES", "combine_reference_query", "expression_scale"]

#: fewer shared genes than this almost always means the files name genes differently
MIN_SHARED_GENES = 50

#: a suffix for reference cells whose names also occur in the query
REFERENCE_SUFFIX = "-reference"


def expression_scale(matrix: Any) -> str:
    """What a matrix holds: ``"raw counts"``, ``"normalised values"`` or ``"scaled values"``.

    Raw counts are non-negative integers; scaled values have negatives (centred data);
    anything else non-negative is taken as normalised. A sample of up to 200,000 stored values
    decides, as in :func:`dance.core.validation.counts_location`.
    """
    values = np.asarray(matrix.data if sp.issparse(matrix) else matrix).ravel()[:200_000]
    if values.size == 0:
        return "raw counts"
    if values.dtype.kind in "fc":
        finite = values[np.isfinite(values)]
        if finite.size and finite.min() < 0:
            return "scaled values"
        if (np.abs(finite - np.round(finite)) > 1e-6).any():
            return "normalised values"
        return "raw counts"
    return "scaled values" if values.min() < 0 else "raw counts"


def _labels_as_strings(values: pd.Series) -> np.ndarray:
    # labels may be integers or categories; compare them as strings, keep missing ones missing
    out = np.full(len(values), None, dtype=object)
    present = values.notna().to_numpy()
    out[present] = values[present].astype(str).to_numpy()
    return out


def _check_unique_genes(adata: AnnData, who: str) -> None:
    names = adata.var_names
    if not names.is_unique:
        duplicated = names[names.duplicated()].unique()
        raise DanceInputError(
            f"the {who} has {len(duplicated)} duplicated gene name(s) in var_names (e.g. {', '.join(map(repr, duplicated[:3]))}); "
            "make them unique first (adata.var_names_make_unique())",
            field=f"{who.split(' ', 1)[0]}.var_names",
        )


def _counts_or_none(adata: AnnData, keys: DataKeys, genes: pd.Index) -> Any:
    """Raw counts over ``genes`` (the counts layer, else an integer X), or None."""
    subset = adata[:, genes]
    if keys.counts_layer in adata.layers:
        layer = subset.layers[keys.counts_layer]
        return layer if expression_scale(layer) == "raw counts" else None
    return subset.X if expression_scale(subset.X) == "raw counts" else None


def _stack(first: Any, second: Any) -> Any:
    if sp.issparse(first) or sp.issparse(second):
        return sp.vstack([sp.csr_matrix(first), sp.csr_matrix(second)], format="csr")
    return np.vstack([np.asarray(first), np.asarray(second)])


def combine_reference_query(
    reference: AnnData,
    query: AnnData,
    keys: DataKeys,
    *,
    names: tuple[str, str] = ("reference", "query"),
) -> tuple[AnnData, np.ndarray, dict[str, Any]]:
    """One annotation input: reference cells for training, query cells to annotate.

    Parameters
    ----------
    reference
        Labelled cells (``obs[keys.label_key]``), at least two cell types.
    query
        Cells to annotate; ``obs[keys.label_key]``, when present, is the truth they are scored
        against (and is hidden from the model by the task's hold-out).
    keys
        The data keys of the run (label column, split column, counts layer).
    names
        How to call the two inputs in messages (e.g. ``"reference (ref.h5ad)"``).

    Returns
    -------
    combined : AnnData
        Reference cells then query cells, over the shared genes; ``obs[keys.split_key]``
        ``train`` / ``test``; ``obs[keys.label_key]`` the reference labels and the query's
        labels (missing where the query has none); the query's other obs columns.
    query_rows : numpy.ndarray
        Boolean mask of the query cells in ``combined``.
    notes : dict
        What was done (cells, genes kept and dropped, renamed cells), for the run's record.

    Raises
    ------
    DanceInputError
        When the reference has no labels (or fewer than two types), the files share fewer than
        :data:`MIN_SHARED_GENES` genes, a file has duplicated gene names, or one file holds
        raw counts and the other normalised values with no raw counts to fall back on.
    """
    from anndata import AnnData

    ref_name, query_name = names
    label = keys.label_key
    if label not in reference.obs.columns:
        available = ", ".join(map(str, reference.obs.columns[:15])) or "none"
        raise DanceInputError(
            f"the {ref_name} has no obs['{label}']: annotation trains on the reference's cell-type labels "
            f"(its obs columns: {available}); pass --label-key to name the label column",
            field=f"reference.obs['{label}']",
        )
    ref_labels = _labels_as_strings(reference.obs[label])
    n_types = len({v for v in ref_labels if v is not None})
    if n_types < 2:
        raise DanceInputError(
            f"the {ref_name}'s obs['{label}'] has {n_types} labelled cell type(s); annotation needs at least 2",
            field=f"reference.obs['{label}']",
        )
    _check_unique_genes(reference, ref_name)
    _check_unique_genes(query, query_name)

    genes = reference.var_names[reference.var_names.isin(query.var_names)]
    if len(genes) < MIN_SHARED_GENES:
        raise DanceInputError(
            f"the {ref_name} ({reference.n_vars} genes) and the {query_name} ({query.n_vars} genes) share {len(genes)} gene name(s); "
            f"at least {MIN_SHARED_GENES} are needed. Name genes the same way in both files (both gene symbols or both Ensembl IDs; "
            f"e.g. reference {reference.var_names[0]!r}, query {query.var_names[0]!r})",
            field="var_names",
        )

    notes: dict[str, Any] = {
        "reference_query": f"{reference.n_obs} reference cells trained on, {query.n_obs} query cells annotated",
        "genes": (
            f"{len(genes)} genes shared by the reference ({reference.n_vars}) and the query ({query.n_vars}) kept; "
            f"{reference.n_vars - len(genes)} reference-only and {query.n_vars - len(genes)} query-only genes dropped"
        ),
    }

    # expression on one scale: models log-normalise raw counts themselves, so normalised values
    # next to raw counts would put the two files on different scales without any error
    ref_x, query_x = reference[:, genes].X, query[:, genes].X
    ref_scale, query_scale = expression_scale(ref_x), expression_scale(query_x)
    ref_counts, query_counts = _counts_or_none(reference, keys, genes), _counts_or_none(query, keys, genes)
    both_counts = ref_counts is not None and query_counts is not None
    if ref_scale != query_scale:
        if not both_counts:
            missing = [n for n, counts in ((ref_name, ref_counts), (query_name, query_counts)) if counts is None]
            raise DanceInputError(
                f"the {ref_name} holds {ref_scale} in X and the {query_name} holds {query_scale} in X, and the "
                f"{' and the '.join(missing)} has no raw counts in layers['{keys.counts_layer}']; models log-normalise raw counts "
                f"themselves, so both files must be on the same scale: give both raw counts (in X or layers['{keys.counts_layer}'], "
                f"--counts-layer names another layer) or both normalised values",
                field="X",
            )
        x = _stack(ref_counts, query_counts)
        notes["expression"] = f"X held {ref_scale} in the reference and {query_scale} in the query; both taken from their raw counts"
    else:
        x = _stack(ref_x, query_x)
    # a counts layer is kept when a file had one and both have raw counts (a layer, or an integer X)
    layers: dict[str, Any] = {}
    with_layer = [n for n, a in ((ref_name, reference), (query_name, query)) if keys.counts_layer in a.layers]
    if with_layer and both_counts:
        layers[keys.counts_layer] = _stack(ref_counts, query_counts)
    elif with_layer:
        notes["counts"] = f"layers['{keys.counts_layer}'] of the {with_layer[0]} not used: the other file has no raw counts"

    # the query keeps its names (they are the output's); colliding reference names are renamed
    ref_index = pd.Index(reference.obs_names.astype(str))
    query_index = pd.Index(query.obs_names.astype(str))
    clash = ref_index.isin(query_index)
    if clash.any():
        taken = set(query_index) | set(ref_index)
        renamed = []
        for name in ref_index[clash]:
            candidate, k = f"{name}{REFERENCE_SUFFIX}", 1
            while candidate in taken:
                k += 1
                candidate = f"{name}{REFERENCE_SUFFIX}{k}"
            taken.add(candidate)
            renamed.append(candidate)
        values = ref_index.to_numpy(dtype=object)
        values[clash] = renamed
        ref_index = pd.Index(values)
        notes["cell_names"] = f"{int(clash.sum())} reference cell name(s) also in the query renamed '<name>{REFERENCE_SUFFIX}'"

    # obs: the query's columns (they are what the output shows), the labels and the split;
    # reference-only columns would be empty for every query cell, so they are left out
    replaced = [n for n, a in ((ref_name, reference), (query_name, query)) if keys.split_key in a.obs.columns]
    if replaced:
        notes["split"] = f"obs['{keys.split_key}'] of the {' and the '.join(replaced)} replaced: reference cells train, query cells test"
    query_obs = query.obs.drop(columns=[c for c in (label, keys.split_key) if c in query.obs.columns]).copy()
    query_obs.index = query_index
    ref_obs = pd.DataFrame(index=ref_index)
    obs = pd.concat([ref_obs, query_obs], axis=0, join="outer")
    query_labels = _labels_as_strings(query.obs[label]) if label in query.obs.columns else np.full(query.n_obs, None, dtype=object)
    obs[label] = pd.Categorical(np.concatenate([ref_labels, query_labels]))
    obs[keys.split_key] = pd.Categorical(["train"] * reference.n_obs + ["test"] * query.n_obs, categories=["train", "test"])

    n_labelled = sum(v is not None for v in query_labels)
    if n_labelled == 0:
        notes["metrics"] = f"the query has no labels in obs['{label}']: its cells are annotated, nothing is scored"
    elif n_labelled < query.n_obs:
        notes["scored_cells"] = f"{n_labelled} of {query.n_obs} query cells have a label and are scored"

    combined = AnnData(X=x, obs=obs, var=reference.var.loc[genes].copy(), layers=layers)
    query_rows = np.concatenate([np.zeros(reference.n_obs, dtype=bool), np.ones(query.n_obs, dtype=bool)])
    return combined, query_rows, notes
