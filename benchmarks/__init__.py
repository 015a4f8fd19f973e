"""dance's benchmarks: grids of real runs through ``dance run``, their tables written to docs/benchmarks/.

Run from the repository root as modules, e.g. ``python -m benchmarks.clustering``.
"""
