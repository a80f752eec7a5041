"""Flatten: the bridge from feature maps to dense layers."""
import math

from minicnn.layers.base import Layer


class Flatten(Layer):
    """Flatten()   x: (N, C, H, W) -> out: (N, C*H*W), in C-order (channel-major)

    Note the order differs from Keras' channels-last flatten (H, W, C): the same trained
    weights need their Dense rows permuted to move between the two.
    Backward reshapes dout back to x's shape. No parameters.
    """

    def __init__(self):
        super().__init__()
        self._x_shape = None

    def output_shape(self, input_shape):
        return (math.prod(input_shape),)

    def forward(self, x, training=False):
        self._x_shape = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, dout):
        return dout.reshape(self._x_shape)
