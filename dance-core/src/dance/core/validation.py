"""Up-front checks of user data, each failing with a message that names the field.

Checks never modify their input. ``where`` arguments are the field as the user addresses it
(``"X"``, ``"layers['counts']"``, ``"mod2.obs['batch']"``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from dance.core.errors import DanceInputError

if TYPE_CHECKING:
    from anndata import AnnData

    from dance.core.keys import DataKeys

__all__ = [
    "check_finite",
    "check_nonempty",
    "check_same_cells",
    "counts_location",
    "counts_matrix",
    "require_batches",
    "require_labels",
    "require_named_keys",
    "require_obs",
    "require_obsm",
    "require_split",
]


def _prefix(role: str) -> str:
    return "" if role == "adata" else f"{role}."


def _values(matrix: Any) -> np.ndarray:
    if sp.issparse(matrix):
        return np.asarray(matrix.data)
    return np.asarray(matrix)


def check_nonempty(adata: AnnData, role: str = "adata") -> None:
    """Fail when there are no cells or no features."""
    if adata.n_obs == 0:
        raise DanceInputError(f"{_prefix(role)}X has no cells (0 rows); expected at least one cell", field=f"{_prefix(role)}X")
    if adata.n_vars == 0:
        raise DanceInputError(
            f"{_prefix(role)}X has no features (0 columns); expected at least one gene or feature", field=f"{_prefix(role)}X"
        )


def check_finite(matrix: Any, where: str) -> None:
    """Fail on NaN or infinite values, naming the first one."""
    values = _values(matrix)
    if values.dtype.kind not in "fc":
        return
    bad = ~np.isfinite(values)
    if bad.any():
        n_bad = int(bad.sum())
        kind = "NaN" if np.isnan(values[bad]).any() else "infinite"
        raise DanceInputError(f"{where} contains {n_bad} {kind} value(s); expected finite numbers (drop or impute them first)", field=where)


def counts_location(adata: AnnData, keys: DataKeys, role: str = "adata") -> str:
    """Where the raw counts are: ``layers['<counts_layer>']`` if present, else ``X``.

    Raises
    ------
    DanceInputError
        When the chosen matrix holds negative, non-integer or non-finite values.
    """
    if keys.counts_layer in adata.layers:
        where, matrix = f"layers['{keys.counts_layer}']", adata.layers[keys.counts_layer]
    else:
        where, matrix = "X", adata.X
    address = _prefix(role) + where
    check_finite(matrix, address)
    values = _values(matrix)
    if values.size and values.min() < 0:
        raise DanceInputError(
            f"{address} has negative values (min {values.min():.4g}); raw counts are required here "
            f"(non-negative integers in layers['{keys.counts_layer}'] or X; use --counts-layer to name another layer)",
            field=address,
        )
    if values.size and values.dtype.kind == "f":
        sample = values[: min(values.size, 200_000)]
        fractional = np.abs(sample - np.round(sample)) > 1e-6
        if fractional.any():
            example = sample[fractional][0]
            raise DanceInputError(
                f"{address} holds non-integer values (e.g. {example:.4g}); raw counts are required here "
                f"(put counts in layers['{keys.counts_layer}'] or use --counts-layer to name the layer that holds them)",
                field=address,
            )
    return where


def counts_matrix(adata: AnnData, keys: DataKeys, role: str = "adata") -> Any:
    """The validated raw-count matrix (not a copy)."""
    where = counts_location(adata, keys, role)
    return adata.X if where == "X" else adata.layers[keys.counts_layer]


def require_obs(adata: AnnData, key: str, *, role: str = "adata", what: str, option: str | None = None) -> pd.Series:
    """Return ``obs[key]``, or fail naming the column, what it should hold and how to choose another."""
    if key not in adata.obs.columns:
        available = ", ".join(map(str, adata.obs.columns[:15])) or "none"
        flag = f"; pass --{option.replace('_', '-')} to use another column" if option else ""
        raise DanceInputError(
            f"{_prefix(role)}obs['{key}'] is missing: expected {what} (available obs columns: {available}){flag}",
            field=f"{_prefix(role)}obs['{key}']",
        )
    return adata.obs[key]


def require_labels(
    adata: AnnData, keys: DataKeys, *, role: str = "adata", min_classes: int = 2, subset: np.ndarray | None = None
) -> pd.Series:
    """Return the label column, checking it has at least ``min_classes`` classes (among ``subset``)."""
    labels = require_obs(adata, keys.label_key, role=role, what="cell-type labels", option="label_key")
    considered = labels[subset] if subset is not None else labels
    n_classes = considered.dropna().nunique()
    if n_classes < min_classes:
        raise DanceInputError(
            f"{_prefix(role)}obs['{keys.label_key}'] has {n_classes} distinct label(s) where at least {min_classes} are needed",
            field=f"{_prefix(role)}obs['{keys.label_key}']",
        )
    return labels


def require_batches(adata: AnnData, keys: DataKeys, *, role: str = "adata") -> pd.Series:
    """Return the batch column: no missing values, at least two batches, none empty."""
    batch = require_obs(adata, keys.batch_key, role=role, what="the batch of each cell", option="batch_key")
    address = f"{_prefix(role)}obs['{keys.batch_key}']"
    if batch.isna().any():
        raise DanceInputError(f"{address} has {int(batch.isna().sum())} missing value(s); every cell needs a batch", field=address)
    if isinstance(batch.dtype, pd.CategoricalDtype):
        counts = batch.value_counts()
        empty = [str(c) for c, n in counts.items() if n == 0]
        if empty:
            raise DanceInputError(
                f"{address} declares batch(es) with no cells: {', '.join(empty[:10])}; remove unused categories or the empty batch",
                field=address,
            )
    n_batches = batch.nunique()
    if n_batches < 2:
        raise DanceInputError(
            f"{address} has {n_batches} batch ({', '.join(map(str, batch.unique()[:3]))}); integration needs at least 2 batches",
            field=address,
        )
    return batch


def require_obsm(adata: AnnData, key: str, *, role: str = "adata", what: str, min_cols: int = 1, option: str | None = None) -> np.ndarray:
    """Return ``obsm[key]`` as an array, checking it exists, is finite and has enough columns."""
    address = f"{_prefix(role)}obsm['{key}']"
    if key not in adata.obsm:
        available = ", ".join(adata.obsm.keys()) or "none"
        flag = f"; pass --{option.replace('_', '-')} to use another key" if option else ""
        raise DanceInputError(f"{address} is missing: expected {what} (available obsm keys: {available}){flag}", field=address)
    value = adata.obsm[key]
    array = value.to_numpy() if isinstance(value, pd.DataFrame) else np.asarray(value)
    if array.ndim != 2 or array.shape[1] < min_cols:
        raise DanceInputError(f"{address} has shape {array.shape}; expected {what} with at least {min_cols} columns", field=address)
    check_finite(array, address)
    return array


def require_split(adata: AnnData, keys: DataKeys, *, role: str = "adata", need_test: bool = False) -> pd.Series | None:
    """Return ``obs[split_key]`` if present, checking values are 'train'/'test' and train is non-empty."""
    if keys.split_key not in adata.obs.columns:
        return None
    split = adata.obs[keys.split_key].astype(str)
    address = f"{_prefix(role)}obs['{keys.split_key}']"
    stray = sorted(set(split.unique()) - {"train", "test"})
    if stray:
        raise DanceInputError(f"{address} has values {stray[:5]}; expected only 'train' and 'test'", field=address)
    if not (split == "train").any():
        raise DanceInputError(f"{address} marks no cell as 'train'; at least one training cell is needed", field=address)
    if need_test and not (split == "test").any():
        raise DanceInputError(f"{address} marks no cell as 'test'; evaluation needs test cells", field=address)
    return split


def check_same_cells(first: AnnData, second: AnnData, names: Sequence[str] = ("mod1", "mod2"), *, subset: np.ndarray | None = None) -> None:
    """Fail unless ``second`` holds exactly the cells of ``first`` (optionally of a subset), in order."""
    a = first.obs_names if subset is None else first.obs_names[subset]
    b = second.obs_names
    if len(a) == len(b) and bool((a == b).all()):
        return
    missing = a.difference(b)
    extra = b.difference(a)
    if len(missing) or len(extra):
        parts = []
        if len(missing):
            parts.append(f"{len(missing)} cell(s) of {names[0]} are not in {names[1]} (e.g. {', '.join(map(repr, missing[:3]))})")
        if len(extra):
            parts.append(f"{len(extra)} cell(s) of {names[1]} are not in {names[0]} (e.g. {', '.join(map(repr, extra[:3]))})")
        raise DanceInputError(
            f"{names[1]}.obs_names do not match {names[0]}.obs_names: " + "; ".join(parts) + "; paired modalities must hold the same cells",
            field=f"{names[1]}.obs_names",
        )
    raise DanceInputError(
        f"{names[1]}.obs_names hold the cells of {names[0]} in a different order; reorder with {names[1]} = {names[1]}[{names[0]}.obs_names]",
        field=f"{names[1]}.obs_names",
    )


#: where each data key of :class:`~dance.core.keys.DataKeys` points, and the CLI flag naming it
KEY_SLOTS = {
    "label_key": "obs",
    "batch_key": "obs",
    "split_key": "obs",
    "spatial_key": "obsm",
    "proportions_key": "obsm",
    "counts_layer": "layers",
}


def require_named_keys(data: Any, keys: DataKeys, *, named: Sequence[str] | Any) -> None:
    """Fail when a key the user named explicitly (``--label-key`` ...) is absent from every input.

    Only the keys in ``named`` are checked: the defaults may be absent (a task reads them only
    when present). The error lists what the input holds in that slot.
    """
    from dance.core.containers import roles_of

    roles = roles_of(data)
    for option in named:
        slot = KEY_SLOTS.get(option)
        if slot is None:
            continue
        key = getattr(keys, option)
        holdings = {role: list(adata.obs.columns if slot == "obs" else getattr(adata, slot).keys()) for role, adata in roles.items()}
        if any(key in names for names in holdings.values()):
            continue
        noun = "column" if slot == "obs" else "key"
        listing = "; ".join(
            f"{_prefix(role)}{slot} {noun}s: {', '.join(map(str, names[:20])) + (', ...' if len(names) > 20 else '') or 'none'}"
            for role, names in holdings.items()
        )
        flag = "--" + option.replace("_", "-")
        raise DanceInputError(f"{flag} '{key}': the input has no {slot} {noun} '{key}' ({listing})", field=f"{slot}['{key}']")
