"""Metric functions, registered per task by dance-core's plugin (see :mod:`dance.core._plugin`).

Every metric is called as ``fn(truth, prediction)`` with the objects its task contract builds
(documented in each module of :mod:`dance.core.tasks`), and returns a float, or ``None`` when
the truth it needs is absent.
"""
