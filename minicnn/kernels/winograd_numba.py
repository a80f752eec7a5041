"""Winograd transforms compiled with numba: same contract as winograd_numpy (see there).

Threads take a few whole images each (TASK_TILES tiles' worth; an image is one channel of
one sample), so no two threads ever write the same element: in the adjoints a few samples
of one channel, in the forward input transform a few images counted channel by channel,
which at batch 1 means a few channels. Within a task, the loops are arranged so that the
innermost one runs over all the task's tiles at once, a long contiguous loop the compiler
turns into vector instructions, instead of over the 8 entries of one tile. (Taking one
sample at a time, the report's last conv layer had loops of 16 tiles; grouping samples
made its three transforms 2-3 times faster, and the transforms of all three Winograd
layers about 1.5 times: 187 to 120 ms a training step at batch 64.)

The trick for the input side is a polyphase split of the zero-padded image: with
output tiles m apart, pixel (k*m + p, l*m + q) goes to plane (p, q) at (k, l). Input
tile (ty, tx) reads pixel (ty*m + i, tx*m + j), which sits in plane (i % m, j % m) at
(ty + i // m, tx + j // m): for a fixed (i, j), the pixels of all tiles form one
block of a plane, rows of consecutive elements. So each transform is a sum of
(coefficient x whole block) terms:

    rows  [xi, q, ty, l] = sum_i BT[xi, i] * plane[i % m, q][ty + i // m, l]       (vertical)
    V[xi, nu][ty, tx]    = sum_j BT[nu, j] * rows[xi, j % m][ty, tx + j // m]      (horizontal)

Padding is the zeros around the image in the planes. Rows of BT for the points p and -p
are mirrored (winograd_matrices.mirrored_rows): such a pair sums its even-numbered terms E
and its odd-numbered ones O once, and gives E + O and E - O, in both passes.

Moving values between layouts (image -> planes, the transform's blocks -> V's tile
order, and back in the adjoints) goes through index maps computed once per call in
NumPy: a flat array giving, for each pixel or tile, where it goes. The compiled loop is
then one flat copy, `dst[t] = src[where[t]]`, whatever the image size. Walking the same
copies as nested loops over rows and phases cost more than the arithmetic for small
images: vgg_bn's 6x6 layers have rows of 2 tiles, and on its last layer (256 channels,
batch 64, 2 threads) the copies were 5.1 of the input transform's 6.4 ms.

The output transform is, as in the NumPy reference, one matrix product kron(AT, AT) @ M
(BLAS does its (m*m, a*a) @ (a*a, F*tiles) faster than loops do: 19 instead of 28 ms for
the report's 5x5 layer at batch 64, 0.21 instead of 0.31 ms at batch 1), then a loop
puts each tile's m x m results in place. Its adjoint works on the (a*a, tiles) rows of M,
contiguous per task, with loops: there the product measured no faster. The input side
stays loops: kron(BT, BT) is (a*a, a*a), four times the arithmetic of the two passes
above. The filter transforms are one small matrix product each and stay in NumPy.
"""
from functools import lru_cache

import numpy as np
from numba import njit, prange

from minicnn.kernels.relu_numba import relu_of
from minicnn.kernels.shapes import ceil_div, check_out
from minicnn.kernels.winograd_matrices import mirrored_rows, winograd_matrices
from minicnn.kernels.winograd_numpy import filter_transform, filter_transform_adjoint, tile_counts

# A thread's task is one channel of a few samples, about this many tiles in all: the
# loops then run over all those tiles at once, long enough for vector instructions even
# where an image has few tiles (16 in the report's last conv), and the task's scratch
# arrays stay in the core's cache.
TASK_TILES = 512

__all__ = ["filter_transform", "filter_transform_adjoint", "input_transform", "input_transform_adjoint",
           "output_transform", "output_transform_adjoint"]


