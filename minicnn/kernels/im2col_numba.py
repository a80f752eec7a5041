"""im2col / col2im compiled with numba: same contract as im2col_numpy (see there).

Plain loops, parallel over independent pieces of output so that no two threads ever
write the same element: im2col over (sample, row), col2im over (sample, channel).
Padding is handled without copying the input into a padded array: for each kernel
offset j, `_valid_range` finds the output columns whose input pixel lies inside the
image, so the inner loops are a zero fill and a plain strided copy (or add), which the
compiler turns into vector instructions, instead of a bounds check per element.
"""
import numpy as np
from numba import njit, prange

from minicnn.kernels.numba_threads import threads_for
from minicnn.kernels.shapes import check_out, conv_output_size

# im2col runs on one thread below this many column values (numba_threads). Measured on
# vgg_bn's 3x3 layers, 2 threads against 1, each call alone: at batch 1 (up to 330,000
# values) one thread was faster on every layer (46 against 109 us on 32 channels 24x24,
# 104 against 149 on 64), at batch 64 two threads were (4.3 against 7.7 ms on 64 channels 24x24).
PARALLEL_MIN = 1 << 19


@njit(inline="always")
def _valid_range(size, out_size, offset, stride, pad):
    """Output positions o in [lo, hi) whose input position o*stride - pad + offset lies in [0, size)."""
    first = offset - pad                                   # input position of output 0
    lo = 0 if first >= 0 else (-first + stride - 1) // stride
    hi = 0 if first >= size else min(out_size, (size - 1 - first) // stride + 1)
    return lo, max(lo, hi)


def im2col(x, kh, kw, stride, pad, out=None):
    """x: (N, C, H, W) -> cols: (N, C*kh*kw, OH*OW), written into `out` when given."""
    n, c, h, w = x.shape
    oh, ow = conv_output_size(h, kh, stride, pad), conv_output_size(w, kw, stride, pad)
    shape = (n, c * kh * kw, oh * ow)
    cols = np.empty(shape, dtype=x.dtype) if out is None else check_out(out, shape, x.dtype)
    with threads_for(cols.size, PARALLEL_MIN):
        _im2col_into(x, kh, kw, stride, pad, oh, ow, cols)
    return cols


@njit(parallel=True, cache=True)
def _im2col_into(x, kh, kw, stride, pad, oh, ow, cols):
    n, c, h, w = x.shape
    rows = c * kh * kw
    for task in prange(n * rows):
        sample, row = task // rows, task % rows
        channel, offset = row // (kh * kw), row % (kh * kw)
        i, j = offset // kw, offset % kw
        y_lo, y_hi = _valid_range(h, oh, i, stride, pad)
        x_lo, x_hi = _valid_range(w, ow, j, stride, pad)
        out = cols[sample, row]
        out[:] = 0                                         # the padding; the image's pixels overwrite the rest
        count = x_hi - x_lo
        for y in range(y_lo, y_hi):
            # Sliced first, so that the copy's indices are the bare loop variable (see _add_scaled
            # in winograd_numba): with stride 1 the compiler then copies with vector instructions.
            src = x[sample, channel, y * stride - pad + i, x_lo * stride - pad + j:]
            dst = out[y * ow + x_lo:]
            if stride == 1:
                for t in range(count):
                    dst[t] = src[t]
            else:
                for t in range(count):
                    dst[t] = src[t * stride]


def col2im(cols, x_shape, kh, kw, stride, pad, out=None):
    """cols: (N, C*kh*kw, OH*OW) -> dx: (N, C, H, W), summing overlapping contributions."""
    dx = np.empty(x_shape, dtype=cols.dtype) if out is None else check_out(out, x_shape, cols.dtype)
    oh, ow = conv_output_size(x_shape[2], kh, stride, pad), conv_output_size(x_shape[3], kw, stride, pad)
    _col2im_into(cols, kh, kw, stride, pad, oh, ow, dx)
    return dx


@njit(parallel=True, cache=True)
def _col2im_into(cols, kh, kw, stride, pad, oh, ow, dx):
    n, c, h, w = dx.shape
    for task in prange(n * c):
        sample, channel = task // c, task % c
        dx[sample, channel] = 0
        for i in range(kh):
            y_lo, y_hi = _valid_range(h, oh, i, stride, pad)
            for j in range(kw):
                x_lo, x_hi = _valid_range(w, ow, j, stride, pad)
                src = cols[sample, (channel * kh + i) * kw + j]
                for y in range(y_lo, y_hi):
                    dst = dx[sample, channel, y * stride - pad + i]
                    base = y * ow
                    for xx in range(x_lo, x_hi):
                        dst[xx * stride - pad + j] += src[base + xx]
