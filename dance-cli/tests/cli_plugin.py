"""A test plugin for the CLI: one clustering model, one dataset and one CLI command."""

from __future__ import annotations

from typing import Any

import numpy as np
import typer

from dance.core.hookspecs import hookimpl
from dance.core.models.base import ModelParams
from dance.core.tasks.clustering import ClusteringModel
from dance.core.transforms.pipeline import step


class FarthestFirst(ClusteringModel):
    """k-centre clustering by farthest-first traversal (Gonzalez 1985) on PCA."""

    name = "farthest_first"
    default_pipeline = (step("log_normalize"), step("pca", n_comps=5))

    class Params(ModelParams):
        n_clusters: int | None = None

    def _fit(self, data: Any) -> None:
        x = data.obsm["X_pca"]
        k = self.params.n_clusters or 3
        centres = [0]
        for _ in range(k - 1):
            distance = np.min(((x[:, None, :] - x[centres][None]) ** 2).sum(-1), axis=1)
            centres.append(int(np.argmax(distance)))
        self.labels_ = np.argmin(((x[:, None, :] - x[centres][None]) ** 2).sum(-1), axis=1)

    def _predict(self, data: Any) -> Any:
        return self.labels_


def load_synthetic(files, task):
    from dance.core.data.readers import read_h5ad

    return read_h5ad(next(iter(files.values())))


hello = typer.Typer(help="say hello")


@hello.command()
def greet(name: str = "dance") -> None:
    print(f"hello {name}")


@hookimpl
def dance_register_models(register):
    register(
        name="farthest_first",
        task="clustering",
        target="cli_plugin:FarthestFirst",
        summary="k-centre clustering",
        citation="Gonzalez (1985) Theor Comput Sci 38:293",
        default=True,
    )


@hookimpl
def dance_register_commands(register):
    register(name="hello", target="cli_plugin:hello", summary="Say hello (test extension)")
