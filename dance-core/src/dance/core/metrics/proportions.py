"""Metrics of cell-type proportions: ``fn(true, predicted)`` on spots x types arrays."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.spatial.distance import jensenshannon

__all__ = ["jensen_shannon_divergence"]


def jensen_shannon_divergence(true: Any, predicted: Any) -> float:
    """Mean Jensen-Shannon divergence (base 2, in [0, 1]) between each spot's distributions."""
    p = np.asarray(true, dtype=np.float64)
    q = np.asarray(predicted, dtype=np.float64)
    p = p / np.clip(p.sum(axis=1, keepdims=True), 1e-12, None)
    q = q / np.clip(q.sum(axis=1, keepdims=True), 1e-12, None)
    # scipy returns the JS *distance* (square root of the divergence)
    return float(np.mean(jensenshannon(p, q, axis=1, base=2) ** 2))
