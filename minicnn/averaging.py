"""Weight averaging: one network from the weights of several points along a training run.

Stochastic weight averaging (Izmailov et al. 2018): train on at a constant learning rate,
keep the model of every epoch, and average their weights. The epochs' models sit at
different points around a wide valley of the loss; their average sits nearer its middle,
which generalises better than any one of them, at no cost at inference: the result is an
ordinary network of the same architecture.

Averaging the weights breaks one thing: the BatchNorm running statistics. Each epoch's
statistics describe the activations of that epoch's weights, and the average of those is
not what the averaged weights produce. So they are measured again, by running the
averaged network over the training images in training mode (recompute_batchnorm_statistics).
"""
import numpy as np

from minicnn.layers import BatchNorm1D, BatchNorm2D


def average_weights(weight_sets):
    """{name: mean array} over a sequence of {name: array} with the same names and shapes.

    Sums in float64, so that the average of many float32 arrays loses nothing to rounding,
    and returns each array in its original dtype.
    """
    weight_sets = list(weight_sets)
    if not weight_sets:
        raise ValueError("nothing to average")
    first = weight_sets[0]
    for index, weights in enumerate(weight_sets[1:], start=1):
        if weights.keys() != first.keys():
            raise ValueError(f"weight set {index} has other arrays than set 0: "
                             f"{sorted(weights.keys() ^ first.keys())}")
        for name, array in weights.items():
            if array.shape != first[name].shape:
                raise ValueError(f"weight set {index}: {name} is {array.shape}, set 0's is {first[name].shape}")
    return {name: (sum(weights[name].astype(np.float64) for weights in weight_sets) / len(weight_sets))
            .astype(first[name].dtype) for name in first}


def recompute_batchnorm_statistics(model, batches):
    """Set every BatchNorm's running mean and variance to the average of its batch statistics
    over `batches` (an iterable of inputs x), seen in training-mode forward passes.

    Each batch is normalised with its own statistics, as in training, so every layer sees
    the activations it saw in training. The k-th batch enters its running averages with
    momentum 1/k, which makes them the plain mean over all batches (PyTorch's
    momentum=None). Returns the number of images seen. Parameters are not changed; the
    layers' momenta are restored afterwards.
    """
    norms = [layer for layer in model.layers if isinstance(layer, (BatchNorm1D, BatchNorm2D))]
    momenta = [layer.momentum for layer in norms]
    images = 0
    try:
        for count, x in enumerate(batches, start=1):
            for layer in norms:
                layer.momentum = 1.0 / count
            model.forward(x, training=True)
            images += len(x)
    finally:
        for layer, momentum in zip(norms, momenta):
            layer.momentum = momentum
    if images == 0:
        raise ValueError("no batches to measure the BatchNorm statistics on")
    return images
