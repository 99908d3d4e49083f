"""Peak resident memory of a process during a piece of work (one task of a batch).

A small daemon thread samples the process's resident set size (RSS, :mod:`psutil`) every ``interval_s`` while the
work runs. Peaks shorter than the interval can fall between samples, so the process's lifetime high-water mark
(``getrusage(RUSAGE_SELF).ru_maxrss``, kilobytes on Linux) is read too: when it rose during the work, the work set
it, and it is the exact peak. What the figure means: the most memory the whole worker process held at once while
the task ran (the worker's own baseline included, and another task's if the worker ran two at once, which the
batch's worker resource prevents), not what the task allocated.
"""

from __future__ import annotations

import sys
import threading

__all__ = ["PeakMemory"]


def _maxrss_bytes() -> int:
    import resource

    # Linux reports kilobytes, macOS bytes
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * (1 if sys.platform == "darwin" else 1024)


class PeakMemory:
    """Context manager measuring this process's peak RSS while its block runs.

    Parameters
    ----------
    interval_s : float
        Seconds between two samples.

    Attributes
    ----------
    start_bytes : int
        RSS when the block started, bytes.
    peak_bytes : int
        Highest RSS while it ran, bytes (see the module docstring).
    """

    def __init__(self, interval_s: float = 0.05):
        import psutil

        self.interval_s = interval_s
        self._process = psutil.Process()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, name="peak-rss", daemon=True)
        self.start_bytes = 0
        self.peak_bytes = 0
        self._maxrss_start = 0

    def _sample(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.peak_bytes = max(self.peak_bytes, self._process.memory_info().rss)

    def __enter__(self) -> "PeakMemory":
        self._maxrss_start = _maxrss_bytes()
        self.start_bytes = self.peak_bytes = self._process.memory_info().rss
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_bytes = max(self.peak_bytes, self._process.memory_info().rss)
        maxrss = _maxrss_bytes()
        if maxrss > self._maxrss_start:  # the lifetime high-water mark rose: this block set it
            self.peak_bytes = max(self.peak_bytes, maxrss)
