"""Every layer's backward against central differences, in float64, over a sweep of shapes."""
import numpy as np
import pytest

from minicnn import BatchNorm1D, BatchNorm2D, Conv2D, Dense, Dropout, Flatten, MaxPool2D, ReLU, Sequential
from minicnn import SoftmaxCrossEntropy
from minicnn.gradcheck import (layer_gradient_errors, loss_gradient_error, network_gradient_errors,
                               numerical_gradient, rel_error)
from tests.helpers import CONV_CASES, POOL_CASES, WINOGRAD_CASES, distinct_values, off_zero

LAYER_TOLERANCE = 1e-7
NETWORK_TOLERANCE = 1e-4


def assert_all_below(errors, tolerance):
    worst = max(errors, key=errors.get)
    assert errors[worst] < tolerance, f"gradient of {worst}: relative error {errors[worst]:.2e} >= {tolerance}"


@pytest.mark.parametrize("case", CONV_CASES, ids=str)
def test_conv2d_gradients(case, backend):
    check_conv2d_gradients(case, "im2col")


@pytest.mark.parametrize("case", WINOGRAD_CASES, ids=str)
def test_winograd_conv2d_gradients(case, backend):
    check_conv2d_gradients(case, "winograd")


def check_conv2d_gradients(case, algorithm):
    n, c, h, w, f, kernel, stride, padding = case
    rng = np.random.default_rng(CONV_CASES.index(case))
    layer = Conv2D(c, f, kernel, stride=stride, padding=padding, rng=rng, dtype=np.float64, algorithm=algorithm)
    layer.params["b"][...] = rng.standard_normal(f)   # non-zero bias, so its gradient is tested too
    errors = layer_gradient_errors(layer, rng.standard_normal((n, c, h, w)))
    assert set(errors) == {"x", "W", "b"}
    assert_all_below(errors, LAYER_TOLERANCE)


@pytest.mark.parametrize("training", [True, False], ids=["training", "inference"])
@pytest.mark.parametrize("case", POOL_CASES, ids=str)
def test_maxpool_gradients(case, training, backend):
    """Inference pools without recording where the maxima were; backward must find them."""
    n, c, h, w, pool, stride = case
    rng = np.random.default_rng(POOL_CASES.index(case))
    errors = layer_gradient_errors(MaxPool2D(pool, stride), distinct_values(rng, (n, c, h, w)), training=training)
    assert_all_below(errors, LAYER_TOLERANCE)


@pytest.mark.parametrize("shape", [(4, 7), (2, 3, 5, 5), (3, 1, 4, 6)], ids=str)
def test_relu_gradients(shape, backend):
    errors = layer_gradient_errors(ReLU(), off_zero(np.random.default_rng(1), shape))
    assert_all_below(errors, LAYER_TOLERANCE)


@pytest.mark.parametrize("rate", [0.0, 0.25, 0.5, 0.9])
def test_dropout_gradients_in_training(rate):
    layer = Dropout(rate, rng=np.random.default_rng(5))
    errors = layer_gradient_errors(layer, np.random.default_rng(2).standard_normal((3, 4, 5)), training=True)
    assert_all_below(errors, LAYER_TOLERANCE)


def test_flatten_gradients():
    errors = layer_gradient_errors(Flatten(), np.random.default_rng(3).standard_normal((2, 3, 4, 5)))
    assert_all_below(errors, LAYER_TOLERANCE)


@pytest.mark.parametrize("n, d, m", [(1, 1, 1), (4, 7, 3), (3, 10, 12)])
def test_dense_gradients(n, d, m):
    rng = np.random.default_rng(n * 100 + d * 10 + m)
    layer = Dense(d, m, rng=rng, dtype=np.float64)
    layer.params["b"][...] = rng.standard_normal(m)
    errors = layer_gradient_errors(layer, rng.standard_normal((n, d)))
    assert set(errors) == {"x", "W", "b"}
    assert_all_below(errors, LAYER_TOLERANCE)


@pytest.mark.parametrize("training", [True, False], ids=["training", "inference"])
@pytest.mark.parametrize("layer_cls, shape", [(BatchNorm2D, (4, 3, 5, 6)), (BatchNorm2D, (1, 2, 3, 3)),
                                              (BatchNorm1D, (6, 5)), (BatchNorm1D, (3, 1))], ids=str)
def test_batchnorm_gradients(layer_cls, shape, training, backend):
    """Training mode's gradient includes how the batch mean and variance move with every input."""
    rng = np.random.default_rng(sum(shape))
    channels = shape[1]
    layer = layer_cls(channels, dtype=np.float64)
    layer.params["gamma"][...] = rng.uniform(0.5, 2.0, channels) * rng.choice([-1, 1], channels)
    layer.params["beta"][...] = rng.standard_normal(channels)
    layer.state["running_mean"][...] = rng.standard_normal(channels)
    layer.state["running_var"][...] = rng.uniform(0.5, 2.0, channels)
    errors = layer_gradient_errors(layer, rng.standard_normal(shape) * 2 + 1, training=training)
    assert set(errors) == {"x", "gamma", "beta"}
    assert_all_below(errors, LAYER_TOLERANCE)


