"""Sequential: the report's architecture, summary, prediction, and model files."""
import json
import subprocess
import sys

import numpy as np
import pytest

from minicnn import Conv2D, Dense, Flatten, MaxPool2D, ModelFileError, ReLU, Sequential
from minicnn.models import report_cnn

REPORT_SHAPES = [(64, 44, 44), (64, 40, 40), (64, 20, 20), (128, 18, 18), (128, 16, 16), (128, 8, 8), (8192,),
                 (128,), (7,)]
REPORT_PARAMS = {0: 1_664, 2: 102_464, 6: 73_856, 8: 147_584, 13: 1_048_704, 15: 903}


def test_report_network_matches_the_report():
    model = report_cnn()
    assert model.num_params() == 1_375_175
    assert {i: layer.num_params() for i, layer in enumerate(model.layers) if layer.params} == REPORT_PARAMS
    shapes, shape = [], (1, 48, 48)
    for layer in model.layers:
        new_shape = layer.output_shape(shape)
        if new_shape != shape:
            shapes.append(new_shape)
        shape = new_shape
    assert shapes == REPORT_SHAPES


def test_summary_table():
    lines = []
    text = report_cnn().summary((1, 48, 48), print_fn=lines.append)
    assert lines == [text]
    assert "Total params: 1,375,175" in text
    assert "(64, 44, 44)" in text and "102,464" in text and "(8192,)" in text


def test_same_seed_same_weights_different_seed_different():
    a, b, c = report_cnn(seed=3), report_cnn(seed=3), report_cnn(seed=4)
    for (name, wa, _), (_, wb, _), (_, wc, _) in zip(a.named_parameters(), b.named_parameters(), c.named_parameters()):
        np.testing.assert_array_equal(wa, wb)
        if name.endswith("W"):
            assert not np.array_equal(wa, wc)


def test_predict_proba_batches_agree_with_one_pass():
    model = report_cnn(seed=1)
    x = np.random.default_rng(0).random((5, 1, 48, 48), dtype=np.float32)
    probs = model.predict_proba(x, batch_size=2)
    assert probs.shape == (5, 7) and probs.dtype == np.float32
    np.testing.assert_allclose(probs.sum(axis=1), 1, rtol=1e-5)
    np.testing.assert_allclose(probs, model.predict_proba(x, batch_size=256), rtol=1e-5, atol=1e-7)
    np.testing.assert_array_equal(model.predict(x), probs.argmax(axis=1))
    assert model.predict_proba(x[:0]).shape == (0, 7)


def test_predict_does_not_use_dropout():
    model = report_cnn(seed=1)
    x = np.random.default_rng(0).random((3, 1, 48, 48), dtype=np.float32)
    np.testing.assert_array_equal(model.predict_proba(x), model.predict_proba(x))


@pytest.mark.parametrize("batch", [1, 3])
def test_predict_proba_fuses_each_relu_into_the_layer_before_it(batch, monkeypatch):
    """inference_logits gives forward's values bit for bit (both convolution paths, Dense, and
    a ReLU after a pooling layer, which the base class's forward_relu applies after it), and
    no ReLU layer's forward runs."""
    from minicnn.losses import softmax
    model = Sequential([Conv2D(1, 16, 3, rng=np.random.default_rng(0)), ReLU(),
                        Conv2D(16, 16, 3, algorithm="winograd", rng=np.random.default_rng(1)), ReLU(),
                        MaxPool2D(2), ReLU(), Flatten(), Dense(16 * 4 * 4, 8, rng=np.random.default_rng(2)), ReLU(),
                        Dense(8, 3, rng=np.random.default_rng(3))])
    x = np.random.default_rng(4).standard_normal((batch, 1, 12, 12)).astype(np.float32)
    expected = model.forward(x)
    assert (expected != np.maximum(expected, 0)).any()           # the last layer is no ReLU: some logits < 0
    ran = []
    original = ReLU.forward
    monkeypatch.setattr(ReLU, "forward", lambda self, x, training=False: ran.append(self) or original(self, x))
    np.testing.assert_array_equal(model.inference_logits(x), expected)
    np.testing.assert_array_equal(model.predict_proba(x), softmax(expected))
    assert ran == []


