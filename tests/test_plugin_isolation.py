"""A plugin that fails to import must not break dance: `dance plugins` reports it."""

from __future__ import annotations

import os

from support import dance, json_out


def installed_broken_plugin(tmp_path):
    """An installed distribution whose plugin module raises on import (as if a dependency were missing)."""
    site = tmp_path / "site"
    dist_info = site / "dance_broken_example-0.3.dist-info"
    dist_info.mkdir(parents=True)
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: dance-broken-example\nVersion: 0.3\n")
    (dist_info / "entry_points.txt").write_text("[dance.plugins]\nbroken = broken_plugin_module\n")
    (site / "broken_plugin_module.py").write_text("import a_dependency_that_is_not_installed\n")
    return {"PYTHONPATH": f"{site}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}


def test_broken_plugin_is_reported_and_everything_else_works(tmp_path):
    env = installed_broken_plugin(tmp_path)
    records = {r["name"]: r for r in json_out(dance("plugins", "--format", "json", env=env))}
    broken = records["broken"]
    assert broken["status"] == "failed" and broken["version"] == "0.3"
    assert "a_dependency_that_is_not_installed" in broken["error"]
    assert all(r["status"] == "ok" for name, r in records.items() if name != "broken")
    tasks = json_out(dance("list", "--format", "json", env=env))
    assert len(tasks) == 10 and all(t["models"] for t in tasks)
    completed = dance("run", "spatial_domain", "--out", str(tmp_path / "run"), env=env)
    assert completed.returncode == 0, completed.stderr


def test_disabling_a_plugin_by_name(tmp_path):
    records = {r["name"]: r for r in json_out(dance("plugins", "-f", "json", env={"DANCE_DISABLE_PLUGINS": "spatial"}))}
    assert records["spatial"]["status"] == "disabled"
    tasks = {t["name"]: t for t in json_out(dance("list", "-f", "json", env={"DANCE_DISABLE_PLUGINS": "spatial"}))}
    assert tasks["spatial_domain"]["models"] == []
