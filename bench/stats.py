"""Timing and summaries: nanosecond samples in, medians, p99s and ratios out."""

import math
import statistics
import time
from contextlib import contextmanager
from dataclasses import dataclass

now_ns = time.perf_counter_ns


@dataclass(frozen=True)
class Summary:
    n: int
    median_ms: float
    p99_ms: float
    mean_ms: float
    max_ms: float


def percentile(values, q: float) -> float:
    """Nearest-rank percentile (q in 0..100): a value that was really measured, never an interpolation."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def summarize_ns(samples_ns) -> Summary:
    ms = [s / 1e6 for s in samples_ns]
    if not ms:
        return Summary(0, math.nan, math.nan, math.nan, math.nan)
    return Summary(len(ms), statistics.median(ms), percentile(ms, 99), statistics.fmean(ms), max(ms))


def summarize_ms(samples_ms) -> Summary:
    return summarize_ns([s * 1e6 for s in samples_ms])


def ratio(baseline: float, ours: float) -> float:
    """How many times faster (or smaller) ours is than the baseline."""
    if not ours or math.isnan(ours) or math.isnan(baseline):
        return math.nan
    return baseline / ours


@contextmanager
def stopwatch():
    """`with stopwatch() as t: ...` then `t.ns` (nanoseconds, time.perf_counter_ns)."""

    class Elapsed:
        ns = 0

    elapsed = Elapsed()
    start = now_ns()
    try:
        yield elapsed
    finally:
        elapsed.ns = now_ns() - start


def fmt_ms(ms: float) -> str:
    if ms is None or (isinstance(ms, float) and math.isnan(ms)):
        return "-"
    if ms < 1:
        return f"{ms * 1000:.0f} us"
    if ms < 100:
        return f"{ms:.2f} ms"
    if ms < 10_000:
        return f"{ms:.0f} ms"
    return f"{ms / 1000:.1f} s"


def fmt_ratio(x: float) -> str:
    if x is None or math.isnan(x):
        return "-"
    if x >= 100:
        return f"{x:,.0f}x"
    return f"{x:.1f}x"


def fmt_int(x) -> str:
    return f"{x:,}"


def fmt_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024
    return str(n)
