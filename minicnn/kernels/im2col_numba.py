"""im2col / col2im compiled with numba: same contract as im2col_numpy (see there).

Plain loops, parallel over independent pieces of output so that no two threads ever
write the same element: im2col over (sample, row), col2im over (sample, channel). Padding
is handled by bounds checks instead of copying the input into a padded array.
"""
import numpy as np
from numba import njit, prange


@njit(parallel=True, cache=True)
def im2col(x, kh, kw, stride, pad):
    """x: (N, C, H, W) -> cols: (N, C*kh*kw, OH*OW)."""
    n, c, h, w = x.shape
    oh = (h + 2 * pad - kh) // stride + 1
    ow = (w + 2 * pad - kw) // stride + 1
    rows = c * kh * kw
    cols = np.empty((n, rows, oh * ow), dtype=x.dtype)
    for task in prange(n * rows):
        sample, row = task // rows, task % rows
        channel, offset = row // (kh * kw), row % (kh * kw)
        i, j = offset // kw, offset % kw
        for y in range(oh):
            src_y = y * stride - pad + i
            for xx in range(ow):
                src_x = xx * stride - pad + j
                if 0 <= src_y < h and 0 <= src_x < w:
                    cols[sample, row, y * ow + xx] = x[sample, channel, src_y, src_x]
                else:
                    cols[sample, row, y * ow + xx] = 0
    return cols


@njit(parallel=True, cache=True)
def col2im(cols, x_shape, kh, kw, stride, pad):
    """cols: (N, C*kh*kw, OH*OW) -> dx: (N, C, H, W), summing overlapping contributions."""
    n, c, h, w = x_shape
    oh = (h + 2 * pad - kh) // stride + 1
    ow = (w + 2 * pad - kw) // stride + 1
    dx = np.zeros((n, c, h, w), dtype=cols.dtype)
    for task in prange(n * c):
        sample, channel = task // c, task % c
        for i in range(kh):
            for j in range(kw):
                row = (channel * kh + i) * kw + j
                for y in range(oh):
                    dst_y = y * stride - pad + i
                    if dst_y < 0 or dst_y >= h:
                        continue
                    for xx in range(ow):
                        dst_x = xx * stride - pad + j
                        if 0 <= dst_x < w:
                            dx[sample, channel, dst_y, dst_x] += cols[sample, row, y * ow + xx]
    return dx
