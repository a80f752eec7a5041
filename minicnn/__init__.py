"""minicnn: a small convolutional-network library written from scratch in NumPy.

Layers (minicnn.layers), a Sequential model, softmax cross-entropy, SGD and Adam,
numerical gradient checks, and kernels with a NumPy reference and a numba-compiled
twin (minicnn.kernels), selected with set_backend().
"""
import minicnn.threads  # noqa: F401  (first: configures thread pools before NumPy starts OpenBLAS)
from minicnn.backend import BackendError, get_backend, numba_available, set_backend, using_backend
from minicnn.layers import BatchNorm1D, BatchNorm2D, Conv2D, Dense, Dropout, Flatten, Layer, MaxPool2D, ReLU
from minicnn.losses import SoftmaxCrossEntropy, softmax
from minicnn.model import ModelFileError, Sequential
from minicnn.optim import SGD, Adam

__all__ = [
    "set_backend", "get_backend", "using_backend", "numba_available", "BackendError",
    "Layer", "Conv2D", "MaxPool2D", "Dropout", "Dense", "ReLU", "Flatten", "BatchNorm2D", "BatchNorm1D",
    "softmax", "SoftmaxCrossEntropy", "Sequential", "ModelFileError", "SGD", "Adam",
]
