"""2-D convolution (cross-correlation, as in every deep-learning library)."""
import math
from typing import NamedTuple

import numpy as np

from minicnn.backend import active_kernels
from minicnn.init import initializer
from minicnn.kernels.shapes import ceil_div, conv_output_size
from minicnn.kernels.winograd_matrices import MAX_TILE, best_output_tile
from minicnn.layers.base import Layer, positive_int

# im2col multiplies the input by kh*kw; the conv works through the batch a few samples
# at a time so that the column matrix of a chunk stays near this size instead of
# growing with the batch (hundreds of MB for the report's 64->64 5x5 layer at batch 64).
CHUNK_BYTES = 128 * 2**20
# Winograd inference chunks its transformed tiles V and its products M the same way, but
# small, so that the products read V, and the output transform M, from the cores' caches
# rather than from memory: for the report's 5x5 layer one sample's V is 1.6 MB. Whole
# networks at batch 256, chunks of 4 MiB against 128 taking turns (ms per image): the
# report network 3.03 -> 2.74 and 3.05 -> 2.83 with numba, 9.67 -> 7.01 with NumPy;
# vgg_bn (folded) 2.01 -> 2.00 with numba, 5.47 -> 4.44 with NumPy. (8 MiB measured slower
# than both; training keeps V whole for backward and does not chunk.)
WINOGRAD_CHUNK_BYTES = 4 * 2**20

ALGORITHMS = ("auto", "im2col", "winograd")
# "auto" takes Winograd for the kernel sizes listed here when the layer has at least
# WINOGRAD_MIN_CHANNELS input channels: in training always (backward reuses the transformed
# input), in inference when its matrix products have at least WINOGRAD_MIN_COLUMNS columns
# (one per output tile of the batch; docs/winograd.md). Narrower products are close to
# matrix-vector products, which BLAS runs at a fraction of its speed, and the transforms
# then cost more than the multiplications saved: vgg_bn's 12x12 and 6x6 layers at batch 1
# (9 and 4 columns) took 1.1-1.35 times as long by Winograd as by im2col, while the report's
# 3x3 layers and vgg_bn's 64-channel 24x24 layer (16 to 36 columns) took 0.7-0.77 times as
# long, and its 32-channel 24x24 layer (36 columns) was level (1.04).
# With few input channels (the report's first layer has one) the products are too thin
# to pay for the transforms; 7x7 and up would need tiles larger than the accurate ones.
AUTO_WINOGRAD_KERNELS = (3, 5)
WINOGRAD_MIN_CHANNELS = 16
WINOGRAD_MIN_COLUMNS = 16


