"""Fully connected layer."""
import numpy as np

from minicnn.init import initializer
from minicnn.layers.base import Layer, positive_int


class Dense(Layer):
    """Dense(in_features, out_features)

    x: (N, D) -> out: (N, M), with D = in_features, M = out_features
    params W: (D, M), b: (M,)        (Keras' layout: one column per output unit)

        out = x @ W + b
    Backward:  dW = x.T @ dout,  db = dout summed over the batch,  dx = dout @ W.T
    """

    def __init__(self, in_features, out_features, init="glorot_uniform", rng=None, dtype=np.float32):
        super().__init__()
        shapes = self.parameter_shapes(in_features, out_features)
        (self.in_features, self.out_features), self.init = shapes["W"], init
        rng = np.random.default_rng() if rng is None else rng
        self.params["W"] = initializer(init)(shapes["W"], self.in_features, self.out_features, rng, dtype)
        self.params["b"] = np.zeros(shapes["b"], dtype=dtype)
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        self._x = None

    @classmethod
    def parameter_shapes(cls, in_features, out_features, **_):
        in_features, out_features = positive_int(in_features, "in_features"), positive_int(out_features, "out_features")
        return {"W": (in_features, out_features), "b": (out_features,)}

    def output_shape(self, input_shape):
        if tuple(input_shape) != (self.in_features,):
            raise ValueError(f"Dense expects inputs of shape ({self.in_features},), got {tuple(input_shape)}")
        return (self.out_features,)

    def forward(self, x, training=False):
        self._x = x
        return x @ self.params["W"] + self.params["b"]

    def backward(self, dout):
        self.backward_parameters(dout)
        return dout @ self.params["W"].T

    def backward_parameters(self, dout):
        self.grads["W"][...] = self._x.T @ dout
        self.grads["b"][...] = dout.sum(axis=0)

    def config(self):
        return {"in_features": self.in_features, "out_features": self.out_features, "init": self.init}
