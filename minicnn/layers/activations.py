"""Activation functions."""
import numpy as np

from minicnn.layers.base import Layer


class ReLU(Layer):
    """ReLU()   x: any shape -> out: same shape

        out = max(x, 0)        dx = dout where x > 0, else 0
    At x = 0 exactly the derivative is taken as 0. No parameters.
    """

    def __init__(self):
        super().__init__()
        self._positive = None

    def forward(self, x, training=False):
        self._positive = x > 0
        return np.where(self._positive, x, 0).astype(x.dtype, copy=False)

    def backward(self, dout):
        return np.where(self._positive, dout, 0).astype(dout.dtype, copy=False)