@pytest.mark.parametrize("smoothing", [0.0, 0.1, 0.5])
def test_label_smoothed_cross_entropy_gradient(smoothing):
    rng = np.random.default_rng(7)
    logits, labels = rng.standard_normal((5, 7)) * 3, rng.integers(0, 7, 5)
    loss_fn = SoftmaxCrossEntropy(smoothing)
    loss, dlogits = loss_fn(logits, labels)
    assert rel_error(dlogits, numerical_gradient(lambda: loss_fn(logits, labels)[0], logits)) < LAYER_TOLERANCE
    target = np.full((5, 7), smoothing / 7)
    target[np.arange(5), labels] += 1 - smoothing
    log_probs = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    assert loss == pytest.approx(-(target * log_probs).sum(axis=1).mean(), rel=1e-12)


@pytest.mark.parametrize("n, k, scale", [(1, 2, 1.0), (5, 7, 1.0), (4, 7, 30.0)])
def test_softmax_cross_entropy_gradient(n, k, scale):
    rng = np.random.default_rng(k + n)
    logits = rng.standard_normal((n, k)) * scale
    assert loss_gradient_error(logits, rng.integers(0, k, n)) < LAYER_TOLERANCE


def small_network(rng):
    return Sequential([
        Conv2D(1, 3, 3, rng=rng, dtype=np.float64), ReLU(), MaxPool2D(2),
        Conv2D(3, 4, 3, padding=1, rng=rng, dtype=np.float64), ReLU(), MaxPool2D(2, 1),
        Dropout(0.5, rng=rng), Flatten(),
        Dense(4 * 3 * 3, 6, rng=rng, dtype=np.float64), ReLU(),
        Dense(6, 5, init="glorot_uniform", rng=rng, dtype=np.float64),
    ])


def test_whole_network_gradients(backend):
    rng = np.random.default_rng(11)
    model = small_network(rng)
    for layer in model.layers:
        if "b" in layer.params:
            layer.params["b"][...] = rng.uniform(0.05, 0.2, layer.params["b"].shape)
    x = rng.standard_normal((3, 1, 10, 10))
    errors = network_gradient_errors(model, x, np.array([0, 3, 4]))
    assert len(errors) == 1 + 2 * 4   # the input and W, b of four layers
    assert_all_below(errors, NETWORK_TOLERANCE)


def test_whole_batchnorm_network_gradients_in_training(backend):
    """Conv -> BN -> ReLU -> pool -> Dense -> BN1D -> ReLU -> Dense, with batch statistics."""
    rng = np.random.default_rng(12)
    model = Sequential([
        Conv2D(1, 3, 3, padding="same", rng=rng, dtype=np.float64), BatchNorm2D(3, dtype=np.float64), ReLU(),
        MaxPool2D(2), Flatten(),
        Dense(3 * 4 * 4, 6, rng=rng, dtype=np.float64), BatchNorm1D(6, dtype=np.float64), ReLU(),
        Dense(6, 5, rng=rng, dtype=np.float64),
    ])
    x = rng.standard_normal((4, 1, 8, 8))
    errors = network_gradient_errors(model, x, np.array([0, 3, 4, 1]), training=True)
    assert len(errors) == 1 + 2 * 5
    # A bias right before a BatchNorm is subtracted again with the batch mean: its gradient
    # is exactly zero, and the relative error of two zeros (one of them numerical noise) means nothing.
    for name in ("0.b", "5.b"):
        assert np.abs(model.layers[int(name[0])].grads["b"]).max() < 1e-12
        del errors[name]
    assert_all_below(errors, NETWORK_TOLERANCE)


class DenseWithWrongBackward(Dense):
    """dx misses a factor: the kind of bug a gradient check exists to catch."""

    def backward(self, dout):
        return 1.01 * super().backward(dout)


class DenseWithTransposedWeightGradient(Dense):
    def backward(self, dout):
        dx = super().backward(dout)
        self.grads["W"][...] = self.grads["W"][::-1]
        return dx


def test_checker_catches_a_wrong_input_gradient():
    rng = np.random.default_rng(0)
    errors = layer_gradient_errors(DenseWithWrongBackward(4, 3, rng=rng, dtype=np.float64), rng.standard_normal((2, 4)))
    assert errors["x"] > 1e-3
    assert errors["W"] < LAYER_TOLERANCE


def test_checker_catches_a_wrong_parameter_gradient():
    rng = np.random.default_rng(0)
    layer = DenseWithTransposedWeightGradient(4, 3, rng=rng, dtype=np.float64)
    errors = layer_gradient_errors(layer, rng.standard_normal((2, 4)))
    assert errors["W"] > 1e-2


def test_rel_error_scale():
    a = np.array([1.0, -2.0, 3.0])
    assert rel_error(a, a) == 0
    assert rel_error(a, 1.001 * a) == pytest.approx(0.0005, rel=1e-3)
    assert rel_error(a, -a) == pytest.approx(1.0)


def test_numerical_gradient_reaches_non_contiguous_arrays():
    from minicnn.gradcheck import numerical_gradient
    base = np.random.default_rng(0).standard_normal((4, 3))
    x = base.T                      # a view, not C-contiguous: reshape(-1) would copy it
    grad = numerical_gradient(lambda: float(np.sum(x ** 2)), x)
    np.testing.assert_allclose(grad, 2 * x, rtol=1e-8)
