"""2-D convolution (cross-correlation, as in every deep-learning library)."""
import numpy as np

from minicnn import kernels
from minicnn.init import initializer
from minicnn.layers.base import Layer

# im2col multiplies the input by kh*kw; the conv works through the batch a few samples
# at a time so that the column matrix of a chunk stays near this size instead of
# growing with the batch (hundreds of MB for the report's 64->64 5x5 layer at batch 64).
CHUNK_BYTES = 128 * 2**20


class Conv2D(Layer):
    """Conv2D(in_channels, out_channels, kernel_size, stride=1, padding=0)

    x: (N, C, H, W) -> out: (N, F, OH, OW), with C = in_channels, F = out_channels,
        OH = (H + 2*padding - KH) // stride + 1   (and the same for OW)
    params W: (F, C, KH, KW), b: (F,)

        out[n, f, y, x] = b[f] + sum_{c,i,j} W[f, c, i, j] * xpad[n, c, y*stride + i, x*stride + j]

    padding: an int (zeros on every side), "valid" (0) or "same" (KH // 2, which keeps
    H and W at stride 1; odd kernels only, so that both sides get the same padding).

    Forward: im2col lays every receptive field out as a column, then one matrix product
    per sample, W.reshape(F, C*KH*KW) @ cols[n], gives all F output maps.
    Backward: with d = dout[n].reshape(F, OH*OW),
        dW += d @ cols[n].T       db = sum of dout over n, y, x
        dx[n] = col2im(W.reshape(F, -1).T @ d)
    The columns are rebuilt in backward rather than cached: recomputing them costs far
    less than the matrix products, and caching them would cost kh*kw times the input's memory.
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 init="glorot_uniform", rng=None, dtype=np.float32):
        super().__init__()
        kh, kw = (kernel_size, kernel_size) if isinstance(kernel_size, int) else tuple(kernel_size)
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.kernel_size, self.stride, self.init = (kh, kw), int(stride), init
        self.padding = padding
        self.pad = self._padding_amount(padding, kh, kw)
        rng = np.random.default_rng() if rng is None else rng
        fan_in, fan_out = in_channels * kh * kw, out_channels * kh * kw
        self.params["W"] = initializer(init)((out_channels, in_channels, kh, kw), fan_in, fan_out, rng, dtype)
        self.params["b"] = np.zeros(out_channels, dtype=dtype)
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        self._x = None
        self._scratch = {}

    @staticmethod
    def _padding_amount(padding, kh, kw):
        if padding == "valid":
            return 0
        if padding == "same":
            if kh != kw or kh % 2 == 0:
                raise ValueError(f"padding='same' needs a square, odd kernel, got {kh}x{kw}")
            return kh // 2
        if isinstance(padding, (int, np.integer)) and padding >= 0:
            return int(padding)
        raise ValueError(f"padding must be a non-negative int, 'valid' or 'same', got {padding!r}")

    def output_shape(self, input_shape):
        c, h, w = input_shape
        if c != self.in_channels:
            raise ValueError(f"Conv2D expects {self.in_channels} input channels, got {c}")
        kh, kw = self.kernel_size
        oh = kernels.conv_output_size(h, kh, self.stride, self.pad)
        ow = kernels.conv_output_size(w, kw, self.stride, self.pad)
        if oh < 1 or ow < 1:
            raise ValueError(f"Conv2D {kh}x{kw} kernel does not fit a {h}x{w} input")
        return (self.out_channels, oh, ow)

    def _chunk_size(self, x):
        kh, kw = self.kernel_size
        _, oh, ow = self.output_shape(x.shape[1:])
        bytes_per_sample = self.in_channels * kh * kw * oh * ow * x.itemsize
        return max(1, CHUNK_BYTES // bytes_per_sample)

    def _scratch_buffer(self, name, shape, dtype):
        """A buffer kept between calls: a fresh 30 MB array each time costs page faults, not just a malloc."""
        buffer = self._scratch.get(name)
        if buffer is None or buffer.shape != shape or buffer.dtype != dtype:
            buffer = self._scratch[name] = np.empty(shape, dtype=dtype)
        return buffer

    def forward(self, x, training=False):
        n = x.shape[0]
        f, oh, ow = self.output_shape(x.shape[1:])
        (kh, kw), stride, pad = self.kernel_size, self.stride, self.pad
        w_rows = self.params["W"].reshape(f, -1)
        out = np.empty((n, f, oh, ow), dtype=np.result_type(x, w_rows))
        step = max(1, min(self._chunk_size(x), n))
        cols_buffer = self._scratch_buffer("cols", (step, w_rows.shape[1], oh * ow), x.dtype)
        for start in range(0, n, step):
            stop = min(start + step, n)
            cols = kernels.im2col(x[start:stop], kh, kw, stride, pad, out=cols_buffer[:stop - start])
            np.matmul(w_rows, cols, out=out[start:stop].reshape(-1, f, oh * ow))
        out += self.params["b"].reshape(1, f, 1, 1)
        self._x = x
        return out

    def backward(self, dout):
        x = self._x
        n, f = dout.shape[:2]
        (kh, kw), stride, pad = self.kernel_size, self.stride, self.pad
        w_rows = self.params["W"].reshape(f, -1)
        dw_rows = np.zeros_like(w_rows)
        dx = np.empty(x.shape, dtype=np.result_type(dout, w_rows))
        step = max(1, min(self._chunk_size(x), n))
        cols_shape = (step, w_rows.shape[1], dout.shape[2] * dout.shape[3])
        cols_buffer = self._scratch_buffer("cols", cols_shape, x.dtype)
        dcols_buffer = self._scratch_buffer("dcols", cols_shape, dx.dtype)
        for start in range(0, n, step):
            stop = min(start + step, n)
            cols = kernels.im2col(x[start:stop], kh, kw, stride, pad, out=cols_buffer[:stop - start])
            d = dout[start:stop].reshape(stop - start, f, -1)
            for sample in range(stop - start):
                dw_rows += d[sample] @ cols[sample].T
            dcols = np.matmul(w_rows.T, d, out=dcols_buffer[:stop - start])
            kernels.col2im(dcols, dx[start:stop].shape, kh, kw, stride, pad, out=dx[start:stop])
        self.grads["W"][...] = dw_rows.reshape(self.params["W"].shape)
        self.grads["b"][...] = dout.sum(axis=(0, 2, 3))
        return dx

    def config(self):
        return {"in_channels": self.in_channels, "out_channels": self.out_channels,
                "kernel_size": list(self.kernel_size), "stride": self.stride,
                "padding": self.padding, "init": self.init}
