"""ReLU compiled with numba: same contract as relu_numpy (see there).

NumPy runs each of these as one thread, and backward as two passes (a mask, then a
product). Here each is one pass over the flat arrays, split between the threads when
the array is large (the report's first ReLU: 8 million values a batch, about half the
time); below PARALLEL_MIN values one thread does it sooner than two (numba_threads).
"""
import numpy as np
from numba import njit, prange

from minicnn.kernels.numba_threads import threads_for

# See numba_threads: between batch 1's calls (up to 124,000 values, the report's first ReLU)
# and the convolutional layers' at batch 64 (590,000 and up), which whole training steps
# run faster on two threads.
PARALLEL_MIN = 1 << 18


def relu_forward(x):
    out = np.empty_like(x)
    with threads_for(x.size, PARALLEL_MIN):
        _relu_forward_into(np.ascontiguousarray(x).reshape(-1), out.reshape(-1))
    return out


@njit(inline="always")
def relu_of(value):
    """max(value, 0), a NaN kept as np.maximum keeps it (value != value: NaN)."""
    return value if (value > 0 or value != value) else 0


@njit(parallel=True, cache=True)
def _relu_forward_into(x, out):
    for i in prange(x.size):
        out[i] = relu_of(x[i])


def relu_backward(dout, out):
    dx = np.empty(dout.shape, dtype=np.result_type(dout, out))
    with threads_for(dout.size, PARALLEL_MIN):
        _relu_backward_into(np.ascontiguousarray(dout).reshape(-1), np.ascontiguousarray(out).reshape(-1),
                            dx.reshape(-1))
    return dx


@njit(parallel=True, cache=True)
def _relu_backward_into(dout, out, dx):
    for i in prange(dout.size):
        dx[i] = dout[i] * (1 if out[i] > 0 else 0)
