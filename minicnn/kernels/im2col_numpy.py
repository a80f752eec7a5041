"""im2col / col2im in plain NumPy: the reference the numba kernels are tested against.

im2col turns convolution into one matrix product. Each output pixel (oh, ow) of a
convolution reads a C x kh x kw patch of the (zero-padded) input; im2col copies every
such patch into a column, so that with the filters flattened to rows,
``W.reshape(F, C*kh*kw) @ cols[n]`` is the whole convolution of sample n.

Row order of a column: r = (c * kh + i) * kw + j, the order of ``W.reshape(F, -1)``.
Column order: q = oh * OW + ow, so the product reshapes straight to (F, OH, OW).
"""
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from minicnn.kernels.shapes import check_out, conv_output_size


def im2col(x, kh, kw, stride, pad, out=None):
    """x: (N, C, H, W) -> cols: (N, C*kh*kw, OH*OW), OH = (H + 2*pad - kh) // stride + 1.

    out: an array of that shape to write into (reused between calls, it saves the
    operating system from handing out and zeroing fresh memory pages every time).
    """
    n, c, h, w = x.shape
    oh, ow = conv_output_size(h, kh, stride, pad), conv_output_size(w, kw, stride, pad)
    padded = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad))) if pad else x
    # A read-only view (N, C, H', W', kh, kw) of every kh x kw window; keep every
    # stride-th window, then lay each window's pixels along the rows of a column.
    windows = sliding_window_view(padded, (kh, kw), axis=(2, 3))[:, :, ::stride, ::stride][:, :, :oh, :ow]
    shape = (n, c * kh * kw, oh * ow)
    out = np.empty(shape, dtype=x.dtype) if out is None else check_out(out, shape, x.dtype)
    out.reshape(n, c, kh, kw, oh, ow)[...] = windows.transpose(0, 1, 4, 5, 2, 3)
    return out


def col2im(cols, x_shape, kh, kw, stride, pad, out=None):
    """cols: (N, C*kh*kw, OH*OW) -> dx: x_shape = (N, C, H, W), written into `out` when given.

    The adjoint of im2col: every column entry is added back onto the input pixel it was
    copied from. Pixels shared by overlapping windows receive the sum of their copies,
    which is exactly the gradient flowing back through im2col.
    """
    n, c, h, w = x_shape
    oh, ow = conv_output_size(h, kh, stride, pad), conv_output_size(w, kw, stride, pad)
    patches = cols.reshape(n, c, kh, kw, oh, ow)
    dx_padded = np.zeros((n, c, h + 2 * pad, w + 2 * pad), dtype=cols.dtype)
    # Kernel offset (i, j) of every window lands on a strided grid of input pixels:
    # one vectorised add per offset instead of one per window.
    for i in range(kh):
        for j in range(kw):
            dx_padded[:, :, i:i + stride * oh:stride, j:j + stride * ow:stride] += patches[:, :, i, j]
    if out is None:
        return dx_padded[:, :, pad:pad + h, pad:pad + w]
    check_out(out, x_shape, cols.dtype)[...] = dx_padded[:, :, pad:pad + h, pad:pad + w]
    return out
