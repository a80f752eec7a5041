"""Winograd transforms compiled with numba: same contract as winograd_numpy (see there).

Threads take one channel of a few whole samples each (TASK_TILES), so no two threads
ever write the same element. Within a task, the loops are arranged so that the innermost
one runs over all the task's tiles at once, a long contiguous loop the compiler turns
into vector instructions, instead of over the 8 entries of one tile. (Taking one sample
at a time, the report's last conv layer had loops of 16 tiles; grouping samples made
its three transforms 2-3 times faster, and the transforms of all three Winograd layers
about 1.5 times: 187 to 120 ms a training step at batch 64.)

The trick for the input side is a polyphase split of the zero-padded image: with
output tiles m apart, pixel (k*m + p, l*m + q) goes to plane (p, q) at (k, l). Input
tile (ty, tx) reads pixel (ty*m + i, tx*m + j), which sits in plane (i % m, j % m) at
(ty + i // m, tx + j // m): for a fixed (i, j), the pixels of all tiles form one
block of a plane, rows of consecutive elements. So each transform is a sum of
(coefficient x whole block) terms:

    rows  [xi, q, ty, l] = sum_i BT[xi, i] * plane[i % m, q][ty + i // m, l]       (vertical)
    V[xi, nu][ty, tx]    = sum_j BT[nu, j] * rows[xi, j % m][ty, tx + j // m]      (horizontal)

Padding is the zeros around the image in the planes.

The output transform is, as in the NumPy reference, one matrix product kron(AT, AT) @ M
(BLAS does its (m*m, a*a) @ (a*a, F*tiles) faster than loops do: 19 instead of 28 ms for
the report's 5x5 layer at batch 64, 0.21 instead of 0.31 ms at batch 1), then a loop
puts each tile's m x m results in place. Its adjoint works on the (a*a, tiles) rows of M,
contiguous per task, with loops: there the product measured no faster. The input side
stays loops: kron(BT, BT) is (a*a, a*a), four times the arithmetic of the two passes
above. The filter transforms are one small matrix product each and stay in NumPy.
"""
import numpy as np
from numba import njit, prange

from minicnn.kernels.shapes import ceil_div, check_out
from minicnn.kernels.im2col_numba import _valid_range
from minicnn.kernels.winograd_matrices import winograd_matrices
from minicnn.kernels.winograd_numpy import filter_transform, filter_transform_adjoint, tile_counts

# A thread's task is one channel of a few samples, about this many tiles in all: the
# loops then run over all those tiles at once, long enough for vector instructions even
# where an image has few tiles (16 in the report's last conv), and the task's scratch
# arrays stay in the core's cache.
TASK_TILES = 512

__all__ = ["filter_transform", "filter_transform_adjoint", "input_transform", "input_transform_adjoint",
           "output_transform", "output_transform_adjoint"]


def input_transform(x, m, r, pad, out=None):
    """x: (N, C, H, W) -> V: (a*a, C, N*TH*TW)."""
    n, c, h, w = x.shape
    _, _, th, tw = tile_counts(h, w, m, r, pad)
    bt = winograd_matrices(m, r)[2].astype(x.dtype)
    shape = (bt.shape[0] ** 2, c, n * th * tw)
    v = np.empty(shape, dtype=x.dtype) if out is None else check_out(out, shape, x.dtype)
    _input_transform_into(x, bt, m, pad, th, tw, samples_per_task(th * tw), v)
    return v


