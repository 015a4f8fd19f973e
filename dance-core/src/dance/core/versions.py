"""Versions of Python, dance's packages and the libraries results depend on."""

from __future__ import annotations

import importlib.metadata
import platform

__all__ = ["package_versions"]

LIBRARIES = (
    "numpy",
    "scipy",
    "pandas",
    "anndata",
    "scanpy",
    "scikit-learn",
    "pydantic",
    "pluggy",
    "pooch",
    "h5py",
    "torch",
    "torch-geometric",
    "faiss-cpu",
    "faiss-gpu",
    "POT",
    "igraph",
    "leidenalg",
)


def package_versions() -> dict[str, str]:
    """Python, platform, every distribution providing dance plugins, and key libraries."""
    versions = {"python": platform.python_version(), "platform": platform.platform()}
    names = {"dance-core", "dance-cli", "dance-nn"}
    for ep in importlib.metadata.entry_points(group="dance.plugins"):
        dist = getattr(ep, "dist", None)
        if dist is not None:
            names.add(dist.metadata["Name"])
    for name in sorted(names) + list(LIBRARIES):
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions
