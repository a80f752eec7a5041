"""Max pooling compiled with numba: same contract as pool_numpy (see there).

Parallel over (sample, channel) planes. As NumPy's argmax does, a tie keeps the first
maximum and a NaN counts as the maximum (the first NaN of a window wins), so that a
diverging network gives the same NaNs with both backends.

`maxpool`, the maxima alone for inference, ran in one thread at first: with the loops of
that day, splitting it between two threads made it slower (the report's first pooling
layer: 0.06 ms serial against 0.07 in parallel at batch 1, 4.1 against 7.2 ms at batch
64). With the 2x2 twin below it runs in parallel from PARALLEL_MIN values, like the
others (numba_threads): on an AVX-512 Intel machine, the report's first pooling layer at
batch 64 took 6.8 ms on one thread, 2.9 on two, timed alone, the two taking turns. Inside
the network, in two per-layer profiles before and after (not taking turns), it took 8.5 ms
before and 3.7 after (its second, 2.6 and 1.3); whole networks with either version,
taking turns, differed by less than the noise (up to 5%).

Training's forward and backward have a twin for the 2x2 window moved by 2, the pooling
of both shipped networks: the four values of a window are named, not looped over, and
every comparison is a select rather than a branch, so the compiler vectorises the loop
along the row; backward writes each input once (the gradient or zero) instead of
zeroing dx and then adding. On vgg_bn's first pooling layer at batch 64 (2 threads, the
functions as called, allocation included, old and new taking turns): forward 10.6 -> 0.8
ms, backward 4.6 -> 2.1; on its last, 1.7 -> 1.0 and 1.1 -> 0.8. Inference's `maxpool`
has such a twin too (on an AVX2 machine, the old loops and the twin taking turns: the
report's first pooling layer 198 -> 69 us at batch 1, 13.5 -> 4.7 ms at batch 64).
"""
import numpy as np
from numba import njit, prange

from minicnn.kernels.numba_threads import threads_for
from minicnn.kernels.shapes import conv_output_size

# Training's passes run on one thread below this many input values (numba_threads): between
# batch 1's calls (up to 102,000 values) and batch 64's (590,000 and up).
PARALLEL_MIN = 1 << 18


def maxpool_forward(x, ph, pw, stride):
    """x: (N, C, H, W) -> out: (N, C, OH, OW), argmax: (N, C, OH, OW) int32."""
    n, c, h, w = x.shape
    shape = (n, c, conv_output_size(h, ph, stride, 0), conv_output_size(w, pw, stride, 0))
    out, argmax = np.empty(shape, dtype=x.dtype), np.empty(shape, dtype=np.int32)
    with threads_for(x.size, PARALLEL_MIN):
        if (ph, pw, stride) == (2, 2, 2):
            _maxpool_2x2_forward_into(x, out, argmax)
        else:
            _maxpool_forward_into(x, ph, pw, stride, out, argmax)
    return out, argmax


@njit(inline="always")
def _challenge(best, value):
    """The best so far after `value` is compared: it wins if larger, or if NaN where the best
    so far is not (a selection, not a branch)."""
    take = (best == best) & ((value > best) | (value != value))
    return value if take else best


@njit(inline="always")
def _window_2x2_max(top, bottom, left):
    """The maximum of the window of rows top and bottom at columns left, left + 1."""
    best = _challenge(top[left], top[left + 1])
    return _challenge(_challenge(best, bottom[left]), bottom[left + 1])


@njit(inline="always")
def _window_2x2_position(best, top, bottom, left):
    """Where the window's maximum `best` sits, 0-3: the first value equal to it (the first
    of a tie), or the first NaN (a NaN is the maximum). Selections from the last position
    back, so that the first one to match is the one kept."""
    v0, v1, v2 = top[left], top[left + 1], bottom[left]
    k = np.int32(3)
    k = np.int32(2) if (v2 == best) | (v2 != v2) else k
    k = np.int32(1) if (v1 == best) | (v1 != v1) else k
    return np.int32(0) if (v0 == best) | (v0 != v0) else k


@njit(parallel=True, cache=True)
def _maxpool_2x2_forward_into(x, out, argmax):
    # Maxima first, then positions, two loops along the row: in one loop computing both, the
    # compiler did not vectorise, and the pass took 3 times as long (28 against 9.4 ms for the
    # report's first pooling layer at batch 64, one thread).
    n, c, oh, ow = out.shape
    for task in prange(n * c):
        sample, channel = task // c, task % c
        for y in range(oh):
            top, bottom = x[sample, channel, 2 * y], x[sample, channel, 2 * y + 1]
            maxima, positions = out[sample, channel, y], argmax[sample, channel, y]
            for xx in range(ow):
                maxima[xx] = _window_2x2_max(top, bottom, 2 * xx)
            for xx in range(ow):
                positions[xx] = _window_2x2_position(maxima[xx], top, bottom, 2 * xx)


