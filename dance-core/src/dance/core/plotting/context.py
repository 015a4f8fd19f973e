"""What a figure needs to say about the run it shows."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = ["PlotContext"]


@dataclass(frozen=True)
class PlotContext:
    """The run a figure belongs to: task, model, dataset, seed and metrics (for titles).

    ``modalities`` names the two modalities of a two-modality task (``("rna", "adt")``) for
    axis and legend text; figures say ``mod1`` / ``mod2`` when it is None.
    """

    task: str
    model: str
    dataset: str
    metrics: Mapping[str, float] = field(default_factory=dict)
    headline: str | None = None
    seed: int = 0
    modalities: tuple[str, str] | None = None

    @property
    def modality_names(self) -> tuple[str, str]:
        """The two modalities' names, ``("mod1", "mod2")`` when unknown."""
        return tuple(self.modalities) if self.modalities else ("mod1", "mod2")  # type: ignore[return-value]

    def headline_text(self) -> str:
        """``"ARI 0.752"`` for the headline metric, or ``"not scored"`` when the run had no truth."""
        if self.headline and self.headline in self.metrics:
            return (
                f"{self.headline.upper() if len(self.headline) <= 5 else self.headline.replace('_', ' ')} {self.metrics[self.headline]:.3f}"
            )
        return "not scored"

    def title(self, what: str = "") -> str:
        """``"clustering: leiden on pbmc4k_10x (seed 0), ARI 0.752"`` with ``what`` appended."""
        text = f"{self.task}: {self.model} on {self.dataset} (seed {self.seed}), {self.headline_text()}"
        return f"{text} - {what}" if what else text
