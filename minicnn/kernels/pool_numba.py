"""Max pooling compiled with numba: same contract as pool_numpy (see there).

Parallel over (sample, channel) planes. As NumPy's argmax does, a tie keeps the first
maximum and a NaN counts as the maximum (the first NaN of a window wins), so that a
diverging network gives the same NaNs with both backends.
"""
import numpy as np
from numba import njit, prange


@njit(parallel=True, cache=True)
def maxpool_forward(x, ph, pw, stride):
    """x: (N, C, H, W) -> out: (N, C, OH, OW), argmax: (N, C, OH, OW) int32."""
    n, c, h, w = x.shape
    oh = (h - ph) // stride + 1
    ow = (w - pw) // stride + 1
    out = np.empty((n, c, oh, ow), dtype=x.dtype)
    argmax = np.empty((n, c, oh, ow), dtype=np.int32)
    for task in prange(n * c):
        sample, channel = task // c, task % c
        for y in range(oh):
            for xx in range(ow):
                best = x[sample, channel, y * stride, xx * stride]
                best_k = 0
                for i in range(ph):
                    for j in range(pw):
                        value = x[sample, channel, y * stride + i, xx * stride + j]
                        if best == best and (value > best or value != value):   # x != x: NaN
                            best = value
                            best_k = i * pw + j
                out[sample, channel, y, xx] = best
                argmax[sample, channel, y, xx] = best_k
    return out, argmax


@njit(parallel=True, cache=True)
def maxpool_backward(dout, argmax, x_shape, ph, pw, stride):
    """dout, argmax: (N, C, OH, OW) -> dx: (N, C, H, W)."""
    n, c, h, w = x_shape
    oh, ow = dout.shape[2], dout.shape[3]
    dx = np.zeros((n, c, h, w), dtype=dout.dtype)
    for task in prange(n * c):
        sample, channel = task // c, task % c
        for y in range(oh):
            for xx in range(ow):
                k = argmax[sample, channel, y, xx]
                dx[sample, channel, y * stride + k // pw, xx * stride + k % pw] += dout[sample, channel, y, xx]
    return dx
