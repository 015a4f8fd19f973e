"""Parsing ``--set key=value`` and ``--pipeline`` options."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from dance.core.errors import DanceInputError


def parse_value(text: str) -> Any:
    """JSON when it parses (numbers, booleans, lists, null), otherwise the plain string."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def parse_set_options(items: list[str]) -> dict[str, Any]:
    """``["n_neighbors=10", "hidden=[64,32]"]`` -> ``{"n_neighbors": 10, "hidden": [64, 32]}``."""
    params: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise DanceInputError(f"--set expects key=value, got '{item}'", field="--set")
        params[key.replace("-", "_")] = parse_value(value.strip())
    return params


def parse_pipeline_option(value: str | None) -> list[Any] | None:
    """None (model default), ``none`` (no preprocessing), a JSON list, or a JSON file of steps."""
    if value is None:
        return None
    if value.strip().lower() == "none":
        return []
    text = value
    path = Path(value).expanduser()
    if path.is_file():
        text = path.read_text()
    try:
        steps = json.loads(text)
    except ValueError as exc:
        raise DanceInputError(f"--pipeline must be 'none', a JSON list of steps or a JSON file ({exc})", field="--pipeline") from exc
    if not isinstance(steps, list):
        raise DanceInputError("--pipeline must be a JSON list of steps", field="--pipeline")
    return steps
