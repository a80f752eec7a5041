"""Weight initializers. Each draws from the numpy.random.Generator it is given, so one
seed fixes every weight of a model.

fan_in is the number of inputs feeding one output unit (C*kh*kw for a convolution,
in_features for a dense layer); fan_out the number of outputs one input feeds.
"""
import numpy as np


def he_normal(shape, fan_in, fan_out, rng, dtype=np.float32):
    """N(0, 2/fan_in) (He et al. 2015): keeps the activations' variance through ReLU layers.

    Keras' he_normal truncates the normal at two standard deviations; this one does not.
    """
    return (rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(dtype)


def glorot_uniform(shape, fan_in, fan_out, rng, dtype=np.float32):
    """U(-a, a), a = sqrt(6 / (fan_in + fan_out)) (Glorot & Bengio 2010); Keras' default."""
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=shape).astype(dtype)


INITIALIZERS = {"he_normal": he_normal, "glorot_uniform": glorot_uniform}


def initializer(name):
    """The initializer function called `name`."""
    try:
        return INITIALIZERS[name]
    except KeyError:
        raise ValueError(f"unknown initializer {name!r}: choose one of {', '.join(INITIALIZERS)}") from None
