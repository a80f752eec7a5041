"""Winograd transforms compiled with numba: same contract as winograd_numpy (see there).

Each transform is separable, a matrix on the rows of a tile then one on its columns.
The loops work one row of tiles at a time: the vertical pass runs over the whole
width of the tile row at once (neighbouring tiles overlap by r - 1 columns, so this
does that work once, not once per tile), into a small buffer of a rows; the
horizontal pass then reads each tile out of that buffer. Threads take whole
(sample, channel) images, so no two threads ever write the same element, and zero
padding is a skipped row or a shortened column range rather than a padded copy.
The filter transforms are a few thousand numbers and stay in NumPy.
"""
import numpy as np
from numba import njit, prange

from minicnn.kernels import check_out
from minicnn.kernels.winograd_matrices import winograd_matrices
from minicnn.kernels.winograd_numpy import filter_transform, filter_transform_adjoint, tile_counts

__all__ = ["filter_transform", "filter_transform_adjoint", "input_transform", "input_transform_adjoint",
           "output_transform", "output_transform_adjoint"]


def input_transform(x, m, r, pad, out=None):
    """x: (N, C, H, W) -> V: (a*a, C, N*TH*TW)."""
    n, c, h, w = x.shape
    _, _, th, tw = tile_counts(h, w, m, r, pad)
    bt = winograd_matrices(m, r)[2].astype(x.dtype)
    shape = (bt.shape[0] ** 2, c, n * th * tw)
    v = np.empty(shape, dtype=x.dtype) if out is None else check_out(out, shape, x.dtype)
    _input_transform_into(x, bt, m, pad, th, tw, v)
    return v


@njit(parallel=True, cache=True)
def _input_transform_into(x, bt, m, pad, th, tw, v):
    n, c, h, w = x.shape
    a = bt.shape[0]
    width = tw * m + a - m
    col_lo, col_hi = pad, min(width, pad + w)          # padded columns that hold image pixels
    bt_columns = bt.T.copy()
    for task in prange(n * c):
        sample, channel = task // c, task % c
        rows = np.empty((width, a), dtype=x.dtype)     # rows[col, xi]
        tile = np.empty((a, a), dtype=x.dtype)         # tile[nu, xi]
        for ty in range(th):
            rows[:] = 0
            for i in range(a):                          # rows = BT @ (a input rows)
                y = ty * m + i - pad
                if y < 0 or y >= h:
                    continue
                src, coefs = x[sample, channel, y], bt_columns[i]
                for col in range(col_lo, col_hi):
                    value, dst = src[col - pad], rows[col]
                    for xi in range(a):
                        dst[xi] += value * coefs[xi]
            first_tile = (sample * th + ty) * tw
            for tx in range(tw):                        # each tile: (its a columns) @ BT.T
                tile[:] = 0
                for j in range(a):
                    src = rows[tx * m + j]
                    for nu in range(a):
                        coef, dst = bt[nu, j], tile[nu]
                        for xi in range(a):
                            dst[xi] += coef * src[xi]
                for nu in range(a):
                    for xi in range(a):
                        v[xi * a + nu, channel, first_tile + tx] = tile[nu, xi]


def output_transform(mt, m, r, bias, out_shape, out=None):
    """mt: (a*a, F, N*TH*TW) -> y: out_shape = (N, F, OH, OW), plus bias[f]."""
    at = winograd_matrices(m, r)[0].astype(mt.dtype)
    y = np.empty(out_shape, dtype=mt.dtype) if out is None else check_out(out, out_shape, mt.dtype)
    _output_transform_into(mt, at, bias.astype(mt.dtype), y)
    return y


@njit(parallel=True, cache=True)
def _output_transform_into(mt, at, bias, y):
    n, f, oh, ow = y.shape
    m, a = at.shape
    th, tw = (oh + m - 1) // m, (ow + m - 1) // m
    for task in prange(n * f):
        sample, channel = task // f, task % f
        tile = np.empty((a, a), dtype=mt.dtype)        # tile[xi, nu]
        half = np.empty((m, a), dtype=mt.dtype)        # AT @ tile
        for ty in range(th):
            first_tile = (sample * th + ty) * tw
            for tx in range(tw):
                for xi in range(a):
                    for nu in range(a):
                        tile[xi, nu] = mt[xi * a + nu, channel, first_tile + tx]
                half[:] = 0
                for xi in range(a):
                    src = tile[xi]
                    for u in range(m):
                        coef, dst = at[u, xi], half[u]
                        for nu in range(a):
                            dst[nu] += coef * src[nu]
                for u in range(min(m, oh - ty * m)):    # then @ AT.T, dropping the overhang
                    dst = y[sample, channel, ty * m + u]
                    for v_ in range(min(m, ow - tx * m)):
                        acc = bias[channel]
                        for nu in range(a):
                            acc += half[u, nu] * at[v_, nu]
                        dst[tx * m + v_] = acc


def output_transform_adjoint(dy, m, r, out=None):
    """dy: (N, F, OH, OW) -> dM: (a*a, F, N*TH*TW)."""
    n, f, oh, ow = dy.shape
    at = winograd_matrices(m, r)[0].astype(dy.dtype)
    a = at.shape[1]
    shape = (a * a, f, n * (-(-oh // m)) * (-(-ow // m)))
    dm = np.empty(shape, dtype=dy.dtype) if out is None else check_out(out, shape, dy.dtype)
    _output_transform_adjoint_into(dy, at, dm)
    return dm


@njit(parallel=True, cache=True)
def _output_transform_adjoint_into(dy, at, dm):
    n, f, oh, ow = dy.shape
    m, a = at.shape
    th, tw = (oh + m - 1) // m, (ow + m - 1) // m
    for task in prange(n * f):
        sample, channel = task // f, task % f
        rows = np.empty((tw * m, a), dtype=dy.dtype)   # rows[col, xi]
        tile = np.empty((a, a), dtype=dy.dtype)        # tile[nu, xi]
        for ty in range(th):
            rows[:] = 0
            for u in range(min(m, oh - ty * m)):        # rows = A @ (m rows of dY)
                src, coefs = dy[sample, channel, ty * m + u], at[u]
                for col in range(ow):
                    value, dst = src[col], rows[col]
                    for xi in range(a):
                        dst[xi] += value * coefs[xi]
            first_tile = (sample * th + ty) * tw
            for tx in range(tw):                        # each tile: (its m columns) @ A.T
                tile[:] = 0
                for v_ in range(m):
                    src = rows[tx * m + v_]
                    for nu in range(a):
                        coef, dst = at[v_, nu], tile[nu]
                        for xi in range(a):
                            dst[xi] += coef * src[xi]
                for nu in range(a):
                    for xi in range(a):
                        dm[xi * a + nu, channel, first_tile + tx] = tile[nu, xi]


def input_transform_adjoint(dv, x_shape, m, r, pad, out=None):
    """dv: (a*a, C, N*TH*TW) -> dx: x_shape = (N, C, H, W), overlapping tiles summed."""
    n, c, h, w = x_shape
    _, _, th, tw = tile_counts(h, w, m, r, pad)
    bt = winograd_matrices(m, r)[2].astype(dv.dtype)
    dx = np.empty(x_shape, dtype=dv.dtype) if out is None else check_out(out, x_shape, dv.dtype)
    _input_transform_adjoint_into(dv, bt, m, pad, th, tw, dx)
    return dx


@njit(parallel=True, cache=True)
def _input_transform_adjoint_into(dv, bt, m, pad, th, tw, dx):
    n, c, h, w = dx.shape
    a = bt.shape[0]
    width = tw * m + a - m
    col_lo, col_hi = pad, min(width, pad + w)
    bt_columns = bt.T.copy()
    for task in prange(n * c):
        sample, channel = task // c, task % c
        rows = np.empty((width, a), dtype=dv.dtype)    # rows[col, xi]
        tile = np.empty((a, a), dtype=dv.dtype)        # tile[nu, xi]
        dx[sample, channel] = 0
        for ty in range(th):
            rows[:] = 0
            first_tile = (sample * th + ty) * tw
            for tx in range(tw):                        # each tile: dV @ BT, summed where tiles overlap
                for nu in range(a):
                    for xi in range(a):
                        tile[nu, xi] = dv[xi * a + nu, channel, first_tile + tx]
                for j in range(a):
                    dst = rows[tx * m + j]
                    for nu in range(a):
                        coef, src = bt[nu, j], tile[nu]
                        for xi in range(a):
                            dst[xi] += coef * src[xi]
            for i in range(a):                          # then BT.T @ rows, added onto a input rows
                y = ty * m + i - pad
                if y < 0 or y >= h:
                    continue
                dst, coefs = dx[sample, channel, y], bt_columns[i]
                for col in range(col_lo, col_hi):
                    src = rows[col]
                    acc = dst[col - pad]
                    for xi in range(a):
                        acc += coefs[xi] * src[xi]
                    dst[col - pad] = acc
