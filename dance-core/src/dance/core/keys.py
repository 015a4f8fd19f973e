"""Where in an AnnData each task looks for its inputs.

The defaults are dance's conventions; every key can be overridden (``--label-key`` and friends
on the command line, ``keys=DataKeys(label_key="celltype")`` in code, or per dataset in its spec).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["DataKeys"]


class DataKeys(BaseModel):
    """Names of the AnnData fields tasks read."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    label_key: str = Field(default="cell_type", description="obs column with cell-type (or domain) labels")
    batch_key: str = Field(default="batch", description="obs column with the batch of each cell")
    spatial_key: str = Field(default="spatial", description="obsm key with spatial coordinates")
    counts_layer: str = Field(default="counts", description="layer with raw counts; X is used when it holds counts")
    split_key: str = Field(default="split", description="obs column with 'train' / 'test'")
    proportions_key: str = Field(default="proportions", description="obsm key with true cell-type proportions")

    def with_overrides(self, **overrides: str | None) -> DataKeys:
        """A copy with the non-None overrides applied."""
        return self.model_copy(update={k: v for k, v in overrides.items() if v is not None})
