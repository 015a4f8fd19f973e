"""Regulatory inference from feature embeddings, as GLUE does it (Cao & Gao 2022, Nat Biotechnol
40:1458; ``scglue.genomics.regulatory_inference``): a gene and a peak linked in a guidance graph
(usually one built with a wide ``window``, e.g. 150 kb) are scored by the cosine similarity of their
embeddings, against a null of the same pairs with the embeddings' rows permuted."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd

from dance.core.errors import DanceInputError

if TYPE_CHECKING:
    from dance.multi.guidance_graph import GuidanceGraph

__all__ = ["regulatory_inference"]


def _unit_rows(x: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norm > 0, norm, 1.0)


def regulatory_inference(
    graph: GuidanceGraph,
    embeddings: np.ndarray | Sequence[np.ndarray],
    *,
    alternative: Literal["two-sided", "greater", "less"] = "two-sided",
    seed: int = 0,
) -> pd.DataFrame:
    """Score every gene -> feature link of ``graph`` by the cosine similarity of their embeddings.

    Parameters
    ----------
    graph
        The pairs to score: its forward (gene -> feature) edges.
    embeddings
        Feature embeddings, rows in the order of ``graph.features``; several (e.g. from models
        trained with different seeds) are averaged as scglue does: the score is the mean cosine
        similarity, and the null pools every embedding's permuted pairs.
    alternative
        Empirical p-values against the null: two-sided (scglue's default), or one-sided.
    seed
        Seed of the row permutations.

    Returns
    -------
    pandas.DataFrame
        ``gene``, ``peak``, ``distance``, ``score``, ``pval`` and Benjamini-Hochberg ``qval``,
        one row per link, in the graph's order.
    """
    from scipy.stats import false_discovery_control

    stacked = (
        [np.asarray(embeddings, dtype=np.float64)]
        if isinstance(embeddings, np.ndarray)
        else [np.asarray(e, dtype=np.float64) for e in embeddings]
    )
    for e in stacked:
        if e.ndim != 2 or e.shape[0] != len(graph.features):
            raise DanceInputError(
                f"feature embeddings must have one row per graph feature ({len(graph.features)}); got shape {e.shape}", field="embeddings"
            )
    forward = graph.kind == "fwd"
    source, target = graph.source[forward], graph.target[forward]
    if source.size == 0:
        raise DanceInputError("the guidance graph has no gene -> feature links to score", field="graph")
    rng = np.random.default_rng(seed)
    scores = np.zeros(source.size)
    null = []
    for e in stacked:
        unit = _unit_rows(e)
        scores += np.einsum("ij,ij->i", unit[source], unit[target]) / len(stacked)
        permuted = unit[rng.permutation(unit.shape[0])]
        null.append(np.einsum("ij,ij->i", permuted[source], permuted[target]))
    background = np.sort(np.concatenate(null))
    quantile = np.searchsorted(background, scores) / background.size
    if alternative == "two-sided":
        pval = 2 * np.minimum(quantile, 1 - quantile)
    elif alternative == "greater":
        pval = 1 - quantile
    else:
        pval = quantile
    names = np.asarray(graph.features, dtype=object)
    return pd.DataFrame(
        {
            "gene": names[source],
            "peak": names[target],
            "distance": graph.distance[forward],
            "score": scores,
            "pval": pval,
            "qval": false_discovery_control(np.clip(pval, 0, 1), method="bh"),
        }
    )
