"""Hostile and damaged model files: every one is a ModelFileError with one line, nothing huge is allocated."""
import io
import json
import resource
import subprocess
import sys
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from minicnn import BatchNorm1D, BatchNorm2D, Conv2D, Dense, Dropout, Flatten, MaxPool2D, ModelFileError, ReLU, Sequential
from minicnn.layers import LAYER_TYPES
from minicnn.model import FILE_FORMAT


def good_model():
    rng = np.random.default_rng(0)
    return Sequential([Conv2D(1, 2, 3, rng=rng), BatchNorm2D(2), ReLU(), MaxPool2D(2), Flatten(),
                       Dense(2 * 3 * 3, 3, rng=rng), Dropout(0.5)], meta={"note": "ok"})


def write_npz(path, arrays):
    np.savez(path, **arrays)
    return path


def with_config(path, config, arrays=None):
    """A model file holding good_model()'s weights (or `arrays`) and this config."""
    arrays = dict(good_model().weights() if arrays is None else arrays)
    arrays["config"] = np.array(config if isinstance(config, str) else json.dumps(config))
    return write_npz(path, arrays)


def good_config():
    return good_model().config()


def changed_layer(index, **changes):
    config = good_config()
    config["layers"][index]["config"].update(changes)
    return config


BAD_CONFIGS = {
    "a list": [1],
    "null": None,
    "a number": 1.5,
    "not JSON": "{not json",
    "no layers": {"format": FILE_FORMAT},
    "layer as a string": {"format": FILE_FORMAT, "layers": ["Conv2D"]},
    "unknown layer": {"format": FILE_FORMAT, "layers": [{"type": "Attention", "config": {}}]},
    "layer config a list": {"format": FILE_FORMAT, "layers": [{"type": "ReLU", "config": [1]}]},
    "meta a list": {**good_config(), "meta": [1, 2]},
    "meta a string": {**good_config(), "meta": "x"},
    "kernel size 0": changed_layer(0, kernel_size=0),
    "kernel size negative": changed_layer(0, kernel_size=[-3, 3]),
    "kernel size a string": changed_layer(0, kernel_size="3"),
    "stride 0": changed_layer(0, stride=0),
    "padding negative": changed_layer(0, padding=-1),
    "out channels negative": changed_layer(0, out_channels=-2),
    "channels a float": changed_layer(0, in_channels=1.5),
    "channels a bool": changed_layer(0, in_channels=True),
    "pool size 0": changed_layer(3, pool_size=0),
    "pool stride negative": changed_layer(3, stride=-1),
    "dense size 0": changed_layer(5, in_features=0),
    "dropout rate 2": changed_layer(6, rate=2),
    "dropout rate a string": changed_layer(6, rate="x"),
    "batchnorm features 0": changed_layer(1, num_features=0),
    "batchnorm momentum NaN": changed_layer(1, momentum=float("nan")),
    "unknown argument": changed_layer(0, colour="red"),
    "shape differs from the array": changed_layer(5, out_features=4),
    "huge dense layer": changed_layer(5, in_features=25_000, out_features=25_000),
    "astronomical dense layer": changed_layer(5, in_features=10 ** 9, out_features=10 ** 9),
}


@pytest.mark.parametrize("name", BAD_CONFIGS)
def test_bad_configs_are_model_file_errors(tmp_path, name):
    path = with_config(tmp_path / "m.npz", BAD_CONFIGS[name])
    with pytest.raises(ModelFileError) as error:
        Sequential.load(path)
    assert "\n" not in str(error.value) and str(path) in str(error.value)


def weights_with(name, value):
    arrays = dict(good_model().weights())
    arrays[name] = value
    return arrays


BAD_ARRAYS = {
    "int32 weights": weights_with("5.W", np.ones((18, 3), np.int32)),
    "bool weights": weights_with("5.W", np.ones((18, 3), bool)),
    "complex weights": weights_with("5.W", np.ones((18, 3), np.complex64)),
    "datetime weights": weights_with("5.b", np.array(["2020-01-01"] * 3, dtype="datetime64[D]")),
    "string weights": weights_with("0.W", np.full((2, 1, 3, 3), "x")),
    "structured weights": weights_with("0.b", np.zeros(2, dtype=[("a", "f4"), ("b", "i4")])),
    "NaN running variance": weights_with("1.running_var", np.array([1.0, np.nan], np.float32)),
    "missing running mean": {k: v for k, v in good_model().weights().items() if k != "1.running_mean"},
    "missing weights": {k: v for k, v in good_model().weights().items() if k != "0.W"},
    "wrong shape": weights_with("0.W", np.zeros((2, 1, 3, 4), np.float32)),
}


@pytest.mark.parametrize("name", BAD_ARRAYS)
def test_bad_weight_arrays_are_model_file_errors(tmp_path, name):
    path = with_config(tmp_path / "m.npz", good_config(), BAD_ARRAYS[name])
    with pytest.raises(ModelFileError) as error:
        Sequential.load(path)
    assert "\n" not in str(error.value)


