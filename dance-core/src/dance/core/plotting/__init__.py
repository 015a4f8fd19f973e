"""Figures ``dance run`` writes next to ``result.json``, one kind per task (matplotlib, Agg canvas).

Importing this package is cheap; each module imports matplotlib and scanpy when it draws.
"""
