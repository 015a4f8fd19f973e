"""The record of a run (``result.json``) and the progress callback type runs share."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

__all__ = ["Progress", "RunResult", "no_progress"]

Progress = Callable[[str], contextlib.AbstractContextManager[Any]]


class RunResult(BaseModel):
    """Everything needed to understand and repeat a run (saved as ``result.json``).

    The output AnnData object(s) are attached in memory (not saved in ``result.json``):
    :attr:`adata` is the main one and :attr:`adatas` has every one by file stem, so a run from
    Python continues in scanpy without reading the files back.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    task: str
    model: str
    plugin: str | None = None
    dataset: str | None = Field(default=None, description="registered dataset name, when one was used")
    input: str = Field(description="what was run on: dataset name or file paths")
    dataset_checksum: str = Field(description="sha256 identifying the exact input")
    modalities: list[str] | None = Field(default=None, description="names of the two modalities used (two-modality tasks)")
    metrics: dict[str, float]
    fit_seconds: float
    predict_seconds: float
    score_seconds: float
    peak_memory_mb: float = Field(description="peak resident memory during fit and predict")
    peak_memory_scope: str = Field(description="'step' (measured for fit+predict) or 'process' (peak of the process)")
    params: dict[str, Any]
    seed: int
    device: str
    keys: dict[str, str]
    pipeline: list[dict[str, Any]]
    notes: dict[str, Any] = Field(default_factory=dict)
    versions: dict[str, str]
    model_dir: str | None = Field(
        default=None, description="where the fitted model was saved (--save-model), or loaded from (dance predict)"
    )
    training: dict[str, dict[str, list[float]]] = Field(
        default_factory=dict, description="deep models: the mean of every loss term per epoch, by training stage"
    )
    outputs: dict[str, str] = Field(default_factory=dict, description="files written, by kind")
    started_at: str
    _adatas: dict[str, Any] = PrivateAttr(default_factory=dict)

    def metrics_table(self) -> list[tuple[str, float]]:
        return sorted(self.metrics.items())

    @property
    def adatas(self) -> dict[str, Any]:
        """The output AnnData objects by file stem (``output``, or ``output_mod1`` and ``output_mod2``, ...)."""
        return dict(self._adatas)

    @property
    def adata(self) -> Any:
        """The main output AnnData: ``output``, else the first one (``output_mod1``)."""
        if not self._adatas:
            return None
        return self._adatas.get("output", next(iter(self._adatas.values())))


@contextlib.contextmanager
def no_progress(stage: str) -> Iterator[None]:
    yield
