"""Batch normalisation's per-channel passes compiled with numba: the contract is batchnorm_numpy's.

NumPy makes several passes over memory for each of these (a temporary for x - mean, one
for the product, one for the sum); here each is one pass (two for the variance), split
between threads. Statistics run one channel per task, accumulating in float64; the
elementwise passes run one (sample, channel) row per task, rows being contiguous.
Below PARALLEL_MIN values a pass runs on one thread (numba_threads).
"""
import numpy as np
from numba import njit, prange

from minicnn.kernels.numba_threads import threads_for

# See numba_threads: between batch 1's calls (vgg_bn: up to 74,000 values) and the
# convolutional layers' at batch 64 (590,000 and up), which whole training steps run
# faster on two threads.
PARALLEL_MIN = 1 << 18


# fastmath lets LLVM reorder the sums, which is what vectorising a reduction takes.
@njit(parallel=True, cache=True, fastmath=True)
def _channel_stats(x, mean, var):
    n, c, length = x.shape
    count = n * length
    for channel in prange(c):
        total = 0.0
        for sample in range(n):
            for position in range(length):
                total += x[sample, channel, position]
        mu = total / count
        squares = 0.0
        for sample in range(n):
            for position in range(length):
                centred = x[sample, channel, position] - mu
                squares += centred * centred
        mean[channel] = mu
        var[channel] = squares / count


def channel_stats(x):
    x = np.ascontiguousarray(x)
    mean, var = np.empty(x.shape[1]), np.empty(x.shape[1])
    with threads_for(x.size, PARALLEL_MIN):
        _channel_stats(x, mean, var)
    return mean, var


@njit(parallel=True, cache=True)
def _scale_shift(x, scale, shift, out):
    n, c, length = x.shape
    for row in prange(n * c):
        sample, channel = row // c, row % c
        a, b = scale[channel], shift[channel]
        for position in range(length):
            out[sample, channel, position] = x[sample, channel, position] * a + b


def scale_shift(x, scale, shift):
    x = np.ascontiguousarray(x)
    out = np.empty_like(x)
    with threads_for(x.size, PARALLEL_MIN):
        _scale_shift(x, scale.astype(x.dtype), shift.astype(x.dtype), out)
    return out


@njit(parallel=True, cache=True, fastmath=True)
def _channel_grad_sums(dout, x, mean, sum_dout, sum_dout_centred):
    n, c, length = x.shape
    for channel in prange(c):
        mu = mean[channel]
        total, weighted = 0.0, 0.0
        for sample in range(n):
            for position in range(length):
                d = dout[sample, channel, position]
                total += d
                weighted += d * (x[sample, channel, position] - mu)
        sum_dout[channel] = total
        sum_dout_centred[channel] = weighted


def channel_grad_sums(dout, x, mean):
    dout, x = np.ascontiguousarray(dout), np.ascontiguousarray(x)
    sum_dout, sum_dout_centred = np.empty(x.shape[1]), np.empty(x.shape[1])
    with threads_for(x.size, PARALLEL_MIN):
        _channel_grad_sums(dout, x, mean, sum_dout, sum_dout_centred)
    return sum_dout, sum_dout_centred


@njit(parallel=True, cache=True)
def _input_gradient(dout, x, mean, k, j, i, dx):
    n, c, length = x.shape
    for row in prange(n * c):
        sample, channel = row // c, row % c
        mu, kc, jc, ic = mean[channel], k[channel], j[channel], i[channel]
        for position in range(length):
            dx[sample, channel, position] = (dout[sample, channel, position] * kc
                                             + (x[sample, channel, position] - mu) * jc + ic)


def input_gradient(dout, x, mean, k, j, i):
    dtype = np.result_type(dout, x)
    dout, x = np.ascontiguousarray(dout, dtype=dtype), np.ascontiguousarray(x, dtype=dtype)
    dx = np.empty_like(x)
    with threads_for(x.size, PARALLEL_MIN):
        _input_gradient(dout, x, *(np.asarray(v).astype(dtype) for v in (mean, k, j, i)), dx)
    return dx
