"""The layers, one module each; LAYER_TYPES maps a class name to its class (for model files)."""
from minicnn.layers.activations import ReLU
from minicnn.layers.base import Layer
from minicnn.layers.batchnorm import BatchNorm1D, BatchNorm2D
from minicnn.layers.conv import Conv2D
from minicnn.layers.dense import Dense
from minicnn.layers.dropout import Dropout
from minicnn.layers.flatten import Flatten
from minicnn.layers.pool import MaxPool2D

LAYER_TYPES = {cls.__name__: cls for cls in (Conv2D, MaxPool2D, Dropout, Dense, ReLU, Flatten,
                                            BatchNorm2D, BatchNorm1D)}

__all__ = ["Layer", "Conv2D", "MaxPool2D", "Dropout", "Dense", "ReLU", "Flatten", "BatchNorm2D", "BatchNorm1D",
           "LAYER_TYPES"]
