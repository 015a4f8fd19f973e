"""Loads the embedded MERFISH reference (raw counts, obs['cell_type'])."""

from dance.core.data.readers import read_h5ad


def load(files, task):
    (path,) = files.values()
    return read_h5ad(path)
