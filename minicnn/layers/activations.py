"""Activation functions."""
from minicnn.backend import active_kernels
from minicnn.layers.base import Layer


class ReLU(Layer):
    """ReLU()   x: any shape -> out: same shape

        out = max(x, 0)        dx = dout where x > 0, else 0
    At x = 0 exactly the derivative is taken as 0. No parameters.
    """

    def __init__(self):
        super().__init__()
        self._out = None

    def forward(self, x, training=False):
        # The output is all backward needs (out > 0 exactly where x > 0): keeping a
        # reference to it costs nothing, a mask would cost a pass over memory.
        self._out = active_kernels().relu_forward(x)
        return self._out

    def backward(self, dout):
        return active_kernels().relu_backward(dout, self._out)
