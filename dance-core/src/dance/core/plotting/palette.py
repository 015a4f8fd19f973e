"""Colours for categories: scanpy's palettes, natural label order, and predicted groups coloured
like the true groups they match."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = ["MISSING_COLOUR", "categorical_palette", "category_colours", "matched_colours", "natural_key"]

#: colour of cells or spots without a value (unlabelled, not annotated)
MISSING_COLOUR = "lightgrey"


def categorical_palette(n: int) -> list[str]:
    """``n`` visibly distinct colours.

    Scanpy's categorical palettes: up to 20 categories, its 20 colours (matplotlib's tab20
    reordered so neighbours differ); beyond, Godsnot's maximally distinct set of 102 less its 10
    palest colours (near-white pinks, blues and yellows that vanish on a white background).
    Scanpy's 28-colour palette is skipped: its pastel neighbours are hard to tell apart in a
    legend. Colours repeat only beyond 92 categories.

    Parameters
    ----------
    n
        Number of categories.

    Returns
    -------
    list of str
        ``n`` hex colours.
    """
    from matplotlib.colors import to_rgb
    from scanpy.plotting.palettes import default_20, default_102

    def luminance(colour: str) -> float:
        red, green, blue = to_rgb(colour)
        return 0.2126 * red + 0.7152 * green + 0.0722 * blue

    if n <= 20:
        colours = list(default_20)
    else:
        colours = [colour for colour in default_102 if luminance(colour) <= 0.8]
    while len(colours) < n:
        colours.extend(colours)
    return colours[:n]


def natural_key(label: Any) -> tuple[int, float, str, str]:
    """Sort key putting numeric labels first in numeric order (``2`` before ``10``), then text
    regardless of case (``cDC2`` next to ``CD16+ Mono``, not after every capitalised name)."""
    text = str(label)
    try:
        return (0, float(text), "", text)
    except ValueError:
        return (1, 0.0, text.casefold(), text)


def category_colours(labels: Iterable[Any]) -> dict[str, str]:
    """A colour for each distinct label (None and NaN excluded), assigned in natural order."""
    names = sorted({str(label) for label in labels if label is not None and label == label}, key=natural_key)
    return dict(zip(names, categorical_palette(len(names)), strict=True))


def matched_colours(predicted: Any, annotated: Any) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """Colours for annotated groups and for predicted groups, the latter matched to the former.

    Each predicted group takes the colour of the annotated group it overlaps most under a
    one-to-one (Hungarian) assignment, so a correct partition looks the same in both panels;
    predicted groups left unmatched get colours of their own.

    Parameters
    ----------
    predicted
        One predicted label per item.
    annotated
        One annotated label per item, None where not annotated (object array).

    Returns
    -------
    names, predicted_colours, annotated_colours
        ``names[p]`` is the legend text of predicted group ``p`` (``"3 (~L2)"`` names its match);
        the colour of each predicted and of each annotated group.
    """
    import numpy as np
    from scipy.optimize import linear_sum_assignment

    predicted = np.asarray(predicted).astype(str)
    annotated = np.asarray(annotated, dtype=object)
    known = np.array([value is not None for value in annotated], dtype=bool)
    truth_names = sorted({str(x) for x in annotated[known]}, key=natural_key)
    pred_names = sorted(set(predicted.tolist()), key=natural_key)
    overlap = np.zeros((len(pred_names), len(truth_names)))
    pred_index = {p: i for i, p in enumerate(pred_names)}
    truth_index = {t: j for j, t in enumerate(truth_names)}
    for p_label, t_label in zip(predicted[known], annotated[known], strict=True):
        overlap[pred_index[p_label], truth_index[str(t_label)]] += 1
    rows, cols = linear_sum_assignment(-overlap) if overlap.size else (np.array([], int), np.array([], int))
    assigned = {i: j for i, j in zip(rows.tolist(), cols.tolist(), strict=True) if overlap[i, j] > 0}
    # only unmatched predicted groups need colours of their own; sizing the palette by what is
    # drawn keeps 20 or fewer colours in scanpy's most distinct palette
    palette = categorical_palette(len(truth_names) + len(pred_names) - len(assigned))
    annotated_colours = {t: palette[j] for j, t in enumerate(truth_names)}
    predicted_colours: dict[str, str] = {}
    names = {}
    spare = len(truth_names)
    for i, p_label in enumerate(pred_names):
        if i in assigned:
            predicted_colours[p_label] = palette[assigned[i]]
            names[p_label] = f"{p_label} (~{truth_names[assigned[i]]})"
        else:
            predicted_colours[p_label] = palette[spare]
            names[p_label] = p_label
            spare += 1
    return names, predicted_colours, annotated_colours
