"""ReLU in plain NumPy: the reference for relu_numba.

    relu_forward(x)           -> out = max(x, 0)          (a NaN stays NaN, as np.maximum does)
    relu_backward(dout, out)  -> dx = dout where out > 0, else 0
"""
import numpy as np


def relu_forward(x):
    return np.maximum(x, 0)


def relu_backward(dout, out):
    return dout * (out > 0)
