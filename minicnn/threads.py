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
import threading
from contextlib import contextmanager

POOL_SETTINGS = {
    "OMP_WAIT_POLICY": "PASSIVE",        # libgomp (numba's "omp" threading layer): idle threads sleep at once
    "OPENBLAS_THREAD_TIMEOUT": "4",      # OpenBLAS: spin 2**4 cycles (the minimum) before sleeping, not 2**28
}
_ENVIRONMENT_BEFORE = {name: os.environ.get(name) for name in POOL_SETTINGS}
for _name, _value in POOL_SETTINGS.items():
    os.environ.setdefault(_name, _value)


def environment_before_settings():
    """A copy of os.environ with POOL_SETTINGS as they were before minicnn set them: for
    other software a program starts, which should run as its own users run it (the
    benchmarks start PyTorch, whose own OpenMP threads minicnn's passive wait would put
    to sleep between calls)."""
    environment = dict(os.environ)
    for name, value in _ENVIRONMENT_BEFORE.items():
        if value is None:
            environment.pop(name, None)
        else:
            environment[name] = value
    return environment


class SharedLimit:
    """A process-wide setting that threads hold together: the first holder to enter applies
    it, the last to leave restores what was there before.

    Each holder saving and restoring on its own goes wrong as soon as two overlap (two
    videos analysed side by side in one process): the first to leave lifts the limit
    from under the other, and the last puts back the limit instead of the original.

    apply() applies the setting and returns a function that restores what it replaced.
    """

    def __init__(self, apply):
        self._apply = apply
        self._lock = threading.Lock()
        self._holders = 0
        self._restore = None

    @contextmanager
    def held(self):
        with self._lock:
            if self._holders == 0:
                self._restore = self._apply()
            self._holders += 1
        try:
            yield
        finally:
            with self._lock:
                self._holders -= 1
                if self._holders == 0:
                    self._restore()


def _one_blas_thread():
    from threadpoolctl import threadpool_limits
    return threadpool_limits(limits=1, user_api="blas").restore_original_limits


# BLAS's thread count is process-wide: threads inside one_thread at once share the limit.
_ONE_BLAS_THREAD = SharedLimit(_one_blas_thread)


@contextmanager
def one_thread():
    """Within: matrix products (BLAS) use one thread, and so do the numba kernels called
    from this thread (numba's limit is per calling thread); restored after.

    For work made of many small calls (batch-1 inference in a video), where splitting each
    call over threads gains little and a core taken by another process stalls every call."""
    from minicnn.backend import get_backend
    numba = None
    if get_backend() == "numba":
        import numba
        numba_before = numba.get_num_threads()
    try:
        with _ONE_BLAS_THREAD.held():
            if numba:
                numba.set_num_threads(1)
            yield
    finally:
        if numba:
            numba.set_num_threads(numba_before)