def images_per_task(tiles_per_image, images):
    """How many images a thread's task takes at once: about TASK_TILES tiles' worth, and no
    more than the call has (a task's scratch arrays are sized for that many)."""
    return max(1, min(images, TASK_TILES // tiles_per_image))


ceil_div_compiled = njit(inline="always")(ceil_div)   # the same function, callable from compiled loops


def read_only(array):
    array.setflags(write=False)
    return array


# The index maps and matrices below depend on the layer's shapes alone, so each is computed
# once and kept (read-only): at batch 1, computing them took 0.17 ms of the report's 5x5
# layer's 4 (np.kron 58 us, a PlaneLayout 86, the output's map 30: NumPy calls on small
# arrays cost more than their arithmetic).
@lru_cache(maxsize=256)
def phase_positions(h, w, m, phase_stride, row_length, pad=0):
    """Where each pixel of an h x w image goes when the image, shifted by `pad`, is split m x m
    ways: pixel (y, x), numbered y*w + x, at Y = y + pad, X = x + pad, belongs to phase
    (Y % m, X % m) at (Y // m, X // m). Phases lie phase_stride apart, rows row_length apart:
    position = (Y % m * m + X % m) * phase_stride + Y // m * row_length + X // m.
    The phase planes of the input side are such a split, and so are the m x m entries of
    the output side's tiles (phase = entry, position within = tile)."""
    rows, cols = np.arange(h) + pad, np.arange(w) + pad
    phase = (rows % m)[:, None] * m + cols % m
    return read_only((phase * phase_stride + (rows // m)[:, None] * row_length + cols // m).ravel())


class PlaneLayout:
    """Where the input side's phase planes put each pixel and each tile, for one call that
    stacks `images` H x W images (one channel each) a task at a time.

    A task's planes are an (m, m, group * PH * PW) array: plane (p, q) holds the task's
    images one below the other, each PH x PW. PH = TH plus the rows the last tile
    reaches below its own (the same for PW).
        pixels[y*W + x]  flat index in the planes of image 0's pixel (y, x)
        tiles[t]         index within a plane of tile t = (g, ty, tx) of the task, numbered as in V
    """

    def __init__(self, images, h, w, m, r, pad):
        a = m + r - 1
        _, _, self.th, self.tw = tile_counts(h, w, m, r, pad)
        self.ph, self.pw = self.th + ceil_div(a - m, m), self.tw + ceil_div(a - m, m)
        self.group = images_per_task(self.th * self.tw, images)
        self.pixels = phase_positions(h, w, m, self.group * self.ph * self.pw, self.pw, pad)
        g, ty, tx = np.meshgrid(np.arange(self.group), np.arange(self.th), np.arange(self.tw), indexing="ij")
        self.tiles = read_only(((g * self.ph + ty) * self.pw + tx).ravel())


plane_layout = lru_cache(maxsize=128)(PlaneLayout)   # PlaneLayout(...), computed once per shape


@lru_cache(maxsize=64)
def output_matrix(m, r, dtype):
    """kron(AT, AT), (m*m, a*a), in dtype: the output transform of a whole tile as one matrix."""
    at = winograd_matrices(m, r)[0]
    return read_only(np.kron(at, at).astype(dtype))


def image_rows(array):
    """(N, C, H, W) -> the same memory as (N, C, H*W): compiled loops write through it."""
    if not array.flags.c_contiguous:
        raise ValueError("the Winograd kernels need C-contiguous arrays")
    n, c, h, w = array.shape
    return array.reshape(n, c, h * w)


def input_transform(x, m, r, pad, out=None):
    """x: (N, C, H, W) -> V: (a*a, C, N*TH*TW)."""
    n, c, h, w = x.shape
    layout = plane_layout(n * c, h, w, m, r, pad)
    bt = winograd_matrices(m, r)[2].astype(x.dtype)
    shape = (bt.shape[0] ** 2, c, n * layout.th * layout.tw)
    v = np.empty(shape, dtype=x.dtype) if out is None else check_out(out, shape, x.dtype)
    _input_transform_into(image_rows(np.ascontiguousarray(x)), bt, *mirrored_rows(m, r), m, layout.th, layout.tw,
                          layout.ph, layout.pw, layout.group, layout.pixels, layout.tiles, v)
    return v


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
def _input_transform_into(x, bt, pairs, singles, m, th, tw, ph, pw, group, pixels, tiles, v):
    # A task stacks `group` images, numbered channel by channel (image k: channel k // N,
    # sample k % N): in training, a few samples of one channel; at batch 1, a few channels,
    # which gives the passes below loops several images long (the report's 5x5 layer at
    # batch 1: 500 tiles instead of 100).
    n, c, hw = x.shape
    a = bt.shape[0]
    reach = ph - th                                      # plane rows a tile reads below its own
    per_image = th * tw
    for task in prange(ceil_div_compiled(n * c, group)):
        first_image = task * group
        count = min(group, n * c - first_image)
        planes = np.zeros((m, m, group * ph * pw), dtype=x.dtype)   # the images' planes, one below the other
        flat_planes = planes.reshape(-1)
        for g in range(count):
            channel, sample = divmod(first_image + g, n)
            image, offset = x[sample, channel], g * ph * pw
            for t in range(hw):
                flat_planes[pixels[t] + offset] = image[t]
        # Both passes run down the whole stack: the `reach` rows of tiles at the foot of
        # each image's planes read into the next image's, and are dropped at the end.
        length = (count * ph - reach) * pw
        rows = np.zeros((a, m, length + pw), dtype=x.dtype)
        for s in range(singles.size):                    # vertical: BT down the columns of every tile
            xi = singles[s]
            for i in range(a):
                for q in range(m):
                    _add_scaled(rows[xi, q], bt[xi, i], planes[i % m, q, (i // m) * pw:], length)
        for pair in range(pairs.shape[0]):               # a mirrored pair: E + O and E - O
            plus, minus = pairs[pair, 0], pairs[pair, 1]
            for q in range(m):
                even, odd = rows[plus, q], rows[minus, q]
                for i in range(a):
                    _add_scaled(even if i % 2 == 0 else odd, bt[plus, i], planes[i % m, q, (i // m) * pw:], length)
                for t in range(length):
                    e, o = even[t], odd[t]
                    even[t], odd[t] = e + o, e - o
        even, odd = np.empty(length, dtype=x.dtype), np.empty(length, dtype=x.dtype)
        for xi in range(a):                              # horizontal: BT along the rows of every tile
            for s in range(singles.size):
                nu = singles[s]
                even[:] = 0
                for j in range(a):
                    _add_scaled(even, bt[nu, j], rows[xi, j % m, j // m:], length)
                for g in range(count):                   # keep each image's tiles, in tile order
                    channel, sample = divmod(first_image + g, n)
                    dst = v[xi * a + nu, channel, sample * per_image:(sample + 1) * per_image]
                    where = tiles[g * per_image:(g + 1) * per_image]
                    for t in range(per_image):
                        dst[t] = even[where[t]]
            for pair in range(pairs.shape[0]):
                plus, minus = pairs[pair, 0], pairs[pair, 1]
                even[:] = 0
                odd[:] = 0
                for j in range(a):
                    _add_scaled(even if j % 2 == 0 else odd, bt[plus, j], rows[xi, j % m, j // m:], length)
                for g in range(count):                   # E + O and E - O, each image's tiles in tile order
                    channel, sample = divmod(first_image + g, n)
                    first = sample * per_image
                    dst_plus = v[xi * a + plus, channel, first:first + per_image]
                    dst_minus = v[xi * a + minus, channel, first:first + per_image]
                    where = tiles[g * per_image:(g + 1) * per_image]
                    for t in range(per_image):
                        e, o = even[where[t]], odd[where[t]]
                        dst_plus[t], dst_minus[t] = e + o, e - o


def output_transform(mt, m, r, bias, out_shape, out=None, relu=False):
    """mt: (a*a, F, N*TH*TW) -> y: out_shape = (N, F, OH, OW), plus bias[f] (then max(y, 0) with relu)."""
    y = np.empty(out_shape, dtype=mt.dtype) if out is None else check_out(out, out_shape, mt.dtype)
    _, _, oh, ow = out_shape
    tiles = output_matrix(m, r, mt.dtype) @ mt.reshape(mt.shape[0], -1)  # (m*m, F*T)
    tw = ceil_div(ow, m)
    # Output pixel (y, x) is entry (y % m, x % m) of tile (y // m, x // m).
    sources = phase_positions(oh, ow, m, tiles.shape[1], tw)
    _place_tiles(tiles.reshape(-1), sources, ceil_div(oh, m) * tw, bias.astype(mt.dtype), relu, image_rows(y))
    return y


@njit(parallel=True, cache=True)
def _place_tiles(tiles, sources, tiles_per_sample, bias, relu, y):
    """y[n, f, pixel] = tiles[sources[pixel] + offset of (f, n)] + bias[f]; overhang never read."""
    n, f, hw = y.shape
    for task in prange(n * f):
        sample, channel = task // f, task % f
        offset = (channel * n + sample) * tiles_per_sample
        dst, b = y[sample, channel], bias[channel]
        if relu:
            for t in range(hw):
                dst[t] = relu_of(tiles[sources[t] + offset] + b)
        else:
            for t in range(hw):
                dst[t] = tiles[sources[t] + offset] + b


def output_transform_adjoint(dy, m, r, out=None):
    """dy: (N, F, OH, OW) -> dM: (a*a, F, N*TH*TW)."""
    n, f, oh, ow = dy.shape
    at = winograd_matrices(m, r)[0].astype(dy.dtype)
    a = at.shape[1]
    th, tw = ceil_div(oh, m), ceil_div(ow, m)
    shape = (a * a, f, n * th * tw)
    dm = np.empty(shape, dtype=dy.dtype) if out is None else check_out(out, shape, dy.dtype)
    group = images_per_task(th * tw, n)
    # Where each output pixel goes in a task's (m, m, group * tiles) array of tile entries.
    targets = phase_positions(oh, ow, m, group * th * tw, tw)
    _output_transform_adjoint_into(image_rows(np.ascontiguousarray(dy)), at, th * tw, group, targets, dm)
    return dm


@njit(parallel=True, cache=True)
def _output_transform_adjoint_into(dy, at, tiles, group, targets, dm):
    n, f, hw = dy.shape
    m, a = at.shape
    for task in prange(ceil_div_compiled(n, group) * f):
        first_sample, channel = task // f * group, task % f
        count = min(group, n - first_sample)
        length = count * tiles
        gathered = np.zeros((m, m, group * tiles), dtype=dy.dtype)   # dY of every tile, zero past the output
        flat_gathered = gathered.reshape(-1)
        for g in range(count):
            image, offset = dy[first_sample + g, channel], g * tiles
            for t in range(hw):
                flat_gathered[targets[t] + offset] = image[t]
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
    layout = plane_layout(n, h, w, m, r, pad)          # a task: a few samples of one channel
    bt = winograd_matrices(m, r)[2].astype(dv.dtype)
    dx = np.empty(x_shape, dtype=dv.dtype) if out is None else check_out(out, x_shape, dv.dtype)
    _input_transform_adjoint_into(dv, bt, m, layout.th, layout.tw, layout.ph, layout.pw, layout.group,
                                  layout.pixels, layout.tiles, image_rows(dx))
    return dx


@njit(parallel=True, cache=True)
def _input_transform_adjoint_into(dv, bt, m, th, tw, ph, pw, group, pixels, tiles, dx):
    n, c, hw = dx.shape
    a = bt.shape[0]
    for task in prange(ceil_div_compiled(n, group) * c):
        first_sample, channel = task // c * group, task % c
        count = min(group, n - first_sample)
        first_tile, length = first_sample * th * tw, count * th * tw
        half = np.zeros((a, a, length), dtype=dv.dtype)       # dV @ BT, for every tile
        for xi in range(a):
            for nu in range(a):
                src = dv[xi * a + nu, channel, first_tile:first_tile + length]
                for j in range(a):
                    _add_scaled(half[xi, j], bt[nu, j], src, length)
        planes = np.zeros((m, m, group * ph * pw), dtype=dv.dtype)   # the samples' planes, one below the other
        tile_values = np.empty(length, dtype=dv.dtype)
        for i in range(a):                                    # then BT.T @, summed into the planes
            for j in range(a):
                tile_values[:] = 0
                for xi in range(a):
                    _add_scaled(tile_values, bt[xi, i], half[xi, j], length)
                dst = planes[i % m, j % m, (i // m) * pw + j // m:]
                for t in range(length):
                    dst[tiles[t]] += tile_values[t]
        flat_planes = planes.reshape(-1)
        for g in range(count):                                # back from the planes to the images
            image, offset = dx[first_sample + g, channel], g * ph * pw
            for t in range(hw):
                image[t] = flat_planes[pixels[t] + offset]
