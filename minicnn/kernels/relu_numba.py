"""ReLU compiled with numba: same contract as relu_numpy (see there).

NumPy runs each of these as one thread, and backward as two passes (a mask, then a
product). Here each is one pass over the flat arrays, split between the threads when
the array is large (the report's first ReLU: 8 million values a batch, about half the
time); below PARALLEL_MIN values, waking the threads would cost more than the work.
"""
import numpy as np
from numba import njit, prange

PARALLEL_MIN = 1 << 18


def relu_forward(x):
    out = np.empty_like(x)
    flat_x, flat_out = np.ascontiguousarray(x).reshape(-1), out.reshape(-1)
    (_relu_forward_parallel if x.size >= PARALLEL_MIN else _relu_forward_serial)(flat_x, flat_out)
    return out


def _relu_forward_into(x, out):
    for i in prange(x.size):
        value = x[i]
        out[i] = value if (value > 0 or value != value) else 0    # value != value: NaN, kept as np.maximum does


def relu_backward(dout, out):
    dx = np.empty(dout.shape, dtype=np.result_type(dout, out))
    flat = np.ascontiguousarray(dout).reshape(-1), np.ascontiguousarray(out).reshape(-1), dx.reshape(-1)
    (_relu_backward_parallel if dout.size >= PARALLEL_MIN else _relu_backward_serial)(*flat)
    return dx


def _relu_backward_into(dout, out, dx):
    for i in prange(dout.size):
        dx[i] = dout[i] * (1 if out[i] > 0 else 0)


# One loop each, compiled twice: prange is a plain range when parallel is off.
_relu_forward_parallel = njit(parallel=True, cache=True)(_relu_forward_into)
_relu_forward_serial = njit(cache=True)(_relu_forward_into)
_relu_backward_parallel = njit(parallel=True, cache=True)(_relu_backward_into)
_relu_backward_serial = njit(cache=True)(_relu_backward_into)