def samples_per_task(tiles_per_image):
    """How many samples a thread's task takes at once: about TASK_TILES tiles' worth."""
    return max(1, TASK_TILES // tiles_per_image)


ceil_div_compiled = njit(inline="always")(ceil_div)   # the same function, callable from compiled loops


@njit(inline="always")
def _plane_size(tiles, a, m):
    """Rows (or columns) of a phase plane: the tiles plus what the last tile reaches past them."""
    return tiles + ceil_div_compiled(a - m, m)


@njit(inline="always")
def _copy_planes(image, planes, m, pad, ph, pw, into_planes):
    """Between an (H, W) image and its m*m phase planes (m, m, ph*pw), either way.

    Plane (p, q) at (k, l) is pixel (k*m + p - pad, l*m + q - pad); plane entries that
    fall outside the image are padding, left as they are.
    """
    h, w = image.shape
    for p in range(m):
        k_lo, k_hi = _valid_range(h, ph, p, m, pad)
        for q in range(m):
            l_lo, l_hi = _valid_range(w, pw, q, m, pad)
            plane = planes[p, q]
            for k in range(k_lo, k_hi):
                row = image[k * m + p - pad]
                for l in range(l_lo, l_hi):
                    if into_planes:
                        plane[k * pw + l] = row[l * m + q - pad]
                    else:
                        row[l * m + q - pad] = plane[k * pw + l]


@njit(inline="always")
def _add_scaled(dst, coef, src, count):
    """dst[:count] += coef * src[:count] (BLAS's axpy), nothing for a zero coefficient.

    Every transform is built from this loop. Its index is the bare loop variable, which
    numba can prove non-negative: `src[start + t]` would make it check for negative
    indices element by element and keep the compiler from using vector instructions
    (measured: the input transform took 100 ms instead of 38). Callers slice first.
    """
    if coef != 0:
        for t in range(count):
            dst[t] += coef * src[t]


@njit(parallel=True, cache=True)
def _input_transform_into(x, bt, m, pad, th, tw, group, v):
    n, c = x.shape[:2]
    a = bt.shape[0]
    ph, pw = _plane_size(th, a, m), _plane_size(tw, a, m)
    reach = ph - th                                      # plane rows a tile reads below its own
    for task in prange(ceil_div_compiled(n, group) * c):
        first_sample, channel = task // c * group, task % c
        count = min(group, n - first_sample)
        planes = np.zeros((m, m, count * ph * pw), dtype=x.dtype)   # the samples' planes, one below the other
        for g in range(count):
            _copy_planes(x[first_sample + g, channel], planes[:, :, g * ph * pw:(g + 1) * ph * pw], m, pad, ph, pw,
                         True)
        # Both passes run down the whole stack: the `reach` rows of tiles at the foot of
        # each sample's planes read into the next sample's, and are dropped at the end.
        length = (count * ph - reach) * pw
        rows = np.zeros((a, m, length + pw), dtype=x.dtype)
        for xi in range(a):                              # vertical: BT down the columns of every tile
            for i in range(a):
                for q in range(m):
                    _add_scaled(rows[xi, q], bt[xi, i], planes[i % m, q, (i // m) * pw:], length)
        block = np.empty(length, dtype=x.dtype)
        for xi in range(a):                              # horizontal: BT along the rows of every tile
            for nu in range(a):
                block[:] = 0
                for j in range(a):
                    _add_scaled(block, bt[nu, j], rows[xi, j % m, j // m:], length)
                for g in range(count):                   # keep each sample's tiles, in tile order
                    first_tile = (first_sample + g) * th * tw
                    for ty in range(th):
                        dst = v[xi * a + nu, channel, first_tile + ty * tw:]
                        src = block[(g * ph + ty) * pw:]
                        for tx in range(tw):
                            dst[tx] = src[tx]


def output_transform(mt, m, r, bias, out_shape, out=None):
    """mt: (a*a, F, N*TH*TW) -> y: out_shape = (N, F, OH, OW), plus bias[f]."""
    at = winograd_matrices(m, r)[0].astype(mt.dtype)
    y = np.empty(out_shape, dtype=mt.dtype) if out is None else check_out(out, out_shape, mt.dtype)
    tiles = np.kron(at, at) @ mt.reshape(mt.shape[0], -1)
    _place_tiles(tiles.reshape(m * m, mt.shape[1], -1), m, bias.astype(mt.dtype), y)
    return y


@njit(parallel=True, cache=True)
def _place_tiles(tiles, m, bias, y):
    """y[n, f, ty*m + u, tx*m + v] = tiles[u*m + v, f, tile (n, ty, tx)] + bias[f], overhang dropped."""
    n, f, oh, ow = y.shape
    th, tw = ceil_div_compiled(oh, m), ceil_div_compiled(ow, m)
    for task in prange(n * f):
        sample, channel = task // f, task % f
        for row in range(oh):
            ty, u = row // m, row % m
            dst = y[sample, channel, row]
            for v_ in range(m):
                src = tiles[u * m + v_, channel, (sample * th + ty) * tw:]
                for tx in range(ceil_div_compiled(ow - v_, m)):     # the tiles whose column tx*m + v_ is inside
                    dst[tx * m + v_] = src[tx] + bias[channel]


def output_transform_adjoint(dy, m, r, out=None):
    """dy: (N, F, OH, OW) -> dM: (a*a, F, N*TH*TW)."""
    n, f, oh, ow = dy.shape
    at = winograd_matrices(m, r)[0].astype(dy.dtype)
    a = at.shape[1]
    th, tw = ceil_div(oh, m), ceil_div(ow, m)
    shape = (a * a, f, n * th * tw)
    dm = np.empty(shape, dtype=dy.dtype) if out is None else check_out(out, shape, dy.dtype)
    _output_transform_adjoint_into(dy, at, samples_per_task(th * tw), dm)
    return dm


@njit(parallel=True, cache=True)
def _output_transform_adjoint_into(dy, at, group, dm):
    n, f, oh, ow = dy.shape
    m, a = at.shape
    th, tw = ceil_div_compiled(oh, m), ceil_div_compiled(ow, m)
    tiles = th * tw
    for task in prange(ceil_div_compiled(n, group) * f):
        first_sample, channel = task // f * group, task % f
        count = min(group, n - first_sample)
        length = count * tiles
        gathered = np.zeros((m, m, length), dtype=dy.dtype)   # dY of every tile, zero past the output
        for g in range(count):
            for u in range(m):
                for v_ in range(m):
                    dst = gathered[u, v_, g * tiles:]
                    for ty in range(th):
                        if ty * m + u >= oh:
                            break
                        src = dy[first_sample + g, channel, ty * m + u]
                        for tx in range(tw):
                            if tx * m + v_ < ow:
                                dst[ty * tw + tx] = src[tx * m + v_]
        half = np.zeros((a, m, length), dtype=dy.dtype)       # A @ dY, for every tile
        for u in range(m):
            for xi in range(a):
                for v_ in range(m):
                    _add_scaled(half[xi, v_], at[u, xi], gathered[u, v_], length)
        first_tile = first_sample * tiles
        for xi in range(a):                                   # then @ A.T
            for nu in range(a):
                dst = dm[xi * a + nu, channel, first_tile:first_tile + length]
                dst[:] = 0
                for v_ in range(m):
                    _add_scaled(dst, at[v_, nu], half[xi, v_], length)


def input_transform_adjoint(dv, x_shape, m, r, pad, out=None):
    """dv: (a*a, C, N*TH*TW) -> dx: x_shape = (N, C, H, W), overlapping tiles summed."""
    n, c, h, w = x_shape
    _, _, th, tw = tile_counts(h, w, m, r, pad)
    bt = winograd_matrices(m, r)[2].astype(dv.dtype)
    dx = np.empty(x_shape, dtype=dv.dtype) if out is None else check_out(out, x_shape, dv.dtype)
    _input_transform_adjoint_into(dv, bt, m, pad, th, tw, samples_per_task(th * tw), dx)
    return dx


@njit(parallel=True, cache=True)
def _input_transform_adjoint_into(dv, bt, m, pad, th, tw, group, dx):
    n, c = dx.shape[:2]
    a = bt.shape[0]
    ph, pw = _plane_size(th, a, m), _plane_size(tw, a, m)
    tiles = th * tw
    for task in prange(ceil_div_compiled(n, group) * c):
        first_sample, channel = task // c * group, task % c
        count = min(group, n - first_sample)
        first_tile, length = first_sample * tiles, count * tiles
        half = np.zeros((a, a, length), dtype=dv.dtype)       # dV @ BT, for every tile
        for xi in range(a):
            for nu in range(a):
                src = dv[xi * a + nu, channel, first_tile:first_tile + length]
                for j in range(a):
                    _add_scaled(half[xi, j], bt[nu, j], src, length)
        planes = np.zeros((m, m, count * ph * pw), dtype=dv.dtype)   # the samples' planes, one below the other
        tile_values = np.empty(length, dtype=dv.dtype)
        for i in range(a):                                    # then BT.T @, summed into the planes
            for j in range(a):
                tile_values[:] = 0
                for xi in range(a):
                    _add_scaled(tile_values, bt[xi, i], half[xi, j], length)
                for g in range(count):
                    for ty in range(th):
                        dst = planes[i % m, j % m, (g * ph + ty + i // m) * pw + j // m:]
                        src = tile_values[(g * th + ty) * tw:]
                        for tx in range(tw):
                            dst[tx] += src[tx]
        for g in range(count):                                # back from the planes to the images
            _copy_planes(dx[first_sample + g, channel], planes[:, :, g * ph * pw:(g + 1) * ph * pw], m, pad, ph, pw,
                         False)
