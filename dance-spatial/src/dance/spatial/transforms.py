"""Preprocessing transforms registered by dance-spatial (``fn(adata, **params) -> AnnData``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from dance.core.errors import DanceInputError

if TYPE_CHECKING:
    from anndata import AnnData

__all__ = ["drop_genes"]


def drop_genes(adata: AnnData, *, prefixes: tuple[str, ...] = ("ERCC", "MT-"), case_sensitive: bool = True) -> AnnData:
    """Drop genes whose name starts with one of ``prefixes`` (spike-ins, mitochondrial genes).

    SpaGCN's ``prefilter_specialgenes`` removes ``ERCC`` and ``MT-`` genes (case-sensitive);
    CARD removes ``mt-`` genes ignoring case.
    """
    names = adata.var_names.astype(str)
    if not case_sensitive:
        names = names.str.lower()
        prefixes = tuple(p.lower() for p in prefixes)
    keep = ~np.asarray(names.str.startswith(tuple(prefixes)), dtype=bool) if prefixes else np.ones(adata.n_vars, dtype=bool)
    if not keep.any():
        raise DanceInputError(f"drop_genes(prefixes={list(prefixes)}) removed every gene", field="var_names")
    if not keep.all():
        adata._inplace_subset_var(keep)
    return adata
