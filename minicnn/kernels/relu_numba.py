"""ReLU compiled with numba: same contract as relu_numpy (see there).

NumPy runs each of these as one thread, and backward as two passes (a mask, then a
product). Here each is one parallel pass over the flat arrays: on the report's first
ReLU (8 million values a batch) that is about half the time.
"""
import numpy as np
from numba import njit, prange


def relu_forward(x):
    out = np.empty_like(x)
    _relu_forward_into(np.ascontiguousarray(x).reshape(-1), out.reshape(-1))
    return out


@njit(parallel=True, cache=True)
def _relu_forward_into(x, out):
    for i in prange(x.size):
        value = x[i]
        out[i] = value if (value > 0 or value != value) else 0    # value != value: NaN, kept as np.maximum does


def relu_backward(dout, out):
    dx = np.empty(dout.shape, dtype=np.result_type(dout, out))
    _relu_backward_into(np.ascontiguousarray(dout).reshape(-1), np.ascontiguousarray(out).reshape(-1),
                        dx.reshape(-1))
    return dx


@njit(parallel=True, cache=True)
def _relu_backward_into(dout, out, dx):
    for i in prange(dout.size):
        dx[i] = dout[i] * (1 if out[i] > 0 else 0)
