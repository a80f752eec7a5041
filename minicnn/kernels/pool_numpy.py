"""Max pooling forward/backward in plain NumPy: the reference for pool_numba.

Windows are ph x pw, taken every `stride` pixels with no padding ('valid', as in Keras),
so OH = (H - ph) // stride + 1. Windows may overlap (stride < ph). The forward pass
remembers, for each output, which position of its window held the maximum (the first
one on a tie, row-major): backward sends the gradient there and nowhere else.
Inference needs only the maxima: `maxpool` gives them without the positions.
"""
import numpy as np

from minicnn.kernels.shapes import conv_output_size


def maxpool_forward(x, ph, pw, stride):
    """x: (N, C, H, W) -> out: (N, C, OH, OW), argmax: (N, C, OH, OW) int32 in [0, ph*pw).

    The maxima as in `maxpool`; then, for each position of the window from the last to the
    first, the outputs whose maximum sits there (or, for a window holding NaN, a NaN) take
    that position: the first one wins a tie, as in np.argmax.
    """
    out = maxpool(x, ph, pw, stride)
    oh, ow = out.shape[2:]
    argmax = np.zeros(out.shape, dtype=np.int32)
    for position in reversed(range(ph * pw)):
        i, j = divmod(position, pw)
        view = x[:, :, i:i + stride * oh:stride, j:j + stride * ow:stride]
        np.copyto(argmax, position, where=(view == out) | (view != view))   # view != view: NaN
    return out, argmax


def maxpool(x, ph, pw, stride):
    """x: (N, C, H, W) -> out: (N, C, OH, OW), the maxima alone (NaN if a window holds one).

    For each position (i, j) in the window, the inputs there form a strided view of x
    shaped like out; the maxima are the elementwise maximum of those ph*pw views. A few
    passes over whole arrays instead of a reduction over millions of tiny windows (measured
    on the report's first pooling layer, `.max` over the window view took 28 times as long
    at batch 1 and 15 times at batch 64). np.maximum, unlike np.fmax, keeps NaN.
    """
    n, c, h, w = x.shape
    oh, ow = conv_output_size(h, ph, stride, 0), conv_output_size(w, pw, stride, 0)
    views = [x[:, :, i:i + stride * oh:stride, j:j + stride * ow:stride] for i in range(ph) for j in range(pw)]
    out = views[0].copy()
    for view in views[1:]:
        np.maximum(out, view, out=out)
    return out


def maxpool_backward(dout, argmax, x_shape, ph, pw, stride):
    """dout, argmax: (N, C, OH, OW) -> dx: x_shape = (N, C, H, W)."""
    oh, ow = dout.shape[2:]
    dx = np.zeros(x_shape, dtype=dout.dtype)
    # For each position (i, j) inside the window, the outputs whose maximum sat there
    # pass their gradient to the strided grid of inputs at that position; overlapping
    # windows add up.
    for i in range(ph):
        for j in range(pw):
            routed = np.where(argmax == i * pw + j, dout, 0)
            dx[:, :, i:i + stride * oh:stride, j:j + stride * ow:stride] += routed
    return dx
