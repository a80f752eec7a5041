"""The one timing rule of the benchmarks, with no dependencies (it also runs in TensorFlow's own environment)."""
import statistics
import time


def median_seconds(fn, repeats, min_seconds=0.0):
    """Median wall time of fn() over `repeats` calls (after one warm-up call), and over at least min_seconds."""
    fn()
    times = []
    while len(times) < repeats or sum(times) < min_seconds:
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)
