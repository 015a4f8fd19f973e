"""The deep clustering models import torch inside ``_fit`` (so ``dance info`` stays fast), after
``fit`` has seeded the global generators; the trainer they create first seeds torch, so the first
fit of a fresh process gives what a fit with torch already imported gives."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    from dance.core.registry import registry
    from dance.core.testing.synthetic import synthetic_data

    cls = registry.load_model(sys.argv[1], "clustering")
    assert "torch" not in sys.modules, "importing the model imported torch"
    data = synthetic_data("clustering", seed=0)
    runs = []
    for _ in range(2):  # the first fit imports torch, the second finds it imported
        model = cls(dict(cls.quick_params), seed=0, device="cpu").fit(data)
        runs.append([np.asarray(model.labels_).tolist(), np.asarray(model.embedding_, dtype=float).round(6).tolist()])
    print(json.dumps(runs[0] == runs[1]))
    """
)


@pytest.mark.parametrize("name", ["scdeepcluster", "scdcc", "scdsc", "sctag", "graphsc"])
def test_the_first_fit_of_a_fresh_process_is_seeded_like_the_next(name):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    completed = subprocess.run([sys.executable, "-c", SCRIPT, name], capture_output=True, text=True, timeout=300, env=env)
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert json.loads(completed.stdout.strip().splitlines()[-1]) is True