def test_float64_weights_load_into_a_float32_model(tmp_path):
    model = good_model()
    path = with_config(tmp_path / "m.npz", good_config(), {k: v.astype(np.float64) for k, v in model.weights().items()})
    loaded = Sequential.load(path)
    assert all(param.dtype == np.float32 for _, param, _ in loaded.named_parameters())


def npy_bytes(array, shape=None):
    """An .npy member; `shape` overrides the shape its header declares."""
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array, allow_pickle=False)
    data = buffer.getvalue()
    if shape is not None:
        header = np.lib.format.header_data_from_array_1_0(array) | {"shape": shape}
        out = io.BytesIO()
        np.lib.format.write_array_header_1_0(out, header)
        data = out.getvalue() + array.tobytes()
    return data


def zip_members(path, members):
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name + ".npy", data)
    return path


def test_a_header_claiming_a_huge_array_is_refused_before_reading(tmp_path):
    members = {k: npy_bytes(v) for k, v in good_model().weights().items()}
    members["config"] = npy_bytes(np.array(json.dumps(good_config())))
    members["5.W"] = npy_bytes(np.zeros((18, 3), np.float32), shape=(10 ** 6, 10 ** 6))
    with pytest.raises(ModelFileError, match="claims shape"):
        Sequential.load(zip_members(tmp_path / "m.npz", members))


def test_pickled_members_are_refused(tmp_path):
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    members = {"config": buffer.getvalue()}
    with pytest.raises(ModelFileError, match="Python objects") as error:
        Sequential.load(zip_members(tmp_path / "m.npz", members))
    assert "allow_pickle" not in str(error.value)


def test_only_the_members_the_model_needs_are_read(tmp_path, monkeypatch):
    """An unused member is never read: here one that would fail if it were."""
    members = {k: npy_bytes(v) for k, v in good_model().weights().items()}
    members["config"] = npy_bytes(np.array(json.dumps(good_config())))
    members["unused"] = b"not an array at all"
    model = Sequential.load(zip_members(tmp_path / "m.npz", members))
    assert len(model.layers) == 7


@pytest.mark.parametrize("content", [b"", b"PK\x03\x04 truncated", bytes(range(256)) * 4])
def test_garbage_files(tmp_path, content):
    path = tmp_path / "m.npz"
    path.write_bytes(content)
    with pytest.raises(ModelFileError) as error:
        Sequential.load(path)
    assert "allow_pickle" not in str(error.value)


def test_a_folder_is_not_a_model(tmp_path):
    with pytest.raises(ModelFileError, match="folder"):
        Sequential.load(tmp_path)


def test_parameter_shapes_match_the_built_layers():
    """parameter_shapes is how a file's claims are checked before building: it must agree with the layers."""
    configs = {Conv2D: dict(in_channels=3, out_channels=4, kernel_size=[3, 5]), Dense: dict(in_features=5, out_features=2),
               BatchNorm2D: dict(num_features=3), BatchNorm1D: dict(num_features=6)}
    for cls in LAYER_TYPES.values():
        config = configs.get(cls, {})
        if cls in (MaxPool2D, Dropout):
            config = {"pool_size": 2} if cls is MaxPool2D else {"rate": 0.5}
        layer = cls(**config)
        assert cls.parameter_shapes(**layer.config()) == {k: v.shape for k, v in (layer.params | layer.state).items()}


DENSE_BOMB = """
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
from minicnn import ModelFileError, Sequential
try:
    Sequential.load(sys.argv[1])
except ModelFileError as error:
    print("refused:", error)
"""


def test_a_small_file_declaring_a_huge_layer_fails_under_a_1_gb_memory_cap(tmp_path):
    path = with_config(tmp_path / "m.npz", BAD_CONFIGS["huge dense layer"])
    assert path.stat().st_size < 10_000
    result = subprocess.run([sys.executable, "-c", DENSE_BOMB, str(path)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("refused:")


json_values = st.recursive(st.none() | st.booleans() | st.integers(-10, 10 ** 12) | st.floats() | st.text(max_size=5),
                           lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children,
                                                                                              max_size=3),
                           max_leaves=10)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(index=st.integers(0, 6), key=st.sampled_from(["in_channels", "out_channels", "kernel_size", "stride", "padding",
                                                      "pool_size", "in_features", "out_features", "rate",
                                                      "num_features", "momentum", "eps", "algorithm", "init"]),
       value=json_values)
def test_any_value_in_any_layer_argument_loads_or_is_a_model_file_error(tmp_path, index, key, value):
    """Whatever JSON value a layer argument holds, load either works or raises ModelFileError."""
    config = good_config()
    config["layers"][index]["config"][key] = value
    path = with_config(tmp_path / "m.npz", config)
    try:
        Sequential.load(path)
    except ModelFileError as error:
        assert "\n" not in str(error)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss < 4 << 20   # KB: under 4 GB, nothing huge built
