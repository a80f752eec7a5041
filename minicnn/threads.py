"""Thread-pool settings that keep numba's and BLAS's threads from fighting over the cores.

A training step alternates between numba kernels (im2col, col2im, pooling), run by
numba's OpenMP threads, and matrix products, run by OpenBLAS's own threads. Both pools
busy-wait ("spin") for a while after finishing, so that the next call starts at once;
on a machine with as many cores as threads, each pool then spins on the cores the other
one needs. Measured on the report's network (2 cores, batch 64), letting idle threads
sleep at once took a training step from ~1.9 s to ~1.1 s. The wake-up this costs (a few
microseconds per call) is nothing next to the milliseconds each call works.

Both libraries read these variables once, when their pools start: OpenBLAS when NumPy
is imported, numba's OpenMP layer at the first parallel kernel. This module sets them
(unless already set, so a user's choice wins), and minicnn imports it before anything
imports NumPy; a program that imported NumPy before minicnn must set
OPENBLAS_THREAD_TIMEOUT itself.
"""
import os
from contextlib import contextmanager

# libgomp (numba's "omp" threading layer): idle threads sleep instead of spinning.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
# OpenBLAS: spin for 2**4 cycles (the minimum) before sleeping, instead of 2**28.
os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")


@contextmanager
def limited_threads(count):
    """Within: matrix products (BLAS) use at most `count` threads, and so do the numba kernels
    called from this thread (numba's limit is per calling thread); restored after.

    For work made of many small calls (batch-1 inference in a video), where splitting each
    call over threads gains little and a core taken by another process stalls every call."""
    from threadpoolctl import threadpool_limits

    from minicnn.backend import get_backend
    numba = None
    if get_backend() == "numba":
        import numba
        numba_before = numba.get_num_threads()
    try:
        with threadpool_limits(limits=count, user_api="blas"):
            if numba:
                numba.set_num_threads(min(count, numba.config.NUMBA_NUM_THREADS))
            yield
    finally:
        if numba:
            numba.set_num_threads(numba_before)
