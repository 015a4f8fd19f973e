"""A plugin whose hook name is misspelled (dance_register_model): it must show as failed, not as an empty success."""

from __future__ import annotations

from dance.core.hookspecs import hookimpl


@hookimpl
def dance_register_model(register):
    register(
        name="typo_model",
        task="clustering",
        target="cli_plugin:FarthestFirst",
        summary="never registered",
        citation="Gonzalez (1985) Theor Comput Sci 38:293",
    )
