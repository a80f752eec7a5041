"""BatchNorm2D / BatchNorm1D: modes, running statistics, files, weight decay, folding, kernels."""
import numpy as np
import pytest

import minicnn
from minicnn import SGD, BatchNorm1D, BatchNorm2D, Conv2D, Dense, Flatten, ReLU, Sequential
from minicnn.backend import active_kernels
from minicnn.fold import fold_batchnorm
from minicnn.models import vgg_bn_cnn

needs_numba = pytest.mark.skipif(not minicnn.numba_available(), reason="numba is not installed")


def test_training_normalises_each_channel_with_the_batch_statistics(backend):
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((8, 3, 5, 4)) * [[[[3.0]], [[0.5]], [[10.0]]]] + [[[[1.0]], [[-4.0]], [[50.0]]]])
    layer = BatchNorm2D(3, dtype=np.float64)
    layer.params["gamma"][...] = [1.0, 2.0, 0.5]
    layer.params["beta"][...] = [0.0, 1.0, -1.0]
    out = layer.forward(x, training=True)
    np.testing.assert_allclose(out.mean(axis=(0, 2, 3)), [0.0, 1.0, -1.0], atol=1e-12)
    var = x.var(axis=(0, 2, 3))
    np.testing.assert_allclose(out.std(axis=(0, 2, 3)), [1.0, 2.0, 0.5] * np.sqrt(var / (var + 1e-5)), rtol=1e-12)


def test_running_statistics_follow_the_batches_with_momentum(backend):
    rng = np.random.default_rng(1)
    layer = BatchNorm1D(4, momentum=0.25, dtype=np.float64)
    expected_mean, expected_var = np.zeros(4), np.ones(4)
    for _ in range(3):
        x = rng.standard_normal((10, 4)) * 2 + 3
        layer.forward(x, training=True)
        expected_mean = 0.75 * expected_mean + 0.25 * x.mean(axis=0)
        expected_var = 0.75 * expected_var + 0.25 * x.var(axis=0, ddof=1)
    np.testing.assert_allclose(layer.state["running_mean"], expected_mean, rtol=1e-12)
    np.testing.assert_allclose(layer.state["running_var"], expected_var, rtol=1e-12)
    before = {k: v.copy() for k, v in layer.state.items()}
    layer.forward(x, training=False)
    for key, value in layer.state.items():
        np.testing.assert_array_equal(value, before[key], err_msg=f"inference changed {key}")


def test_inference_uses_running_statistics_and_ignores_the_batch(backend):
    rng = np.random.default_rng(2)
    layer = BatchNorm2D(2, dtype=np.float64)
    layer.state["running_mean"][...] = [1.0, -2.0]
    layer.state["running_var"][...] = [4.0, 0.25]
    x = rng.standard_normal((3, 2, 4, 4))
    out = layer.forward(x, training=False)
    expected = (x - np.array([1.0, -2.0]).reshape(1, 2, 1, 1)) / np.sqrt(np.array([4.0, 0.25]) + 1e-5).reshape(1, 2, 1, 1)
    np.testing.assert_allclose(out, expected, rtol=1e-12)
    one = layer.forward(x[:1], training=False)
    np.testing.assert_array_equal(one, out[:1])   # an image's output does not depend on its batch
    assert not np.allclose(layer.forward(x, training=True), out)


def test_wrong_shapes_and_settings_are_refused():
    with pytest.raises(ValueError, match="momentum"):
        BatchNorm2D(3, momentum=1.5)
    with pytest.raises(ValueError, match="eps"):
        BatchNorm1D(3, eps=0)
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        BatchNorm2D(3).forward(np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError, match="expects 3 channels"):
        BatchNorm2D(3).output_shape((4, 5, 5))


def test_save_and_load_keep_the_running_statistics(tmp_path):
    model = vgg_bn_cnn(seed=3)
    rng = np.random.default_rng(3)
    for _ in range(2):
        model.forward(rng.random((4, 1, 48, 48), dtype=np.float32), training=True)
    model.save(tmp_path / "bn.npz")
    loaded = Sequential.load(tmp_path / "bn.npz")
    state = dict(model.named_state())
    assert len(state) == 2 * 8 and all(np.any(v != 0) for k, v in state.items() if k.endswith("mean"))
    for name, value in loaded.named_state():
        np.testing.assert_array_equal(value, state[name], err_msg=name)
    x = rng.random((3, 1, 48, 48), dtype=np.float32)
    np.testing.assert_array_equal(loaded.predict_proba(x), model.predict_proba(x))