@njit(parallel=True, cache=True)
def _maxpool_forward_into(x, ph, pw, stride, out, argmax):
    n, c, oh, ow = out.shape
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


def maxpool(x, ph, pw, stride):
    """x: (N, C, H, W) -> out: (N, C, OH, OW), the maxima alone."""
    n, c, h, w = x.shape
    out = np.empty((n, c, conv_output_size(h, ph, stride, 0), conv_output_size(w, pw, stride, 0)), dtype=x.dtype)
    with threads_for(x.size, PARALLEL_MIN):
        if (ph, pw, stride) == (2, 2, 2):
            _maxpool_2x2_into(np.ascontiguousarray(x), out)
        else:
            _maxpool_into(np.ascontiguousarray(x), ph, pw, stride, out)
    return out


@njit(parallel=True, cache=True)
def _maxpool_2x2_into(x, out):
    """The 2x2 window moved by 2: training's twin without the positions (_window_2x2_max, selections
    the compiler vectorises)."""
    n, c, oh, ow = out.shape
    for task in prange(n * c):
        sample, channel = task // c, task % c
        for y in range(oh):
            top, bottom = x[sample, channel, 2 * y], x[sample, channel, 2 * y + 1]
            maxima = out[sample, channel, y]
            for xx in range(ow):
                maxima[xx] = _window_2x2_max(top, bottom, 2 * xx)


@njit(parallel=True, cache=True)
def _maxpool_into(x, ph, pw, stride, out):
    n, c, oh, ow = out.shape
    for task in prange(n * c):
        sample, channel = task // c, task % c
        column_max = np.empty(x.shape[3], dtype=x.dtype)
        for y in range(oh):
            # Down the window's rows first, along whole contiguous rows (vector
            # instructions), then across each window of that row of maxima.
            column_max[:] = x[sample, channel, y * stride]
            for i in range(1, ph):
                row = x[sample, channel, y * stride + i]
                for k in range(column_max.size):
                    if row[k] > column_max[k] or row[k] != row[k]:
                        column_max[k] = row[k]
            dst = out[sample, channel, y]
            for xx in range(ow):
                best = column_max[xx * stride]
                for j in range(1, pw):
                    value = column_max[xx * stride + j]
                    if value > best or value != value:
                        best = value
                dst[xx] = best


def maxpool_backward(dout, argmax, x_shape, ph, pw, stride):
    """dout, argmax: (N, C, OH, OW) -> dx: (N, C, H, W)."""
    with threads_for(np.prod(x_shape), PARALLEL_MIN):
        if (ph, pw, stride) == (2, 2, 2):
            dx = np.empty(x_shape, dtype=dout.dtype)
            _maxpool_2x2_backward_into(dout, argmax, dx)
            return dx
        return _maxpool_backward(dout, argmax, x_shape, ph, pw, stride)


@njit(parallel=True, cache=True)
def _maxpool_2x2_backward_into(dout, argmax, dx):
    n, c, h, w = dx.shape
    oh, ow = dout.shape[2], dout.shape[3]
    for task in prange(n * c):
        sample, channel = task // c, task % c
        for y in range(oh):
            top, bottom = dx[sample, channel, 2 * y], dx[sample, channel, 2 * y + 1]
            gradients, positions = dout[sample, channel, y], argmax[sample, channel, y]
            for xx in range(ow):
                gradient, k = gradients[xx], positions[xx]
                top[2 * xx] = gradient if k == 0 else 0
                top[2 * xx + 1] = gradient if k == 1 else 0
                bottom[2 * xx] = gradient if k == 2 else 0
                bottom[2 * xx + 1] = gradient if k == 3 else 0
            top[2 * ow:] = 0                     # an odd width's last column is in no window
            bottom[2 * ow:] = 0
        dx[sample, channel, 2 * oh:] = 0         # nor is an odd height's last row


@njit(parallel=True, cache=True)
def _maxpool_backward(dout, argmax, x_shape, ph, pw, stride):
    """Any window and stride: each output's gradient added at its maximum's position (windows may overlap)."""
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
