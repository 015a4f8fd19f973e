"""Unbalanced entropic optimal transport between two point clouds and its barycentric map.

Shared by the ``ot`` model (cells to cells) and :mod:`centroid_ot` (centroids to centroids). The
transport plan comes from POT's unbalanced Sinkhorn (Chizat, Peyré, Schmitzer & Vialard 2018,
Math Comp 87:2563; POT: Flamary et al. 2021, JMLR 22:1), on torch tensors (so on a GPU when one is
given), and each source point is sent to the plan-weighted mean of the target points (the
barycentric projection, Seguy et al. 2018, ICLR), as in scBIOT.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

__all__ = ["UNKNOWN_LABELS", "OTResult", "barycentric_map", "encode_labels"]

#: label values taken as "no label" (scANVI's and scBIOT's conventions), compared case-insensitively
UNKNOWN_LABELS = frozenset({"", "nan", "none", "na", "unknown", "unlabeled", "unlabelled", "unk"})

OTMethod = Literal["sinkhorn", "sinkhorn_stabilized", "sinkhorn_translation_invariant"]

#: problems up to this many plan entries run in float64, larger ones in float32 (memory)
FLOAT64_LIMIT = 20_000_000


@dataclass
class OTResult:
    """Barycentric images of the source points and a few facts about the solve."""

    mapped: np.ndarray
    n_unmatched: int  # source points that received no mass (left in place)
    transported_mass: float  # total mass of the plan (1 = balanced)
    cost_scale: float  # the squared distance that the normalised cost divides by
    method: str


def encode_labels(values: Any) -> tuple[np.ndarray, list[str]]:
    """Integer codes of labels, ``-1`` for missing or unknown ones (see :data:`UNKNOWN_LABELS`)."""
    import pandas as pd

    series = pd.Series(np.asarray(values, dtype=object))
    text = series.astype(str).str.strip()
    unknown = series.isna().to_numpy() | text.str.lower().isin(UNKNOWN_LABELS).to_numpy()
    names = sorted(set(text[~unknown]))
    lookup = {name: i for i, name in enumerate(names)}
    codes = np.array([-1 if u else lookup[t] for t, u in zip(text, unknown, strict=True)], dtype=np.int64)
    return codes, names


def _torch_device(device: str | None) -> Any:
    import torch

    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def barycentric_map(
    source: np.ndarray,
    target: np.ndarray,
    *,
    source_mass: np.ndarray | None = None,
    target_mass: np.ndarray | None = None,
    reg: float = 0.05,
    reg_m: float = 1.0,
    source_labels: np.ndarray | None = None,
    target_labels: np.ndarray | None = None,
    label_penalty: float = 1.0,
    method: OTMethod = "sinkhorn_translation_invariant",
    max_iter: int = 1000,
    tol: float = 1e-6,
    device: str | None = "cpu",
) -> OTResult:
    """Map ``source`` points onto ``target`` by unbalanced entropic OT and barycentric projection.

    Parameters
    ----------
    source, target
        Points (n x d, m x d).
    source_mass, target_mass
        Non-negative masses (uniform when None); each is normalised to sum to 1.
    reg
        Entropic regularisation, relative to the cost, which is the squared Euclidean distance
        divided by its mass-weighted mean (so ``reg`` means the same at every scale).
    reg_m
        KL penalty on the marginals (``inf`` = balanced OT). Smaller values let cell-type
        proportions differ between the two sides.
    source_labels, target_labels
        Integer label codes (``-1`` = unlabelled). Pairs with two different known labels pay
        ``label_penalty`` (in units of the normalised cost) more: supervised OT.
    method
        POT's unbalanced Sinkhorn variant (the translation-invariant one of Séjourné et al. 2022,
        AISTATS, converges several times faster than the plain one to the same plan). A float32
        problem that underflows is solved again in float64.
    max_iter, tol
        Sinkhorn iterations and stopping threshold.
    device
        Torch device of the solve (``"auto"``: CUDA when present).
    """
    import torch

    n, m = source.shape[0], target.shape[0]
    if n == 0 or m == 0:
        return OTResult(np.asarray(source, dtype=np.float32).copy(), n, 0.0, 1.0, method)
    dev = _torch_device(device)
    dtype = torch.float64 if n * m <= FLOAT64_LIMIT else torch.float32
    xs = torch.as_tensor(np.ascontiguousarray(source), dtype=dtype, device=dev)
    xt = torch.as_tensor(np.ascontiguousarray(target), dtype=dtype, device=dev)
    a = torch.full((n,), 1.0 / n, dtype=dtype, device=dev) if source_mass is None else torch.as_tensor(source_mass, dtype=dtype, device=dev)
    b = torch.full((m,), 1.0 / m, dtype=dtype, device=dev) if target_mass is None else torch.as_tensor(target_mass, dtype=dtype, device=dev)
    a = a / a.sum()
    b = b / b.sum()
    with torch.no_grad():
        # squared distances without the (n, m, d) difference tensor
        cost = (xs * xs).sum(1)[:, None] + (xt * xt).sum(1)[None, :] - 2.0 * xs @ xt.T
        cost.clamp_(min=0.0)
        scale = float(a @ cost @ b)
        scale = scale if scale > 0 else 1.0
        cost /= scale
        if source_labels is not None and target_labels is not None and label_penalty > 0:
            ls = torch.as_tensor(np.asarray(source_labels), device=dev)
            lt = torch.as_tensor(np.asarray(target_labels), device=dev)
            differ = (ls[:, None] != lt[None, :]) & (ls[:, None] >= 0) & (lt[None, :] >= 0)
            cost += label_penalty * differ.to(dtype)
            del differ
        plan, used = _solve(a, b, cost, reg, reg_m, method, max_iter, tol)
        del cost
        row = plan.sum(1)
        mapped = (plan @ xt) / row.clamp_min(torch.finfo(dtype).tiny)[:, None]
        matched = torch.isfinite(mapped).all(1) & (row > 0)
        mapped = torch.where(matched[:, None], mapped, xs)
        mass = float(row.sum())
    return OTResult(
        mapped=mapped.cpu().numpy().astype(np.float32),
        n_unmatched=int((~matched).sum()),
        transported_mass=mass,
        cost_scale=scale,
        method=used,
    )


def _solve(a: Any, b: Any, cost: Any, reg: float, reg_m: float, method: str, max_iter: int, tol: float) -> tuple[Any, str]:
    """POT's unbalanced Sinkhorn; a float32 problem that underflows is solved again in float64."""
    import ot
    import torch

    for dtype in dict.fromkeys((cost.dtype, torch.float64)):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            plan = ot.unbalanced.sinkhorn_unbalanced(
                a.to(dtype), b.to(dtype), cost.to(dtype), reg, reg_m, method=method, reg_type="kl", numItermax=max_iter, stopThr=tol
            )
        failed = any("Numerical errors" in str(w.message) for w in caught) or not bool(torch.isfinite(plan).all())
        if not failed and float(plan.sum()) > 0:
            return plan.to(cost.dtype), f"{method} ({str(dtype).replace('torch.', '')})"
        del plan
    raise FloatingPointError(
        f"unbalanced Sinkhorn ({method}) failed numerically at reg={reg}, reg_m={reg_m}; use a larger reg (e.g. {reg * 2:g})"
    )
