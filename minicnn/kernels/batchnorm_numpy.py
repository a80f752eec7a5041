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


# Samples per step where a float64 temporary is needed: a few MB that stay in cache, where
# one temporary of a whole batch (tens of MB) costs more in fresh memory pages than the
# arithmetic (about 2x slower, measured on the first BatchNorm of vgg_bn, batch 64).
CHUNK = 8


def _centred_chunks(x, mean):
    """(start, x[start:start + CHUNK] - mean in float64) over the samples of x."""
    for start in range(0, x.shape[0], CHUNK):
        yield start, x[start:start + CHUNK] - _per_channel(mean)


def channel_stats(x):
    count = x.shape[0] * x.shape[2]
    # einsum sums each channel in one pass, converting to float64 as it reads.
    mean = np.einsum("ncl->c", x, dtype=np.float64) / count
    squares = sum(np.einsum("ncl,ncl->c", centred, centred) for _, centred in _centred_chunks(x, mean))
    return mean, squares / count


def scale_shift(x, scale, shift):
    out = x * _per_channel(scale).astype(x.dtype)
    out += _per_channel(shift).astype(x.dtype)
    return out


def channel_grad_sums(dout, x, mean):
    sum_dout_centred = sum(np.einsum("ncl,ncl->c", dout[start:start + len(centred)], centred, dtype=np.float64)
                           for start, centred in _centred_chunks(x, mean))
    return np.einsum("ncl->c", dout, dtype=np.float64), sum_dout_centred


def input_gradient(dout, x, mean, k, j, i):
    dtype = np.result_type(dout, x)
    # k * dout + j * (x - mean) + i, built up in one array (one temporary fewer per term).
    dx = x - _per_channel(mean).astype(dtype)
    dx *= _per_channel(j).astype(dtype)
    dx += _per_channel(i).astype(dtype)
    dx += dout * _per_channel(k).astype(dtype)
    return dx
