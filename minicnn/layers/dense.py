"""Fully connected layer."""
import numpy as np

from minicnn.backend import active_kernels
from minicnn.init import initializer
from minicnn.layers.base import Layer, positive_int


class Dense(Layer):
    """Dense(in_features, out_features)

    x: (N, D) -> out: (N, M), with D = in_features, M = out_features
    params W: (D, M), b: (M,)        (Keras' layout: one column per output unit)

        out = x @ W + b
    Backward:  dW = x.T @ dout,  db = dout summed over the batch,  dx = dout @ W.T

    W is kept column by column (Fortran order), so that W.T is a contiguous (M, D) matrix
    and x @ W is computed as (W.T @ x.T).T: BLAS then runs one dot product per output
    along a contiguous row of W.T. For a few faces this is how it is fast: the report's
    first Dense layer (8192 -> 128) at batch 1 took 0.18-0.24 ms hot in cache, 0.60 in the
    network, with W row by row, and 0.09 and 0.33 so; at batch 64 it costs about 10%
    more (1.58 against 1.42 ms). The values do not depend on the layout.
    """

    def __init__(self, in_features, out_features, init="glorot_uniform", rng=None, dtype=np.float32):
        super().__init__()
        shapes = self.parameter_shapes(in_features, out_features)
        (self.in_features, self.out_features), self.init = shapes["W"], init
        rng = np.random.default_rng() if rng is None else rng
        self.params["W"] = np.asfortranarray(initializer(init)(shapes["W"], self.in_features, self.out_features,
                                                                rng, dtype))
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
        return self._times_weights(x) + self.params["b"]

    def forward_relu(self, x):
        out = self._times_weights(x)
        active_kernels().add_bias(out.reshape(*out.shape, 1), self.params["b"], relu=True)   # rows (N, M, 1)
        return out

    def _times_weights(self, x):
        """x @ W as (W.T @ x.T).T (see the class), made C-contiguous (N x M values, a small copy)
        as the kernels of the layers after expect."""
        return np.ascontiguousarray((self.params["W"].T @ x.T).T)

    def backward(self, dout):
        self.backward_parameters(dout)
        return dout @ self.params["W"].T

    def backward_parameters(self, dout):
        np.matmul(dout.T, self._x, out=self.grads["W"].T)                     # dW.T = dout.T @ x, in W's layout
        self.grads["b"][...] = dout.sum(axis=0)

    def config(self):
        return {"in_features": self.in_features, "out_features": self.out_features, "init": self.init}
