"""A plugin whose model breaks the contract (its predictions ignore the seed): `dance check` must fail it."""

from __future__ import annotations

from typing import Any

import numpy as np

from dance.core.hookspecs import hookimpl
from dance.core.models.base import ModelParams
from dance.core.tasks.clustering import ClusteringModel


class UnseededClustering(ClusteringModel):
    """Random labels from an unseeded generator: the same seed gives different predictions."""

    name = "unseeded"

    class Params(ModelParams):
        n_clusters: int | None = None

    def _fit(self, data: Any) -> None:
        self.labels_ = np.random.default_rng().integers(0, 3, size=data.n_obs)

    def _predict(self, data: Any) -> Any:
        return self.labels_


@hookimpl
def dance_register_models(register):
    register(
        name="unseeded",
        task="clustering",
        target="broken_plugin:UnseededClustering",
        summary="breaks determinism on purpose",
        citation="Gonzalez (1985) Theor Comput Sci 38:293",
    )
