"""The model base class; each task's model base lives in its contract module."""

from dance.core.models.base import DanceModel, ModelParams

__all__ = ["DanceModel", "ModelParams"]
