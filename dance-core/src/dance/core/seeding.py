"""Seeding every random number generator a model may touch."""

from __future__ import annotations

import os
import random
import sys

__all__ = ["seed_everything"]


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and (when already imported) torch, and ask torch for deterministic kernels.

    Models should still draw from their own ``numpy.random.default_rng(seed)``; this makes
    libraries that use the global generators (scanpy, sklearn defaults, torch init) repeatable.
    """
    random.seed(seed)
    os.environ.setdefault("PYTHONHASHSEED", str(seed))
    import numpy as np

    np.random.seed(seed % (2**32))
    if "torch" in sys.modules:
        import torch

        torch.manual_seed(seed)
        if torch.cuda.is_available():
            torch.cuda.manual_seed_all(seed)
        torch.use_deterministic_algorithms(True, warn_only=True)