def batch_chunks(n, bytes_per_sample, chunk_bytes):
    """Slices that cut a batch of n samples into chunks of about chunk_bytes of temporaries."""
    step = max(1, min(n, chunk_bytes // bytes_per_sample))
    return [slice(start, min(start + step, n)) for start in range(0, n, step)]


class ForwardCache(NamedTuple):
    """What forward keeps for backward. After the Winograd path also its output tile size m,
    the transformed filters U and, in training, the transformed input V."""
    x: np.ndarray
    winograd: bool = False
    m: int = 0
    u: np.ndarray | None = None
    v: np.ndarray | None = None


class FilterTransform(NamedTuple):
    """Winograd's transformed filters U for tile size m, and a copy of the weights they came from."""
    m: int
    weights: np.ndarray
    u: np.ndarray


class Conv2D(Layer):
    """Conv2D(in_channels, out_channels, kernel_size, stride=1, padding=0)

    x: (N, C, H, W) -> out: (N, F, OH, OW), with C = in_channels, F = out_channels,
        OH = (H + 2*padding - KH) // stride + 1   (and the same for OW)
    params W: (F, C, KH, KW), b: (F,)

        out[n, f, y, x] = b[f] + sum_{c,i,j} W[f, c, i, j] * xpad[n, c, y*stride + i, x*stride + j]

    padding: an int (zeros on every side), "valid" (0) or "same" (KH // 2, which keeps
    H and W at stride 1; odd kernels only, so that both sides get the same padding).

    Forward: im2col lays every receptive field out as a column, then one matrix product
    per sample, W_rows @ cols[n] with W_rows = W.reshape(F, C*KH*KW), gives all F output maps.
    Backward: with d = dout[n].reshape(F, OH*OW),
        dW += d @ cols[n].T       db = sum of dout over n, y, x
        dx[n] = col2im(W_rows.T @ d)
    The columns are rebuilt in backward rather than cached: recomputing them costs far
    less than the matrix products, and caching them would cost kh*kw times the input's memory.

    algorithm: "im2col" (above, any stride and kernel), "winograd" (stride 1, square
    kernels up to 7x7: the same function with fewer multiplications, see
    minicnn.kernels.winograd_numpy and docs/winograd.md) or "auto" (Winograd where
    AUTO_WINOGRAD_KERNELS, WINOGRAD_MIN_CHANNELS and WINOGRAD_MIN_COLUMNS say it pays, im2col elsewhere; uses_winograd
    makes the choice). Winograd's output tile m x m is chosen per output size (best_output_tile).
    Both give the same result up to float rounding; float32 Winograd rounds a few
    times more than im2col (about 3e-5 relative for 5x5 kernels, measured in the tests).
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 init="glorot_uniform", rng=None, dtype=np.float32, algorithm="auto"):
        super().__init__()
        shapes = self.parameter_shapes(in_channels, out_channels, kernel_size)
        (self.out_channels, self.in_channels, kh, kw) = shapes["W"]
        self.kernel_size, self.stride, self.init = (kh, kw), positive_int(stride, "stride"), init
        self.padding = padding
        self.pad = self._padding_amount(padding, kh, kw)
        self.algorithm = algorithm
        self._check_algorithm(algorithm)
        rng = np.random.default_rng() if rng is None else rng
        fan_in, fan_out = in_channels * kh * kw, out_channels * kh * kw
        self.params["W"] = initializer(init)(shapes["W"], fan_in, fan_out, rng, dtype)
        self.params["b"] = np.zeros(shapes["b"], dtype=dtype)
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        self._cache = None                  # ForwardCache of the last forward
        self._filter_transform = None       # FilterTransform of the last Winograd forward
        self._scratch = {}                  # name -> memory reused by the large temporaries

    @classmethod
    def parameter_shapes(cls, in_channels, out_channels, kernel_size, **_):
        if isinstance(kernel_size, (list, tuple)) and len(kernel_size) == 2:
            kh, kw = (positive_int(k, "kernel_size") for k in kernel_size)
        else:
            kh = kw = positive_int(kernel_size, "kernel_size")
        in_channels, out_channels = positive_int(in_channels, "in_channels"), positive_int(out_channels, "out_channels")
        return {"W": (out_channels, in_channels, kh, kw), "b": (out_channels,)}

    @staticmethod
    def _padding_amount(padding, kh, kw):
        if padding == "valid":
            return 0
        if padding == "same":
            if kh != kw or kh % 2 == 0:
                raise ValueError(f"padding='same' needs a square, odd kernel, got {kh}x{kw}")
            return kh // 2
        if isinstance(padding, (int, np.integer)) and not isinstance(padding, bool) and padding >= 0:
            return int(padding)
        raise ValueError(f"padding must be a non-negative int, 'valid' or 'same', got {padding!r}")

    def _winograd_fits(self):
        """Whether Winograd can compute this layer: stride 1 and a square kernel with accurate tiles."""
        kh, kw = self.kernel_size
        return self.stride == 1 and kh == kw and kh + 1 <= MAX_TILE

    def _check_algorithm(self, algorithm):
        """Refuses what cannot be computed."""
        if algorithm not in ALGORITHMS:
            raise ValueError(f"algorithm must be one of {', '.join(ALGORITHMS)}, got {algorithm!r}")
        if algorithm == "winograd" and not self._winograd_fits():
            kh, kw = self.kernel_size
            raise ValueError(f"Winograd needs stride 1 and a square kernel up to {MAX_TILE - 1}x{MAX_TILE - 1}, "
                             f"got stride {self.stride} and {kh}x{kw}")

    def uses_winograd(self, training, x_shape):
        """Whether forward(x, training) with x.shape == x_shape takes the Winograd path (else
        im2col): the one place it is chosen."""
        if self.algorithm != "auto":
            return self.algorithm == "winograd"
        if not (self.kernel_size[0] in AUTO_WINOGRAD_KERNELS and self._winograd_fits()
                and self.in_channels >= WINOGRAD_MIN_CHANNELS):
            return False
        _, oh, ow = self.output_shape(x_shape[1:])
        m = best_output_tile(oh, ow, self.kernel_size[0])
        return training or x_shape[0] * ceil_div(oh, m) * ceil_div(ow, m) >= WINOGRAD_MIN_COLUMNS

    def output_shape(self, input_shape):
        c, h, w = input_shape
        if c != self.in_channels:
            raise ValueError(f"Conv2D expects {self.in_channels} input channels, got {c}")
        kh, kw = self.kernel_size
        oh = conv_output_size(h, kh, self.stride, self.pad)
        ow = conv_output_size(w, kw, self.stride, self.pad)
        if oh < 1 or ow < 1:
            raise ValueError(f"Conv2D {kh}x{kw} kernel does not fit a {h}x{w} input")
        return (self.out_channels, oh, ow)

    def forward(self, x, training=False, relu=False):
        """x: (N, C, H, W) -> out: (N, F, OH, OW);  out[n] = W_rows @ im2col(x)[n] + b.
        relu=True (inference only, see forward_relu): max(out, 0), applied as b is added."""
        if relu and training:
            raise ValueError("a fused ReLU is for inference: backward needs the ReLU layer's own output")
        if self.uses_winograd(training, x.shape):    # fast path: Winograd (docs/winograd.md), the same sums
            return self._forward_winograd(x, training, relu)
        f, oh, ow = self.output_shape(x.shape[1:])
        w_rows = self.params["W"].reshape(f, -1)                                # (F, C*KH*KW)
        out = np.empty((len(x), f, oh * ow), dtype=np.result_type(x, w_rows))
        for batch, cols in self._im2col_chunks(x):
            np.matmul(w_rows, cols, out=out[batch])                             # W_rows @ cols
        active_kernels().add_bias(out, self.params["b"], relu)                  # + b (then max(out, 0))
        self._cache = ForwardCache(x)
        return out.reshape(len(x), f, oh, ow)

    def forward_relu(self, x):
        return self.forward(x, training=False, relu=True)

    def backward(self, dout):
        """dout: (N, F, OH, OW) -> dx: (N, C, H, W); fills grads["W"] and grads["b"]."""
        return self._backward(dout, input_gradient=True)

    def backward_parameters(self, dout):
        """grads["W"] and grads["b"] from dout, without dx (its product and col2im, or Winograd's
        dV product and input transform adjoint)."""
        self._backward(dout, input_gradient=False)

    def _backward(self, dout, input_gradient):
        if self._cache.winograd:
            return self._backward_winograd(dout, input_gradient)
        x = self._cache.x
        (kh, kw), stride, pad = self.kernel_size, self.stride, self.pad
        w_rows = self.params["W"].reshape(self.out_channels, -1)                # (F, C*KH*KW)
        dout_rows = dout.reshape(len(dout), self.out_channels, -1)              # (N, F, OH*OW)
        dw_rows = np.zeros_like(w_rows)
        dx = np.empty(x.shape, dtype=np.result_type(dout, w_rows)) if input_gradient else None
        for batch, cols in self._im2col_chunks(x):
            for dout_n, cols_n in zip(dout_rows[batch], cols):
                dw_rows += dout_n @ cols_n.T                                    # dW = sum of dout_rows @ cols.T
            if input_gradient:                                                  # dx = col2im(W_rows.T @ dout_rows)
                dcols = np.matmul(w_rows.T, dout_rows[batch],
                                  out=self._scratch_buffer("dcols", cols.shape, dx.dtype))
                active_kernels().col2im(dcols, dx[batch].shape, kh, kw, stride, pad, out=dx[batch])
        self.grads["W"][...] = dw_rows.reshape(self.params["W"].shape)
        self.grads["b"][...] = dout.sum(axis=(0, 2, 3))                         # db = sum over n, y, x
        return dx

    def _im2col_chunks(self, x):
        """(batch slice, im2col(x[batch])) for chunks of the batch (see CHUNK_BYTES), the
        columns written into memory the layer keeps."""
        (kh, kw), stride, pad = self.kernel_size, self.stride, self.pad
        _, oh, ow = self.output_shape(x.shape[1:])
        rows = self.in_channels * kh * kw
        for batch in batch_chunks(len(x), rows * oh * ow * x.itemsize, CHUNK_BYTES):
            cols = self._scratch_buffer("cols", (batch.stop - batch.start, rows, oh * ow), x.dtype)
            yield batch, active_kernels().im2col(x[batch], kh, kw, stride, pad, out=cols)

    def _scratch_buffer(self, name, shape, dtype):
        """An array of that shape in memory kept between calls (and grown when too small):
        a fresh 30 MB array each time costs page faults, not just a malloc."""
        size = math.prod(shape)
        memory = self._scratch.get(name)
        if memory is None or memory.size < size or memory.dtype != dtype:
            memory = self._scratch[name] = np.empty(size, dtype=dtype)
        return memory[:size].reshape(shape)

    def _forward_winograd(self, x, training, relu):
        """Tiles of the input -> V, filters -> U, M = U @ V per tile position, tiles of M -> out.

        In training V is kept for backward (for the report's 5x5 layer it is a sixth of
        what im2col's columns would be); in inference the batch goes through in chunks small
        enough for the caches (WINOGRAD_CHUNK_BYTES).
        """
        kernels = active_kernels()
        f, oh, ow = self.output_shape(x.shape[1:])
        r, pad = self.kernel_size[0], self.pad
        m = best_output_tile(oh, ow, r)
        u = self._transformed_filters(m)
        out = np.empty((len(x), f, oh, ow), dtype=np.result_type(x, u))
        a2, tiles = (m + r - 1) ** 2, ceil_div(oh, m) * ceil_div(ow, m)
        bytes_per_sample = a2 * max(f, self.in_channels) * tiles * x.itemsize     # the larger of V and M
        chunks = ([slice(0, len(x))] if training
                  else batch_chunks(len(x), bytes_per_sample, WINOGRAD_CHUNK_BYTES))
        for batch in chunks:
            count = (batch.stop - batch.start) * tiles
            v = kernels.winograd_input_transform(x[batch], m, r, pad,
                                                 out=self._scratch_buffer("v", (a2, self.in_channels, count), x.dtype))
            products = kernels.stacked_matmul(u, v, out=self._scratch_buffer("m", (a2, f, count), out.dtype))
            kernels.winograd_output_transform(products, m, r, self.params["b"], out[batch].shape, out=out[batch],
                                              relu=relu)
        self._cache = ForwardCache(x, winograd=True, m=m, u=u, v=v if training else None)
        return out

    def _transformed_filters(self, m):
        """U for tile size m, recomputed only when the weights differ from those it was computed
        from: inference then skips it (at batch 1 it costs about a tenth of the layer), and
        the exact comparison keeps it right however the weights were changed. Weights frozen
        read-only (Sequential.freeze) cannot change, and are not compared: inside the network
        at batch 1 the comparison read 0.6-1.2 MB of weights and their copy from memory,
        0.12-0.18 ms a layer."""
        weights, last = self.params["W"], self._filter_transform
        frozen = _frozen(weights)
        if last is not None and last.m == m and last.weights is weights and frozen:
            return last.u
        if (last is None or last.m != m or last.weights.dtype != weights.dtype
                or not np.array_equal(last.weights, weights)):
            last = FilterTransform(m, weights if frozen else weights.copy(),
                                   active_kernels().winograd_filter_transform(weights, m))
        elif frozen:
            last = last._replace(weights=weights)     # the same values, now frozen: recognised by identity from now on
        self._filter_transform = last
        return last.u

    def _backward_winograd(self, dout, input_gradient):
        """dM = A dout A.T per tile; dU = dM @ V.T; dV = U.T @ dM; dx = tiles of B dV B.T, summed."""
        kernels = active_kernels()
        x, _, m, u, v = self._cache
        r, pad = self.kernel_size[0], self.pad
        if v is None:                         # forward ran in inference and did not keep V
            v = kernels.winograd_input_transform(x, m, r, pad)
        dm = kernels.winograd_output_transform_adjoint(dout, m, r, out=self._scratch_buffer(
            "m", (u.shape[0], u.shape[1], v.shape[2]), dout.dtype))
        self.grads["W"][...] = kernels.winograd_filter_transform_adjoint(np.matmul(dm, v.transpose(0, 2, 1)), m, r)
        self.grads["b"][...] = dout.sum(axis=(0, 2, 3))
        if not input_gradient:
            return None
        dv = np.matmul(u.transpose(0, 2, 1), dm, out=self._scratch_buffer("dv", v.shape, dm.dtype))
        return kernels.winograd_input_transform_adjoint(dv, x.shape, m, r, pad)

    def config(self):
        return {"in_channels": self.in_channels, "out_channels": self.out_channels,
                "kernel_size": list(self.kernel_size), "stride": self.stride,
                "padding": self.padding, "init": self.init, "algorithm": self.algorithm}


def _frozen(array):
    """Whether nothing can write the array: read-only and owning its memory (a read-only view
    of a writable array would change with it)."""
    return not array.flags.writeable and array.flags.owndata
