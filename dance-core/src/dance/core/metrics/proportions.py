"""Metrics of cell-type proportions: ``fn(true, predicted)`` on spots x types arrays."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["jensen_shannon_divergence"]


def _kl(p: np.ndarray, m: np.ndarray) -> np.ndarray:
    ratio = np.divide(p, m, out=np.ones_like(p), where=(p > 0) & (m > 0))
    return np.sum(np.where(p > 0, p * np.log2(ratio), 0.0), axis=1)


def jensen_shannon_divergence(true: Any, predicted: Any) -> float:
    """Mean Jensen-Shannon divergence (base 2, in [0, 1]) between each spot's distributions."""
    p = np.asarray(true, dtype=np.float64)
    q = np.asarray(predicted, dtype=np.float64)
    p = p / np.clip(p.sum(axis=1, keepdims=True), 1e-12, None)
    q = q / np.clip(q.sum(axis=1, keepdims=True), 1e-12, None)
    m = (p + q) / 2
    return float(np.mean(np.clip(0.5 * _kl(p, m) + 0.5 * _kl(q, m), 0.0, 1.0)))