def test_a_file_without_running_statistics_is_refused():
    model = Sequential([Flatten(), Dense(4, 3), BatchNorm1D(3)])
    arrays = model.weights()
    del arrays["2.running_var"]
    with pytest.raises(minicnn.ModelFileError, match="running_var"):
        model.set_weights(arrays)


def test_weight_decay_leaves_gamma_and_beta_alone():
    model = Sequential([Flatten(), Dense(4, 3, rng=np.random.default_rng(0)), BatchNorm1D(3)])
    assert model.no_weight_decay() == {"2.gamma", "2.beta"}
    for _, _, grad in model.named_parameters():
        grad[...] = 0
    before = {name: param.copy() for name, param, _ in model.named_parameters()}
    SGD(0.1, weight_decay=0.5, no_decay=model.no_weight_decay()).step(model.named_parameters())
    after = {name: param for name, param, _ in model.named_parameters()}
    np.testing.assert_array_equal(after["2.gamma"], before["2.gamma"])
    np.testing.assert_array_equal(after["2.beta"], before["2.beta"])
    np.testing.assert_allclose(after["1.W"], before["1.W"] * 0.95, rtol=1e-6)


def test_folding_batchnorm_into_the_layer_before_gives_the_same_outputs(backend):
    rng = np.random.default_rng(4)
    model = Sequential([
        Conv2D(2, 5, 3, padding="same", rng=rng, dtype=np.float64), BatchNorm2D(5, dtype=np.float64), ReLU(),
        Flatten(), Dense(5 * 6 * 6, 4, rng=rng, dtype=np.float64), BatchNorm1D(4, dtype=np.float64),
    ])
    for layer in model.layers:
        for key, value in (layer.params | layer.state).items():
            if key != "W":
                value[...] = rng.uniform(0.5, 2.0, value.shape) if key in ("gamma", "running_var") \
                    else rng.standard_normal(value.shape)
    folded = fold_batchnorm(model)
    assert [type(layer).__name__ for layer in folded.layers] == ["Conv2D", "ReLU", "Flatten", "Dense"]
    x = rng.standard_normal((3, 2, 6, 6))
    np.testing.assert_allclose(folded.forward(x), model.forward(x, training=False), rtol=1e-10, atol=1e-12)


def test_folding_the_vgg_bn_network_in_float32():
    model = vgg_bn_cnn(seed=1)
    rng = np.random.default_rng(5)
    for _ in range(3):
        model.forward(rng.random((8, 1, 48, 48), dtype=np.float32), training=True)
    folded = fold_batchnorm(model)
    assert not any(isinstance(layer, (BatchNorm1D, BatchNorm2D)) for layer in folded.layers)
    x = rng.random((4, 1, 48, 48), dtype=np.float32)
    np.testing.assert_allclose(folded.predict_proba(x), model.predict_proba(x), atol=1e-5)


@needs_numba
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", [(4, 3, 20), (64, 2, 1), (1, 5, 7)], ids=str)
def test_batchnorm_kernels_agree(shape, dtype):
    from minicnn.kernels import batchnorm_numba, batchnorm_numpy
    rng = np.random.default_rng(6)
    x = (rng.standard_normal(shape) * 3 + 100).astype(dtype)     # a large mean: the variance must not cancel
    dout = rng.standard_normal(shape).astype(dtype)
    c = shape[1]
    scale, shift, k, j, i = (rng.standard_normal(c) for _ in range(5))
    tolerance = 1e-12 if dtype == np.float64 else 1e-5
    mean_ref, var_ref = batchnorm_numpy.channel_stats(x)
    mean, var = batchnorm_numba.channel_stats(x)
    np.testing.assert_allclose(mean, mean_ref, rtol=1e-12)
    np.testing.assert_allclose(var, var_ref, rtol=1e-9)
    np.testing.assert_allclose(var_ref, x.astype(np.float64).var(axis=(0, 2)), rtol=1e-9)
    for name, args in (("scale_shift", (x, scale, shift)), ("input_gradient", (dout, x, mean, k, j, i))):
        ref, fast = getattr(batchnorm_numpy, name)(*args), getattr(batchnorm_numba, name)(*args)
        assert ref.dtype == fast.dtype == dtype
        np.testing.assert_allclose(fast, ref, rtol=tolerance, atol=tolerance, err_msg=name)
    for ref, fast in zip(batchnorm_numpy.channel_grad_sums(dout, x, mean), batchnorm_numba.channel_grad_sums(dout, x, mean)):
        np.testing.assert_allclose(fast, ref, rtol=1e-9, atol=1e-9)
    assert active_kernels().batchnorm_stats(x)[0].dtype == np.float64