@pytest.mark.parametrize("algorithm", ["im2col", "winograd"])
def test_a_fused_relu_is_the_relu_of_forward_and_refused_in_training(algorithm):
    layer = Conv2D(16, 8, 3, algorithm=algorithm, rng=np.random.default_rng(0))
    layer.params["b"][...] = np.random.default_rng(1).standard_normal(8)
    x = np.random.default_rng(2).standard_normal((2, 16, 9, 9)).astype(np.float32)
    x[0, 0, 0, 0] = np.nan                                       # a NaN stays NaN, as np.maximum keeps it
    fused = layer.forward_relu(x)
    np.testing.assert_array_equal(fused, np.maximum(layer.forward(x), 0))
    assert np.isnan(fused).any() and (fused == 0).any() and (fused > 0).any()
    with pytest.raises(ValueError, match="inference"):
        layer.forward(x, training=True, relu=True)


def test_dense_keeps_its_weights_column_by_column_and_computes_x_at_w():
    layer = Dense(20, 6, rng=np.random.default_rng(0))
    assert layer.params["W"].flags.f_contiguous and layer.grads["W"].flags.f_contiguous
    x = np.random.default_rng(1).standard_normal((3, 20)).astype(np.float32)
    layer.params["b"][...] = 0.5
    out = layer.forward(x)
    assert out.flags.c_contiguous
    np.testing.assert_allclose(out, x @ layer.params["W"] + 0.5, rtol=1e-6)
    np.testing.assert_array_equal(layer.forward_relu(x), np.maximum(out, 0))
    dout = np.random.default_rng(2).standard_normal((3, 6)).astype(np.float32)
    layer.backward(dout)
    np.testing.assert_allclose(layer.grads["W"], x.T @ dout, rtol=1e-6)


def _refuse(dout):
    raise AssertionError("backward ran where only the parameters' gradients were asked for")


@pytest.mark.parametrize("first, algorithm", [("relu", "im2col"), ("conv", "im2col"), ("conv", "winograd"),
                                              ("dense", None)])
def test_backward_without_input_gradient_fills_the_same_grads_and_skips_the_rest(first, algorithm):
    """input_gradient=False: the first layer with parameters runs backward_parameters, never
    backward, and the parameterless layers before it do not run; every grad is what a full
    backward gives."""
    rng = np.random.default_rng(0)
    if first == "dense":
        layers = [Flatten(), Dense(2 * 6 * 6, 5, rng=rng), ReLU(), Dense(5, 3, rng=rng)]
    else:
        convs = [Conv2D(2, 16, 3, rng=rng, algorithm=algorithm), ReLU(), Conv2D(16, 4, 3, rng=rng, algorithm=algorithm)]
        layers = ([ReLU()] if first == "relu" else []) + convs + [Flatten(), Dense(4 * 2 * 2, 3, rng=rng)]
    model = Sequential(layers)
    x, dlogits = rng.standard_normal((3, 2, 6, 6)), rng.standard_normal((3, 3))
    model.astype(np.float64).forward(x, training=True)
    assert model.backward(dlogits).shape == x.shape
    full = {name: grad.copy() for name, _, grad in model.named_parameters()}
    first_with_parameters = next(layer for layer in model.layers if layer.params)
    for layer in model.layers[:model.layers.index(first_with_parameters) + 1]:
        layer.backward = _refuse
    for _, _, grad in model.named_parameters():
        grad[...] = np.nan
    model.forward(x, training=True)
    assert model.backward(dlogits, input_gradient=False) is None
    for name, _, grad in model.named_parameters():
        np.testing.assert_allclose(grad, full[name], rtol=1e-12, atol=1e-12, err_msg=name)


def test_backward_without_input_gradient_of_a_model_without_parameters():
    model = Sequential([ReLU(), Flatten()])
    x = np.ones((2, 1, 3, 3))
    model.forward(x)
    assert model.backward(np.ones((2, 9)), input_gradient=False) is None


def test_save_and_load_round_trip(tmp_path):
    model = report_cnn(seed=2)
    model.meta = {"classes": ["a", "b"], "note": "hello"}
    path = tmp_path / "model.npz"
    model.save(path)
    loaded = Sequential.load(path)
    assert [type(layer) for layer in loaded.layers] == [type(layer) for layer in model.layers]
    assert loaded.meta == model.meta
    for (name, w1, _), (_, w2, _) in zip(model.named_parameters(), loaded.named_parameters()):
        np.testing.assert_array_equal(w1, w2, err_msg=name)
    with np.load(path, allow_pickle=False) as data:
        assert json.loads(str(data["config"]))["layers"][0] == {
            "type": "Conv2D", "config": {"in_channels": 1, "out_channels": 64, "kernel_size": [5, 5], "stride": 1,
                                         "padding": 0, "init": "glorot_uniform",
                                             "algorithm": "auto"}}
    assert not list(tmp_path.glob("*.tmp")), "the temporary file was left behind"


