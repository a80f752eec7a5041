"""The contract every layer keeps.

    out = layer.forward(x, training)   caches what backward will need
    out = layer.forward_relu(x)        inference only: max(forward(x), 0), for a ReLU that follows
    dx = layer.backward(dout)          dL/dx from dL/dout; fills layer.grads, never writes into dout
    layer.backward_parameters(dout)    fills layer.grads alone: for the first layer, whose dx nobody reads

`params` and `grads` are dicts of arrays with the same keys and shapes ("W", "b");
optimizers update `params` in place from `grads`. `state` holds arrays a layer learns
without gradients (BatchNorm's running statistics): saved and loaded with the
parameters, never touched by an optimizer. `no_weight_decay` names the parameters
weight decay must leave alone. `config()` returns the constructor arguments, so that a
model file can rebuild the layer.
"""
import numbers

import numpy as np

from minicnn.backend import active_kernels


def positive_int(value, name):
    """value as an int, if it is a whole number >= 1 (model files come from JSON: no bools, no 2.5)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a whole number >= 1, got {value!r}")
    return int(value)


class Layer:
    no_weight_decay = ()

    @classmethod
    def parameter_shapes(cls, **config):
        """{key: shape} of the params and state a layer built with `config` has, computed
        without building it (so that a model file's claims can be checked first)."""
        return {}

    def __init__(self):
        self.params = {}
        self.grads = {}
        self.state = {}

    def forward(self, x, training=False):
        raise NotImplementedError

    def backward(self, dout):
        raise NotImplementedError

    def forward_relu(self, x):
        """Inference: max(forward(x, training=False), 0), the work of this layer and of a ReLU
        after it. Layers that write a fresh output (Conv2D, Dense) apply the ReLU as they
        write it, one pass over memory fewer; the others run a ReLU after. Sets up nothing
        for backward."""
        return active_kernels().relu_forward(self.forward(x, training=False))

    def backward_parameters(self, dout):
        """What backward does to grads, without dL/dx. Layers whose dx costs real work (Conv2D,
        Dense) skip it; the others simply run backward."""
        self.backward(dout)

    def output_shape(self, input_shape):
        """Shape of one output sample given the shape of one input sample (no batch axis)."""
        return tuple(input_shape)

    def config(self):
        """Constructor arguments (JSON-serialisable) that rebuild this layer."""
        return {}

    def num_params(self):
        return int(sum(p.size for p in self.params.values()))

    def astype(self, dtype):
        """Cast parameters and gradients to dtype (float64 for gradient checks); returns self."""
        for key in self.params:
            self.params[key] = self.params[key].astype(dtype)
            self.grads[key] = np.zeros_like(self.params[key])
        for key in self.state:
            self.state[key] = self.state[key].astype(dtype)
        return self

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.config().items())
        return f"{type(self).__name__}({args})"
