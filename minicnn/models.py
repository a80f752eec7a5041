"""Ready-made architectures."""
import numpy as np

from minicnn.layers import BatchNorm1D, BatchNorm2D, Conv2D, Dense, Dropout, Flatten, MaxPool2D, ReLU
from minicnn.model import Sequential


def report_cnn(num_classes=7, dropout=0.4, seed=0, dtype=np.float32, conv_algorithm="auto"):
    """The 2024 report's network, channels first, 1,375,175 parameters for 7 classes.

    (1, 48, 48) -> Conv 64 5x5 -> (64, 44, 44) -> Conv 64 5x5 -> (64, 40, 40) -> MaxPool 2
    -> Dropout -> Conv 128 3x3 -> (128, 18, 18) -> Conv 128 3x3 -> (128, 16, 16) -> MaxPool 2
    -> Dropout -> Flatten 8192 -> Dense 128 -> Dense num_classes (logits; softmax in the loss).
    ReLU after each convolution and the first dense layer; 'valid' padding everywhere.

    Weights: Glorot uniform, Keras' default and so the report's, with which the untrained
    network starts at a loss of ln(7), the loss of a uniform guess; one generator seeded
    with `seed` draws all weights and then the dropout masks.
    conv_algorithm: how every Conv2D computes (see Conv2D; the same function either way).
    """
    rng = np.random.default_rng(seed)
    conv = dict(rng=rng, dtype=dtype, algorithm=conv_algorithm)
    layers = [
        Conv2D(1, 64, 5, **conv), ReLU(),
        Conv2D(64, 64, 5, **conv), ReLU(),
        MaxPool2D(2),
        Dropout(dropout, rng=rng),
        Conv2D(64, 128, 3, **conv), ReLU(),
        Conv2D(128, 128, 3, **conv), ReLU(),
        MaxPool2D(2),
        Dropout(dropout, rng=rng),
        Flatten(),
        Dense(128 * 8 * 8, 128, rng=rng, dtype=dtype), ReLU(),
        Dense(128, num_classes, rng=rng, dtype=dtype),
    ]
    return Sequential(layers)


def small_cnn(num_classes=7, dropout=0.25, seed=0, dtype=np.float32):
    """A network with ~90x fewer multiply-adds than the report's (and 6.5x fewer parameters),
    for tests and quick experiments on 48x48 inputs.

    (1, 48, 48) -> Conv 16 3x3 -> (16, 46, 46) -> MaxPool 2 -> Conv 32 3x3 -> (32, 21, 21)
    -> MaxPool 2 -> (32, 10, 10) -> Dropout -> Flatten 3200 -> Dense 64 -> Dense num_classes.
    """
    rng = np.random.default_rng(seed)
    return Sequential([
        Conv2D(1, 16, 3, rng=rng, dtype=dtype), ReLU(), MaxPool2D(2),
        Conv2D(16, 32, 3, rng=rng, dtype=dtype), ReLU(), MaxPool2D(2),
        Dropout(dropout, rng=rng), Flatten(),
        Dense(32 * 10 * 10, 64, rng=rng, dtype=dtype), ReLU(),
        Dense(64, num_classes, rng=rng, dtype=dtype),
    ])


# (channels, convolutions) of each stage.
VGG_BN_STAGES = ((32, 1), (64, 2), (128, 2), (256, 2))


def vgg_bn_cnn(num_classes=7, dropout=0.4, seed=0, dtype=np.float32, conv_algorithm="auto", stages=VGG_BN_STAGES,
               hidden=256):
    """A VGG-style network with batch normalisation, sized for training on two CPU cores.

    Four stages of 3x3 'same' convolutions, each followed by BatchNorm and ReLU, and a
    2x2 max pooling that halves the image at the end of each stage:
        (1, 48, 48) -> 1 conv 32 -> (32, 24, 24) -> 2 conv 64 -> (64, 12, 12)
        -> 2 conv 128 -> (128, 6, 6) -> 2 conv 256 -> (256, 3, 3)
        -> Flatten 2304 -> Dense 256 -> BatchNorm1D -> ReLU -> Dropout -> Dense num_classes
    The first stage has one convolution, as in VGG's smallest configuration (A): a second
    one at full 48x48 resolution would cost a quarter of the training step.
    The convolutions keep their bias although the BatchNorm after each one cancels it in
    training (it subtracts the channel's mean; the bias's gradient is zero): folding the
    BatchNorm into the convolution for inference needs a bias to put its shift in.
    Weights: He normal, the initialisation made for ReLU networks.
    """
    rng = np.random.default_rng(seed)
    conv = dict(rng=rng, dtype=dtype, algorithm=conv_algorithm, padding="same", init="he_normal")
    layers, channels = [], 1
    for width, convolutions in stages:
        for _ in range(convolutions):
            layers += [Conv2D(channels, width, 3, **conv), BatchNorm2D(width, dtype=dtype), ReLU()]
            channels = width
        layers.append(MaxPool2D(2))
    side = 48 // 2 ** len(stages)
    layers += [
        Flatten(),
        Dense(channels * side * side, hidden, rng=rng, dtype=dtype, init="he_normal"),
        BatchNorm1D(hidden, dtype=dtype), ReLU(),
        Dropout(dropout, rng=rng),
        Dense(hidden, num_classes, rng=rng, dtype=dtype),
    ]
    return Sequential(layers)


ARCHITECTURES = {"report": report_cnn, "small": small_cnn, "vgg_bn": vgg_bn_cnn}
