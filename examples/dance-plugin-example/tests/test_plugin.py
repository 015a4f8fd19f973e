"""The example plugin passes dance's contributor test kit and runs on its own dataset."""

from dance.core import registry, run
from dance.core.testing import parametrize_with_checks


@parametrize_with_checks(["clustering:spectral"])
def test_dance_contract(dance_check):
    dance_check()


def test_registered_through_the_entry_point():
    record = next(p for p in registry.plugins() if p.name == "spectral")
    assert record.status == "ok" and record.distribution == "dance-spectral"
    assert record.registered == {"model": ["spectral"], "dataset": ["merfish_hypothalamus_reference"]}


def test_clusters_the_merfish_reference(tmp_path):
    result = run("clustering", "spectral", "merfish_hypothalamus_reference", out=tmp_path)
    assert result.metrics["ari"] > 0.3
