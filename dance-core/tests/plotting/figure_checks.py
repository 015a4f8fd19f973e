"""Checks shared by the figure tests: a PNG exists, loads, has a sensible size and is not blank."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def read_png(path: str | Path, *, min_width: int = 500, min_height: int = 300) -> np.ndarray:
    """The image at ``path`` (rows x columns x channels), after checking it is a real figure."""
    import matplotlib.image as mpimg

    path = Path(path)
    assert path.is_file() and path.suffix == ".png", f"{path} is not a PNG file"
    image = mpimg.imread(path)
    height, width = image.shape[:2]
    assert width >= min_width and height >= min_height, f"{path.name} is only {width} x {height} pixels"
    assert width <= 6000 and height <= 6000, f"{path.name} is {width} x {height} pixels: too big to look at"
    colours = np.unique(image[..., :3].reshape(-1, 3).round(2), axis=0)
    assert len(colours) > 20, f"{path.name} holds {len(colours)} colours: (nearly) blank"
    return image
