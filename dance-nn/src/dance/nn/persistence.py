"""A torch module's weights as NumPy arrays and back, for saved models (no pickle, no
``torch.save``): :func:`dance.core.models.persistence.save_model_dir` writes them with the rest
of the model's state into ``arrays.safetensors``."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch

__all__ = ["load_module_arrays", "module_arrays"]


def module_arrays(module: torch.nn.Module, prefix: str) -> dict[str, np.ndarray]:
    """Every entry of ``module.state_dict()`` (parameters and buffers) as a CPU NumPy array, named ``prefix.entry``."""
    return {f"{prefix}.{name}": value.detach().cpu().numpy() for name, value in module.state_dict().items()}


def load_module_arrays(module: torch.nn.Module, arrays: Mapping[str, np.ndarray], prefix: str) -> torch.nn.Module:
    """Load the arrays named ``prefix.*`` into ``module`` (strictly: every entry must be there, with its shape)."""
    start = f"{prefix}."
    state = {name[len(start) :]: torch.from_numpy(np.array(value)) for name, value in arrays.items() if name.startswith(start)}
    module.load_state_dict(state, strict=True)
    return module
