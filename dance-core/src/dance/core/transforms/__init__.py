"""Registered preprocessing and graph-construction transforms, and pipelines of them."""

from dance.core.transforms.pipeline import Step, apply_pipeline, parse_pipeline, step

__all__ = ["Step", "apply_pipeline", "parse_pipeline", "step"]