def test_load_weights_of_the_wrong_shape_names_layer_and_shapes(tmp_path):
    small = Sequential([Flatten(), Dense(12, 3)])
    big = Sequential([Flatten(), Dense(12, 4)])
    small.save(tmp_path / "small.npz")
    with pytest.raises(ModelFileError) as error:
        big.load_weights(tmp_path / "small.npz")
    message = str(error.value)
    assert "\n" not in message
    assert "layer 1 (Dense) 'W' has shape (12, 3) in the file but the model expects (12, 4)" in message


def test_load_weights_of_another_architecture(tmp_path):
    Sequential([Flatten(), Dense(12, 3)]).save(tmp_path / "m.npz")
    with pytest.raises(ModelFileError, match=r"2 layers differ from the model's 3 from layer 0 on "
                                             r"\(file: Flatten, model: Conv2D\)"):
        Sequential([Conv2D(1, 2, 3), ReLU(), MaxPool2D(2)]).load_weights(tmp_path / "m.npz")
    Sequential([Conv2D(1, 2, 3), ReLU()]).save(tmp_path / "shorter.npz")
    with pytest.raises(ModelFileError, match=r"from layer 2 on \(file: none, model: MaxPool2D\)"):
        Sequential([Conv2D(1, 2, 3), ReLU(), MaxPool2D(2)]).load_weights(tmp_path / "shorter.npz")


@pytest.mark.parametrize("content, message", [
    (None, "no such file"),
    (b"not a zip file", "not a readable .npz"),
])
def test_unreadable_model_files(tmp_path, content, message):
    path = tmp_path / "model.npz"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ModelFileError, match=message):
        Sequential.load(path)


def test_npz_without_config_or_with_pickled_objects(tmp_path):
    np.savez(tmp_path / "plain.npz", weights=np.zeros(3))
    with pytest.raises(ModelFileError, match="no 'config'"):
        Sequential.load(tmp_path / "plain.npz")
    np.savez(tmp_path / "pickled.npz", config=np.array([{"a": 1}], dtype=object))
    with pytest.raises(ModelFileError):
        Sequential.load(tmp_path / "pickled.npz")


def test_nan_weights_are_refused(tmp_path):
    model = Sequential([Flatten(), Dense(4, 2)])
    model.layers[1].params["W"][0, 0] = np.nan
    model.save(tmp_path / "nan.npz")
    with pytest.raises(ModelFileError, match="NaN"):
        Sequential.load(tmp_path / "nan.npz")


@pytest.mark.parametrize("arch, lines", [
    ("report", ["Total params: 1,375,175", "(128, 16, 16)"]),
    # 3x3 convolutions 1->32, 32->64, 64->64, 64->128, 128->128, 128->256, 256->256 with biases,
    # 8 BatchNorms (gamma, beta), Dense 2304->256 and 256->7.
    ("vgg_bn", ["Total params: 1,756,679", "0: Conv2D", "(32, 48, 48)", "1: BatchNorm2D", "(256, 3, 3)",
                "27: BatchNorm1D", "(7,)"]),
])
def test_train_summary_command(arch, lines):
    result = subprocess.run([sys.executable, "-m", "fer_app.train", "--arch", arch, "--summary"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    for line in lines:
        assert line in result.stdout


def test_atomic_write_gives_the_permissions_a_plain_open_would(tmp_path):
    import os
    from minicnn.io import atomic_write
    with open(tmp_path / "plain.bin", "wb") as f:
        f.write(b"x")
    with atomic_write(tmp_path / "atomic.bin") as f:
        f.write(b"x")
    assert (tmp_path / "atomic.bin").stat().st_mode == (tmp_path / "plain.bin").stat().st_mode
    with pytest.raises(RuntimeError):
        with atomic_write(tmp_path / "failed.bin") as f:
            f.write(b"half")
            raise RuntimeError("interrupted")
    assert sorted(os.listdir(tmp_path)) == ["atomic.bin", "plain.bin"]
