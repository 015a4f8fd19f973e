"""Measuring wall time and peak memory of a step."""

from __future__ import annotations

import resource
import sys
import time
from types import TracebackType

__all__ = ["Measure"]


def _vm_hwm_mb() -> float | None:
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def _reset_hwm() -> bool:
    # Linux resets the peak resident set size (VmHWM) when "5" is written to clear_refs.
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
        return True
    except OSError:
        return False


def _ru_maxrss_mb() -> float:
    value = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return value / (1024 * 1024) if sys.platform == "darwin" else value / 1024


class Measure:
    """Context manager recording ``seconds`` and ``peak_memory_mb`` (peak resident memory).

    On Linux the peak is reset on entry, so it is the peak of the step; elsewhere it is the
    process's peak so far (``peak_scope`` says which).
    """

    def __init__(self) -> None:
        self.seconds = 0.0
        self.peak_memory_mb = 0.0
        self.peak_scope = "step"

    def __enter__(self) -> Measure:
        self.peak_scope = "step" if _reset_hwm() else "process"
        self._start = time.perf_counter()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.seconds = time.perf_counter() - self._start
        hwm = _vm_hwm_mb() if self.peak_scope == "step" else None
        self.peak_memory_mb = hwm if hwm is not None else _ru_maxrss_mb()
