"""Choosing the compute device: ``auto`` takes a CUDA GPU when one is present, else the CPU."""

from __future__ import annotations

import importlib.util
import sys
from typing import Literal

from dance.core.errors import DanceInputError, DeviceUnavailableError

__all__ = ["DeviceName", "cuda_available", "resolve_device"]

DeviceName = Literal["auto", "cpu", "cuda"]


def cuda_available() -> bool:
    """True when torch is installed and sees a CUDA device (torch is imported only to ask)."""
    if "torch" not in sys.modules and importlib.util.find_spec("torch") is None:
        return False
    import torch

    return bool(torch.cuda.is_available())


def resolve_device(device: str) -> str:
    """Turn ``auto``/``cpu``/``cuda``/``cuda:N`` into a concrete device string.

    Raises
    ------
    DeviceUnavailableError
        When a CUDA device is requested and none is available.
    """
    if device == "auto":
        return "cuda" if cuda_available() else "cpu"
    if device == "cpu":
        return "cpu"
    if device == "cuda" or device.startswith("cuda:"):
        if not cuda_available():
            raise DeviceUnavailableError(f"device '{device}' was requested but no CUDA GPU is available here; use --device cpu or auto")
        return device
    raise DanceInputError(f"unknown device '{device}'; expected 'auto', 'cpu', 'cuda' or 'cuda:N'", field="device")
