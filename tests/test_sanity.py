"""Does the whole machinery learn? Loss at initialisation, overfitting, a separable task."""
import math

import numpy as np

from minicnn import Adam, Conv2D, Dense, Flatten, MaxPool2D, ReLU, Sequential, SGD, SoftmaxCrossEntropy
from minicnn.models import report_cnn


def small_cnn(num_classes, seed=0, size=12):
    rng = np.random.default_rng(seed)
    pooled = (size - 2) // 2
    return Sequential([Conv2D(1, 8, 3, rng=rng), ReLU(), MaxPool2D(2), Flatten(),
                       Dense(8 * pooled * pooled, 32, rng=rng), ReLU(),
                       Dense(32, num_classes, init="glorot_uniform", rng=rng)])


def train(model, optimizer, x, y, epochs, batch_size, seed=0):
    loss_fn, rng = SoftmaxCrossEntropy(), np.random.default_rng(seed)
    for _ in range(epochs):
        order = rng.permutation(len(x))
        for start in range(0, len(x), batch_size):
            index = order[start:start + batch_size]
            _, dlogits = loss_fn(model.forward(x[index], training=True), y[index])
            model.backward(dlogits)
            optimizer.step(model.named_parameters())


def test_untrained_report_network_starts_near_ln7(backend):
    x = np.random.default_rng(0).random((32, 1, 48, 48), dtype=np.float32)
    labels = np.arange(32) % 7
    loss, _ = SoftmaxCrossEntropy()(report_cnn(seed=0).forward(x), labels)
    assert abs(loss - math.log(7)) < 0.15, loss


def test_overfits_a_tiny_batch(backend):
    rng = np.random.default_rng(1)
    x = rng.random((10, 1, 12, 12), dtype=np.float32)
    y = rng.integers(0, 7, 10)
    model = small_cnn(7)
    train(model, Adam(0.01), x, y, epochs=60, batch_size=10)
    assert (model.predict(x) == y).mean() == 1.0


def bars(rng, count, size=12):
    """Images with one bright bar, horizontal (0), vertical (1) or diagonal (2), at a random place, in noise."""
    labels = rng.integers(0, 3, count)
    images = rng.normal(0, 0.3, (count, 1, size, size)).astype(np.float32)
    for image, label in zip(images, labels):
        offset = rng.integers(1, size - 1)
        if label == 0:
            image[0, offset, :] += 1.5
        elif label == 1:
            image[0, :, offset] += 1.5
        else:
            image[0] += 1.5 * np.eye(size, k=int(offset) - size // 2)
    return images, labels


def test_learns_a_separable_task(backend):
    rng = np.random.default_rng(2)
    x_train, y_train = bars(rng, 600)
    x_test, y_test = bars(rng, 300)
    model = small_cnn(3, seed=3)
    train(model, SGD(0.05, momentum=0.9), x_train, y_train, epochs=4, batch_size=32)
    accuracy = (model.predict(x_test) == y_test).mean()
    assert accuracy > 0.95, accuracy
