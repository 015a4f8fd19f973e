"""Harmony: soft k-means with a diversity penalty and a linear mixture-of-experts correction.

Korsunsky I, Millard N, Fan J, et al. (2019) Fast, sensitive and accurate integration of
single-cell data with Harmony. Nat Methods 16:1289-1296.

:func:`harmonize` is the algorithm on an embedding (cells x PCs) and a batch label per cell;
:class:`Harmony` is the dance model around it. The algorithm follows the current reference
implementations step by step (the R package harmony >= 1.0 "harmony2" and harmonypy >= 2, which
follows it), in vectorised torch (CPU or GPU):

1. Cosine-normalise the cells, initialise ``K = min(round(N / 30), 100)`` centroids by k-means++
   and 10 Lloyd iterations (as harmonypy's Python implementation: scipy's ``kmeans2`` with
   ``minit="++"`` and its default 10 iterations).
2. Clustering: soft assignments ``R`` (cells x clusters) from the distances ``2 (1 - z.y)``
   with bandwidth ``sigma`` (entropy regularisation), then ``max_iter_kmeans`` rounds that
   revisit the cells in random blocks of ``block_size * N`` and multiply each cell's
   assignment by the diversity penalty ``((2 E + 1) / (O + E + 1)) ** theta`` of its batch,
   where ``O`` (observed) and ``E`` (expected) are the soft batch counts of each cluster.
3. Correction: per cluster ``k``, a ridge regression of the *original* embedding on an intercept
   and the one-hot batch, weighted by ``R[:, k]`` (penalty ``lambda = alpha * E[k, b]`` when
   ``lamb`` is None, else ``lamb``). The batch terms weighted by ``R`` are subtracted from the
   original embedding; the intercepts become the new centroids.
4. Repeat 2-3 until the objective changes by less than ``epsilon_harmony`` (relative) or
   ``max_iter_harmony`` rounds.

Implementation notes (same mathematics, less work):

* The kernel ``softmax(-dist / sigma)`` does not change within one clustering step (the
  centroids are fixed there), so it is computed once per Harmony iteration instead of once per
  block and round.
* The objective (distance + entropy + cross-entropy) is accumulated from per-block quantities:
  for ``R = S * p / c`` (kernel ``S``, penalty ``p``, normaliser ``c``) the distance and entropy
  terms reduce to ``sigma * sum(R * (log p - log Z - log c))``, so no ``log`` of the full
  cells x clusters matrix is taken.
* Cells are stored sorted by batch, so per-batch sums and the correction are dense matrix
  products on contiguous slices; the ridge systems of all clusters are solved at once.
* On the CPU the cells x clusters work (nearest-centroid search, kernel, block updates) runs in
  cache-sized chunks of rows, and the block updates and grouped sums are spread over torch's
  threads with partial sums added in a fixed order (thread count does not change the result).
* Random draws (k-means++ seeds, block order) come from a seeded ``torch.Generator``; they differ
  from harmonypy's Mersenne twister, so results agree with harmonypy statistically (per-PC
  correlation > 0.99 on harmonypy's own test data), not bit for bit.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import Field

from dance.core.tasks.batch_integration import BatchIntegrationModel
from dance.single.batch_integration.input_embedding import EmbeddingInput, embedding_pipeline, input_embedding

if TYPE_CHECKING:
    import torch

    from dance.core.transforms.pipeline import Step

__all__ = ["Harmony", "HarmonyResult", "harmonize"]


#: run the block updates with torch on the CPU too (they use NumPy views there; tests flip this to
#: check that the torch path, the one GPUs take, gives the same result)
_TORCH_BLOCK_UPDATES = False

#: rows per sub-chunk of a block in the CPU block updates (a 50,000-cell block of 100 clusters is
#: 20 MB; chunks of 8,192 rows stay in cache through gather, penalty, normalisation and scatter)
_BLOCK_CHUNK = 8192


@dataclass
class HarmonyResult:
    """Output of :func:`harmonize`.

    Attributes
    ----------
    embedding
        Corrected embedding, cells x dims, in the input's cell order.
    centroids
        Cluster centroids (clusters x dims, unit length) of the last iteration.
    assignments
        Soft cluster assignments (cells x clusters), when requested.
    objective_harmony
        Objective after the initialisation and after each Harmony iteration.
    objective_kmeans
        Objective after each clustering round.
    n_iterations
        Harmony iterations run.
    converged
        Whether the objective converged before ``max_iter_harmony``.
    """

    embedding: np.ndarray
    centroids: np.ndarray
    assignments: np.ndarray | None = None
    objective_harmony: list[float] = field(default_factory=list)
    objective_kmeans: list[float] = field(default_factory=list)
    n_iterations: int = 0
    converged: bool = False


@contextmanager
def _torch_threads(n: int | None) -> Iterator[None]:
    """Run with ``n`` torch CPU threads (None: unchanged), restoring the previous setting."""
    import torch

    previous = torch.get_num_threads()
    if n is not None and n != previous:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        if torch.get_num_threads() != previous:
            torch.set_num_threads(previous)


def _sums_by_code(values: torch.Tensor, codes: torch.Tensor, n_codes: int) -> torch.Tensor:
    """Row sums of ``values`` grouped by ``codes`` (``n_codes`` x columns, float64).

    torch's CPU ``index_add_`` is fast on one thread and pathologically slow on several, so on the
    CPU each of torch's threads runs a single-threaded ``index_add_`` on its own slice of rows (torch
    releases the GIL there) and the partial sums are added in slice order (deterministic).
    """
    import torch

    if values.device.type != "cpu":
        out = torch.zeros((n_codes, values.shape[1]), dtype=values.dtype, device=values.device)
        return out.index_add_(0, codes, values).double()
    threads = torch.get_num_threads() if values.shape[0] >= 131072 else 1
    bounds = np.linspace(0, values.shape[0], threads + 1).astype(int)

    def part(i: int) -> torch.Tensor:
        out = torch.zeros((n_codes, values.shape[1]), dtype=values.dtype)
        return out.index_add_(0, codes[bounds[i] : bounds[i + 1]], values[bounds[i] : bounds[i + 1]])

    with _torch_threads(1):
        if threads == 1:
            parts = [part(0)]
        else:
            with ThreadPoolExecutor(max_workers=threads) as pool:
                parts = list(pool.map(part, range(threads)))
    total = parts[0].double()
    for extra in parts[1:]:
        total += extra.double()
    return total


def _factorize(labels: np.ndarray) -> np.ndarray:
    """Integer code of each label, numbering the distinct labels in sorted order."""
    import pandas as pd

    codes, _ = pd.factorize(pd.Series(labels).astype(str), sort=True)
    return codes.astype(np.int64)


#: rows per chunk of the cells x clusters products on the CPU: a chunk's scores stay in cache
#: between the product and the reduction that follows (nearest-centroid assignment at 1M cells x
#: 100 clusters: 0.20 s per Lloyd step instead of 0.41 s unchunked on 2 cores)
_CPU_CHUNK = 16384


def _nearest_centroid(x: torch.Tensor, centroids: torch.Tensor) -> torch.Tensor:
    """Index of the nearest centroid (squared Euclidean) of every row of ``x``."""
    import torch

    bias = (centroids * centroids).sum(1)[None, :]
    step = _CPU_CHUNK if x.device.type == "cpu" else max(x.shape[0], 1)
    out = torch.empty(x.shape[0], dtype=torch.long, device=x.device)
    for start in range(0, x.shape[0], step):
        out[start : start + step] = torch.addmm(bias, x[start : start + step], centroids.T, alpha=-2.0).argmin(1)
    return out


def _kmeans_centroids(x: torch.Tensor, k: int, rng: np.random.Generator, n_iter: int = 10) -> torch.Tensor:
    """k-means++ seeding (Arthur & Vassilvitskii 2007) followed by at most ``n_iter`` Lloyd steps."""
    import torch

    n = x.shape[0]
    squared = (x * x).sum(1)
    centroids = torch.empty((k, x.shape[1]), dtype=x.dtype, device=x.device)
    centroids[0] = x[int(rng.integers(n))]
    closest = torch.full((n,), float("inf"), dtype=x.dtype, device=x.device)
    with _torch_threads(1 if x.device.type == "cpu" else None):  # K sequential steps: threads only add barriers
        for j in range(1, k):
            c = centroids[j - 1]
            distance = torch.addmv(squared + (c * c).sum(), x, c, alpha=-2.0).clamp_min_(0)
            torch.minimum(closest, distance, out=closest)
            cumulative = torch.cumsum(closest, 0, dtype=torch.float64)
            total = float(cumulative[-1])
            if total > 0:
                target = torch.tensor([rng.random() * total], dtype=torch.float64, device=x.device)
                pick = int(min(int(torch.searchsorted(cumulative, target, right=True)), n - 1))
            else:
                pick = int(rng.integers(n))
            centroids[j] = x[pick]
            closest[pick] = 0
    for _ in range(n_iter):
        assign = _nearest_centroid(x, centroids)
        sums = _sums_by_code(x, assign, k).to(x.dtype)
        counts = torch.bincount(assign, minlength=k).to(x.dtype)
        empty = counts == 0
        updated = sums / counts.clamp_min(1)[:, None]
        if bool(empty.any()):
            refill = torch.from_numpy(rng.integers(n, size=int(empty.sum()))).to(x.device)
            updated[empty] = x[refill]
        change = float(torch.linalg.norm(updated - centroids))
        centroids = updated
        if change < 1e-6:
            break
    return centroids


def harmonize(
    embedding: Any,
    batch: Any,
    *,
    theta: float = 2.0,
    sigma: float = 0.1,
    n_clusters: int | None = None,
    lamb: float | None = None,
    alpha: float = 0.2,
    tau: float = 0.0,
    block_size: float = 0.05,
    max_iter_harmony: int = 10,
    max_iter_kmeans: int = 4,
    epsilon_cluster: float = 1e-3,
    epsilon_harmony: float = 1e-2,
    batch_prop_cutoff: float = 1e-5,
    seed: int = 0,
    device: str = "cpu",
    return_assignments: bool = False,
    progress: bool = False,
    n_threads: int | None = None,
) -> HarmonyResult:
    """Integrate an embedding with Harmony (Korsunsky et al. 2019).

    Parameters
    ----------
    embedding
        Cells x dims (e.g. PCs); not modified.
    batch
        Batch label of each cell (at least two distinct labels).
    theta
        Diversity penalty (0: plain soft k-means, no push towards mixed clusters).
    sigma
        Bandwidth of the soft k-means kernel (entropy weight).
    n_clusters
        Clusters ``K``; ``min(round(N / 30), 100)`` when None.
    lamb
        Ridge penalty of the batch terms; None estimates it per cluster as ``alpha * E``.
    alpha
        Scale of the estimated ridge penalty.
    tau
        Protection against over-clustering small batches (``theta * (1 - exp(-(N_b / (K tau))^2))``).
    block_size
        Fraction of cells updated together in a clustering round.
    max_iter_harmony, max_iter_kmeans
        Maximum Harmony iterations and clustering rounds per iteration.
    epsilon_cluster, epsilon_harmony
        Relative objective changes that stop the clustering and the Harmony loop.
    batch_prop_cutoff
        A batch takes part in a cluster's regression only when its soft count in the cluster is
        above this fraction of its cells.
    seed
        Seed of the k-means++ seeding and of the block order.
    device
        torch device of the computation.
    return_assignments
        Also return the soft assignments ``R``.
    progress
        Show a progress bar over Harmony iterations.
    n_threads
        torch CPU threads; None keeps torch's setting, except one thread for small problems
        (cells x clusters below 2 million), where thread start-up costs more than it saves.

    Returns
    -------
    HarmonyResult
    """
    import torch

    n_cells = int(np.shape(embedding)[0])
    if n_threads is None and n_cells * min(max(round(n_cells / 30), 1), 100) < 2_000_000:
        n_threads = 1
    with _torch_threads(n_threads):
        return _harmonize(
            embedding,
            batch,
            theta=theta,
            sigma=sigma,
            n_clusters=n_clusters,
            lamb=lamb,
            alpha=alpha,
            tau=tau,
            block_size=block_size,
            max_iter_harmony=max_iter_harmony,
            max_iter_kmeans=max_iter_kmeans,
            epsilon_cluster=epsilon_cluster,
            epsilon_harmony=epsilon_harmony,
            batch_prop_cutoff=batch_prop_cutoff,
            seed=seed,
            device=device,
            return_assignments=return_assignments,
            progress=progress,
            torch=torch,
        )


def _harmonize(
    embedding: Any,
    batch: Any,
    *,
    theta: float,
    sigma: float,
    n_clusters: int | None,
    lamb: float | None,
    alpha: float,
    tau: float,
    block_size: float,
    max_iter_harmony: int,
    max_iter_kmeans: int,
    epsilon_cluster: float,
    epsilon_harmony: float,
    batch_prop_cutoff: float,
    seed: int,
    device: str,
    return_assignments: bool,
    progress: bool,
    torch: Any,
) -> HarmonyResult:
    from tqdm.auto import tqdm

    z_input = np.asarray(embedding, dtype=np.float32)
    if z_input.ndim != 2:
        raise ValueError(f"embedding must be cells x dims; got shape {z_input.shape}")
    labels = np.asarray(batch)
    if labels.shape[0] != z_input.shape[0]:
        raise ValueError(f"{labels.shape[0]} batch labels for {z_input.shape[0]} cells")
    codes = _factorize(labels)
    n, dims = z_input.shape
    n_batches = int(codes.max()) + 1
    if n_batches < 2:
        raise ValueError("Harmony needs at least two batches")
    k = int(n_clusters) if n_clusters is not None else int(min(round(n / 30.0), 100))
    k = max(1, min(k, n))

    dev = torch.device(device)
    dtype = torch.float32
    rng = np.random.default_rng(seed)

    # cells sorted by batch: every per-batch operation is a contiguous slice
    order = np.argsort(codes, kind="stable")
    sizes_np = np.bincount(codes, minlength=n_batches)
    bounds = np.concatenate([[0], np.cumsum(sizes_np)]).tolist()
    codes_sorted = torch.from_numpy(codes[order].astype(np.int64)).to(dev)
    z = torch.from_numpy(z_input[order]).to(dev)
    sizes = torch.from_numpy(sizes_np.astype(np.float64)).to(dev)
    pr_b = sizes / n
    theta_b = torch.full((n_batches,), float(theta), dtype=torch.float64, device=dev)
    if tau > 0:
        theta_b = theta_b * (1 - torch.exp(-((sizes / (k * tau)) ** 2)))
    norm_const = 2000.0 / n

    def cosine(x: torch.Tensor) -> torch.Tensor:
        return x / torch.linalg.norm(x, dim=1, keepdim=True).clamp_min(1e-12)

    z_cos = cosine(z)
    centroids = cosine(_kmeans_centroids(z_cos, k, rng))

    objective_kmeans: list[float] = []
    objective_harmony: list[float] = []
    scale = 2.0 / sigma

    def batch_sums(matrix: torch.Tensor) -> torch.Tensor:
        """Per-batch column sums (batches x columns) of a batch-sorted cells x columns matrix."""
        return torch.stack([matrix[bounds[b] : bounds[b + 1]].sum(0, dtype=torch.float64) for b in range(n_batches)])

    def cross_entropy(observed: torch.Tensor, expected: torch.Tensor) -> float:
        # sum_i sigma R_ik theta_b(i) log((O + E + 1) / (2 E + 1))_k,b(i), with O = sum_{i in b} R_ik
        ratio = torch.log((observed + expected + 1) / (2 * expected + 1))
        return float(sigma * (theta_b[:, None] * ratio * observed).sum())

    def kernel() -> tuple[torch.Tensor, torch.Tensor]:
        """softmax(-dist / sigma) over clusters, and log of its normaliser (with dist = 2 (1 - z.y))."""
        step = _CPU_CHUNK if dev.type == "cpu" else n
        probabilities = torch.empty((n, k), dtype=dtype, device=dev)
        log_norm = torch.empty(n, dtype=dtype, device=dev)
        for start in range(0, n, step):
            logits = probabilities[start : start + step]
            torch.mm(z_cos[start : start + step], centroids.T, out=logits)
            logits.mul_(scale)
            log_norm[start : start + step] = torch.logsumexp(logits, dim=1)
            logits.sub_(log_norm[start : start + step, None]).exp_()
        return probabilities, log_norm - scale

    n_blocks = math.ceil(1.0 / block_size)
    per_block = max(1, int(n * block_size))
    block_starts = [min(i * per_block, n) for i in range(n_blocks)] + [n]
    block_of_rank = torch.from_numpy(np.minimum(np.arange(n) // per_block, n_blocks - 1)).to(dev)

    def update_blocks(
        s: torch.Tensor, r: torch.Tensor, log_norm: torch.Tensor, perm: torch.Tensor, observed: torch.Tensor, old_sums: torch.Tensor
    ) -> float:
        """One clustering round: update the cells block by block (``r`` and ``observed`` in place)."""
        partial = 0.0
        for i in range(n_blocks):
            lo, hi = block_starts[i], block_starts[i + 1] if i < n_blocks - 1 else n
            if lo >= hi:
                continue
            # sorted block indices: cells are stored batch-sorted, so gathers are monotonic
            idx = torch.sort(perm[lo:hi]).values
            b_idx = codes_sorted[idx]
            observed -= old_sums[i]
            expected = pr_b[:, None] * observed.sum(0)[None, :]
            log_penalty = theta_b[:, None] * torch.log((2 * expected + 1) / (observed + expected + 1))
            new = s[idx]
            new.mul_(torch.exp(log_penalty).to(dtype)[b_idx])
            total = new.sum(1)
            new.div_(total[:, None])
            new_sums = _sums_by_code(new, b_idx, n_batches)
            observed += new_sums
            r[idx] = new
            partial += sigma * (float((log_penalty * new_sums).sum()) - float((log_norm[idx] + torch.log(total)).sum(dtype=torch.float64)))
        return partial

    # the CPU block updates use as many threads as torch may (harmonize sets that), on sub-chunks;
    # shut down after the Harmony loop below
    block_threads = torch.get_num_threads() if dev.type == "cpu" else 1
    pool = ThreadPoolExecutor(max_workers=block_threads) if block_threads > 1 and n > _BLOCK_CHUNK else None
    codes_np = codes_sorted.cpu().numpy()
    theta_np = theta_b.cpu().numpy()
    pr_np = pr_b.cpu().numpy()

    def update_blocks_numpy(
        s: torch.Tensor, r: torch.Tensor, log_norm: torch.Tensor, perm: torch.Tensor, observed: torch.Tensor, old_sums: torch.Tensor
    ) -> float:
        """:func:`update_blocks` on the CPU with NumPy views (row gathers / scatters are plain row
        copies there, several times faster than torch's indexing). Each block is processed in
        sub-chunks of rows that stay in cache from the gather to the scatter, spread over
        ``block_threads`` threads (NumPy releases the GIL in these loops); the per-chunk sums are
        added in a fixed order, so the result does not depend on the thread count."""
        s_np, r_np, log_norm_np, perm_np = s.numpy(), r.numpy(), log_norm.numpy(), perm.cpu().numpy()
        observed_np, old_np = observed.numpy(), old_sums.numpy()  # views: updated in place
        batch_ids = np.arange(n_batches + 1)

        def update_rows(idx: np.ndarray, penalty: np.ndarray) -> tuple[np.ndarray, float]:
            # idx is sorted and storage is batch-sorted, so the rows come grouped by batch
            segment = np.searchsorted(codes_np[idx], batch_ids)
            present = np.flatnonzero(segment[1:] > segment[:-1])
            new = np.take(s_np, idx, axis=0)
            for b in present:
                new[segment[b] : segment[b + 1]] *= penalty[b]
            total = new.sum(1)
            new /= total[:, None]
            sums = np.zeros((n_batches, k))
            sums[present] = np.add.reduceat(new, segment[present], axis=0)
            r_np[idx] = new
            return sums, float(np.take(log_norm_np, idx).sum(dtype=np.float64) + np.log(total).sum(dtype=np.float64))

        partial = 0.0
        for i in range(n_blocks):
            lo, hi = block_starts[i], block_starts[i + 1] if i < n_blocks - 1 else n
            if lo >= hi:
                continue
            idx = np.sort(perm_np[lo:hi])
            observed_np -= old_np[i]
            expected = pr_np[:, None] * observed_np.sum(0)[None, :]
            log_penalty = theta_np[:, None] * np.log((2 * expected + 1) / (observed_np + expected + 1))
            penalty = np.exp(log_penalty).astype(np.float32)
            chunks = [idx[a : a + _BLOCK_CHUNK] for a in range(0, len(idx), _BLOCK_CHUNK)]
            if pool is None or len(chunks) == 1:
                results = [update_rows(chunk, penalty) for chunk in chunks]
            else:
                results = list(pool.map(update_rows, chunks, [penalty] * len(chunks)))
            new_sums = np.zeros((n_batches, k))
            log_terms = 0.0
            for sums, log_term in results:
                new_sums += sums
                log_terms += log_term
            observed_np += new_sums
            partial += sigma * (float((log_penalty * new_sums).sum()) - log_terms)
        return partial

    def cluster(state: dict[str, Any]) -> None:
        s, log_norm = kernel()
        r = s.clone()
        observed = batch_sums(r)  # batches x clusters (float64)
        expected = pr_b[:, None] * observed.sum(0)[None, :]
        if not objective_harmony:  # objective of the initial assignments (no penalty yet)
            initial = -sigma * float(log_norm.sum(dtype=torch.float64)) + cross_entropy(observed, expected)
            objective_kmeans.append(initial * norm_const)
            objective_harmony.append(initial * norm_const)
        for round_ in range(max_iter_kmeans):
            perm = torch.from_numpy(rng.permutation(n)).to(dev)
            block_of_cell = torch.empty_like(perm)
            block_of_cell[perm] = block_of_rank
            # what every block holds before this round (each cell is updated once per round)
            old_sums = _sums_by_code(r, block_of_cell * n_batches + codes_sorted, n_blocks * n_batches).view(n_blocks, n_batches, k)
            partial = 0.0
            # the block updates are many medium-sized sequential steps: torch's threads would pay a
            # barrier per step (badly so on a busy machine); the NumPy path runs its own threads
            with _torch_threads(1 if dev.type == "cpu" else None):
                if dev.type == "cpu" and not _TORCH_BLOCK_UPDATES:
                    partial = update_blocks_numpy(s, r, log_norm, perm, observed, old_sums)
                else:
                    partial = update_blocks(s, r, log_norm, perm, observed, old_sums)
            expected = pr_b[:, None] * observed.sum(0)[None, :]
            objective_kmeans.append((partial + cross_entropy(observed, expected)) * norm_const)
            if round_ > 3 and len(objective_kmeans) > 4:  # window of 3, as harmonypy / R harmony
                old_window = sum(objective_kmeans[-4:-1])
                new_window = sum(objective_kmeans[-3:])
                if abs(old_window - new_window) / abs(old_window) < epsilon_cluster:
                    break
        objective_harmony.append(objective_kmeans[-1])
        state.update(r=r, observed=observed, expected=expected)

    def correct(state: dict[str, Any]) -> torch.Tensor:
        nonlocal centroids
        r, observed, expected = state["r"], state["observed"].T, state["expected"].T  # clusters x batches
        sums = torch.stack([(r[bounds[b] : bounds[b + 1]].T @ z[bounds[b] : bounds[b + 1]]).double() for b in range(n_batches)], 1)
        keep = (observed / sizes[None, :]) > batch_prop_cutoff  # clusters x batches
        active = keep.sum(1) >= 2
        weight = observed * keep
        penalty = alpha * expected if lamb is None else torch.full_like(expected, float(lamb))
        cov = torch.zeros((k, n_batches + 1, n_batches + 1), dtype=torch.float64, device=dev)
        cov[:, 0, 0] = weight.sum(1)
        cov[:, 0, 1:] = weight
        cov[:, 1:, 0] = weight
        diagonal = torch.where(keep, observed + penalty, torch.ones_like(observed))
        cov[:, 1:, 1:] = torch.diag_embed(diagonal)
        cov[~active] = torch.eye(n_batches + 1, dtype=torch.float64, device=dev)
        rhs = torch.zeros((k, n_batches + 1, dims), dtype=torch.float64, device=dev)
        kept_sums = sums * keep[:, :, None]
        rhs[:, 0] = kept_sums.sum(1)
        rhs[:, 1:] = kept_sums
        rhs[~active] = 0
        with _torch_threads(1 if dev.type == "cpu" else None):  # K tiny systems: threads only add barriers
            w = torch.linalg.solve(cov, rhs)
        intercept = w[:, 0].to(dtype)
        centroids = cosine(torch.where(active[:, None], intercept, centroids))
        corrected = z.clone()
        for b in range(n_batches):
            lo, hi = bounds[b], bounds[b + 1]
            corrected[lo:hi] -= r[lo:hi] @ w[:, b + 1].to(dtype)
        return corrected

    state: dict[str, Any] = {}
    corrected = z
    converged = False
    iterations = 0
    try:
        for _ in tqdm(range(max_iter_harmony), desc="harmony", disable=not progress, leave=False):
            iterations += 1
            cluster(state)
            corrected = correct(state)
            z_cos = cosine(corrected)
            old, new = objective_harmony[-2], objective_harmony[-1]
            if (old - new) / abs(old) < epsilon_harmony:
                converged = True
                break
    finally:
        if pool is not None:
            pool.shutdown()

    inverse = np.empty(n, dtype=np.int64)
    inverse[order] = np.arange(n)
    result = corrected.cpu().numpy()[inverse]
    assignments = state["r"].cpu().numpy()[inverse] if return_assignments and "r" in state else None
    return HarmonyResult(
        embedding=result,
        centroids=centroids.cpu().numpy(),
        assignments=assignments,
        objective_harmony=objective_harmony,
        objective_kmeans=objective_kmeans,
        n_iterations=iterations,
        converged=converged,
    )


class Harmony(BatchIntegrationModel):
    """Harmony (Korsunsky et al. 2019, Nat Methods 16:1289-1296) on a PCA embedding.

    Soft k-means clustering with an entropy term and a diversity penalty ``theta`` that favours
    clusters mixing the batches, alternated with a per-cluster linear mixture-of-experts ridge
    correction of the original embedding, until the objective converges (see
    :func:`harmonize`). The default pipeline computes the unintegrated embedding (log-normalised,
    2,000 highly variable genes, scaled, 50 PCs, as scIB does); ``use_rep`` integrates an
    existing embedding instead (datasets whose ``X`` holds PCs set it automatically).
    Defaults are those of harmonypy 2 / R harmony2.
    """

    name = "harmony"
    transductive = True

    class Params(EmbeddingInput):
        theta: float = Field(2.0, ge=0, description="diversity penalty (0: no push towards batch-mixed clusters)")
        sigma: float = Field(0.1, gt=0, description="soft k-means bandwidth (entropy regularisation)")
        n_clusters: int | None = Field(None, ge=1, description="clusters; min(round(N/30), 100) when unset")
        lamb: float | None = Field(None, ge=0, description="ridge penalty; estimated as alpha * E per cluster when unset")
        alpha: float = Field(0.2, gt=0, description="scale of the estimated ridge penalty")
        tau: float = Field(0.0, ge=0, description="protection of small batches against over-clustering (0: off)")
        block_size: float = Field(0.05, gt=0, le=1, description="fraction of cells updated together")
        max_iter_harmony: int = Field(10, ge=1, description="maximum Harmony iterations")
        max_iter_kmeans: int = Field(4, ge=1, description="clustering rounds per Harmony iteration")
        epsilon_cluster: float = Field(1e-3, gt=0, description="relative objective change ending the clustering")
        epsilon_harmony: float = Field(1e-2, gt=0, description="relative objective change ending Harmony")
        batch_prop_cutoff: float = Field(1e-5, ge=0, description="minimum soft fraction of a batch in a cluster to correct it")
        n_threads: int | None = Field(None, ge=1, description="torch CPU threads (None: torch's setting; small inputs use one)")

    def build_pipeline(self) -> tuple[Step, ...]:
        return embedding_pipeline(self.params)

    def _fit(self, data: Any) -> None:
        embedding = input_embedding(data, self.params)
        p = self.params
        result = harmonize(
            embedding,
            data.obs[self.keys.batch_key].to_numpy(),
            theta=p.theta,
            sigma=p.sigma,
            n_clusters=p.n_clusters,
            lamb=p.lamb,
            alpha=p.alpha,
            tau=p.tau,
            block_size=p.block_size,
            max_iter_harmony=p.max_iter_harmony,
            max_iter_kmeans=p.max_iter_kmeans,
            epsilon_cluster=p.epsilon_cluster,
            epsilon_harmony=p.epsilon_harmony,
            batch_prop_cutoff=p.batch_prop_cutoff,
            seed=self.seed,
            device=self.device_,
            progress=True,
            n_threads=p.n_threads,
        )
        self.embedding_ = result.embedding
        self.notes_ = {
            "harmony_iterations": result.n_iterations,
            "harmony_converged": result.converged,
            "harmony_objective": result.objective_harmony[-1],
            "harmony_clusters": int(result.centroids.shape[0]),
        }

    def _predict(self, data: Any) -> Any:
        return self.embedding_
