"""Folding batch normalisation into the layer before it, for inference.

In inference a BatchNorm is a fixed affine map per channel,
    bn(z) = scale * z + shift,   scale = gamma / sqrt(running_var + eps),
                                 shift = beta - running_mean * scale,
and the Conv2D or Dense before it is affine too, z = W x + b. Their composition is one
layer of the same kind with
    W' = W * scale   (each output channel's filter, or each output column, scaled)
    b' = b * scale + shift
so the folded network computes the same function with one pass over memory less per
BatchNorm. It is for inference only: training needs the batch statistics.
"""
import numpy as np

from minicnn.layers import BatchNorm1D, BatchNorm2D, Conv2D, Dense
from minicnn.model import Sequential

_FOLDS_INTO = {BatchNorm2D: Conv2D, BatchNorm1D: Dense}


def fold_batchnorm(model):
    """A new Sequential in which every BatchNorm directly after a Conv2D (2D) or Dense (1D)
    is folded into it; other layers are shared with `model`, folded ones are copies."""
    layers = []
    for layer in model.layers:
        previous = layers[-1] if layers else None
        if type(layer) in _FOLDS_INTO and isinstance(previous, _FOLDS_INTO[type(layer)]):
            layers[-1] = _folded(previous, layer)
        else:
            layers.append(layer)
    return Sequential(layers, meta=model.meta)


def _folded(affine, norm):
    scale = norm.params["gamma"].astype(np.float64) / np.sqrt(norm.state["running_var"].astype(np.float64) + norm.eps)
    shift = norm.params["beta"] - norm.state["running_mean"] * scale
    folded = type(affine)(**affine.config(), dtype=affine.params["W"].dtype)
    weights = affine.params["W"]
    # Conv2D keeps output channels first (F, C, KH, KW); Dense keeps them last (D, M).
    per_output = scale.reshape(-1, 1, 1, 1) if isinstance(affine, Conv2D) else scale.reshape(1, -1)
    folded.params["W"][...] = weights * per_output
    folded.params["b"][...] = affine.params["b"] * scale + shift
    return folded
