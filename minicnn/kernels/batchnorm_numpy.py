"""Batch normalisation's per-channel passes, in plain NumPy: the reference for batchnorm_numba.

Every function takes the layer's input viewed as (N, C, L): N samples, C channels (or
features), L positions per channel (H*W for images, 1 for feature vectors). Statistics
are per channel, over the N*L values a channel has in the batch; they are accumulated in
float64, so that a float32 batch of millions of values loses nothing to rounding.

    channel_stats(x)                       -> mean (C,), var (C,)   (biased: divides by N*L)
    scale_shift(x, scale, shift)           -> x * scale[c] + shift[c]
    channel_grad_sums(dout, x, mean)       -> sum(dout) (C,), sum(dout * (x - mean)) (C,)
    input_gradient(dout, x, mean, k, j, i) -> k[c] * dout + j[c] * (x - mean[c]) + i[c]

scale_shift is the whole forward once scale = gamma / sqrt(var + eps) and
shift = beta - mean * scale are known; input_gradient is the whole of backward's dx with
the three per-channel coefficients worked out in the layer (minicnn.layers.batchnorm).
"""
import numpy as np


def _per_channel(values):
    """(C,) -> (1, C, 1), to broadcast against (N, C, L)."""
    return np.asarray(values).reshape(1, -1, 1)


def channel_stats(x):
    mean = x.mean(axis=(0, 2), dtype=np.float64)
    var = np.square(x - _per_channel(mean)).mean(axis=(0, 2))
    return mean, var


def scale_shift(x, scale, shift):
    return (x * _per_channel(scale).astype(x.dtype) + _per_channel(shift).astype(x.dtype)).astype(x.dtype, copy=False)


def channel_grad_sums(dout, x, mean):
    dout64 = dout.astype(np.float64, copy=False)
    return dout64.sum(axis=(0, 2)), (dout64 * (x - _per_channel(mean))).sum(axis=(0, 2))


def input_gradient(dout, x, mean, k, j, i):
    dtype = np.result_type(dout, x)
    centred = x - _per_channel(mean).astype(dtype)
    dx = dout * _per_channel(k).astype(dtype) + centred * _per_channel(j).astype(dtype) + _per_channel(i).astype(dtype)
    return dx.astype(dtype, copy=False)
