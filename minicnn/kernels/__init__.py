"""Low-level kernels behind the layers, each with two implementations of one contract.

    im2col(x, kh, kw, stride, pad, out=None)       (N, C, H, W) -> (N, C*kh*kw, OH*OW)
    col2im(cols, x_shape, kh, kw, stride, pad, out=None)
                                                   the adjoint: sums columns back into (N, C, H, W)
    maxpool_forward(x, ph, pw, stride)             -> out (N, C, OH, OW), argmax (N, C, OH, OW)
    maxpool_backward(dout, argmax, x_shape, ph, pw, stride) -> dx (N, C, H, W)
    maxpool(x, ph, pw, stride)                     -> out alone, for inference
    relu_forward(x), relu_backward(dout, out)      max(x, 0) and its gradient
    batchnorm_*                                    batch normalisation's per-channel passes
                                                   over (N, C, L) (see batchnorm_numpy)
    winograd_*                                     the transforms of a Winograd F(m, r)
                                                   convolution and their adjoints
                                                   (shapes in winograd_numpy)

`*_numpy.py` are the readable references; `*_numba.py` compile the same loops with
numba. `out`, where a kernel takes it, is an array of the result's shape to write into:
reused between calls, it spares the operating system from handing out (and zeroing)
fresh memory pages for every large temporary. The functions below dispatch to whichever the active backend names
(see minicnn.backend), importing the numba modules only when they are used.
"""
import importlib

from minicnn.backend import get_backend
from minicnn.kernels.shapes import ceil_div, check_out, conv_output_size  # noqa: F401  (the layers' shape arithmetic)

_MODULES = {
    ("im2col", "numpy"): "minicnn.kernels.im2col_numpy",
    ("im2col", "numba"): "minicnn.kernels.im2col_numba",
    ("pool", "numpy"): "minicnn.kernels.pool_numpy",
    ("pool", "numba"): "minicnn.kernels.pool_numba",
    ("relu", "numpy"): "minicnn.kernels.relu_numpy",
    ("relu", "numba"): "minicnn.kernels.relu_numba",
    ("batchnorm", "numpy"): "minicnn.kernels.batchnorm_numpy",
    ("batchnorm", "numba"): "minicnn.kernels.batchnorm_numba",
    ("winograd", "numpy"): "minicnn.kernels.winograd_numpy",
    ("winograd", "numba"): "minicnn.kernels.winograd_numba",
}


def _module(family):
    return importlib.import_module(_MODULES[(family, get_backend())])


def im2col(x, kh, kw, stride, pad, out=None):
    return _module("im2col").im2col(x, kh, kw, stride, pad, out)


def col2im(cols, x_shape, kh, kw, stride, pad, out=None):
    return _module("im2col").col2im(cols, x_shape, kh, kw, stride, pad, out)


def maxpool_forward(x, ph, pw, stride):
    return _module("pool").maxpool_forward(x, ph, pw, stride)


def maxpool(x, ph, pw, stride):
    return _module("pool").maxpool(x, ph, pw, stride)


def maxpool_backward(dout, argmax, x_shape, ph, pw, stride):
    return _module("pool").maxpool_backward(dout, argmax, x_shape, ph, pw, stride)


def relu_forward(x):
    return _module("relu").relu_forward(x)


def relu_backward(dout, out):
    return _module("relu").relu_backward(dout, out)


def batchnorm_stats(x):
    return _module("batchnorm").channel_stats(x)


def batchnorm_scale_shift(x, scale, shift):
    return _module("batchnorm").scale_shift(x, scale, shift)


def batchnorm_grad_sums(dout, x, mean):
    return _module("batchnorm").channel_grad_sums(dout, x, mean)


def batchnorm_input_gradient(dout, x, mean, k, j, i):
    return _module("batchnorm").input_gradient(dout, x, mean, k, j, i)


def winograd_filter_transform(weights, m):
    return _module("winograd").filter_transform(weights, m)


def winograd_filter_transform_adjoint(du, m, r):
    return _module("winograd").filter_transform_adjoint(du, m, r)


def winograd_input_transform(x, m, r, pad, out=None):
    return _module("winograd").input_transform(x, m, r, pad, out)


def winograd_input_transform_adjoint(dv, x_shape, m, r, pad, out=None):
    return _module("winograd").input_transform_adjoint(dv, x_shape, m, r, pad, out)


def winograd_output_transform(mt, m, r, bias, out_shape, out=None):
    return _module("winograd").output_transform(mt, m, r, bias, out_shape, out)


def winograd_output_transform_adjoint(dy, m, r, out=None):
    return _module("winograd").output_transform_adjoint(dy, m, r, out)
