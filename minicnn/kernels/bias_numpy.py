"""A bias per channel, and optionally a ReLU, added in place: the reference for bias_numba.

    add_bias(rows, bias, relu=False)   rows: (N, F, P), bias: (F,)
        rows[n, f, p] += bias[f], then, with relu, rows = max(rows, 0)   (NaN stays NaN)

The last pass of a convolution over its output. In inference a ReLU that follows the
layer is applied here (minicnn.model.Sequential.predict_proba), as ONNX Runtime fuses
Conv and Relu: one pass over the output instead of two, and no second array.
"""
import numpy as np


def add_bias(rows, bias, relu=False):
    rows += bias.astype(rows.dtype).reshape(-1, 1)          # in the rows' precision, as the numba twin adds
    if relu:
        np.maximum(rows, 0, out=rows)
    return rows
