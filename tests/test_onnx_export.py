"""ONNX export: ONNX Runtime (and OpenCV's DNN module) give the probabilities minicnn gives."""
import json
import subprocess
import sys

import numpy as np
import pytest

onnx = pytest.importorskip("onnx", reason='ONNX export needs the onnx extra (pip install -e ".[onnx]")')
ort = pytest.importorskip("onnxruntime", reason='the export is checked with ONNX Runtime (pip install -e ".[onnx]")')

from data_tools.labels import EMOTIONS  # noqa: E402
from data_tools.preprocess import INPUT_SHAPE, normalize  # noqa: E402
from fer_app.export_onnx import main as export_main  # noqa: E402
from fer_app.model_store import load_model  # noqa: E402
from minicnn import (BatchNorm1D, BatchNorm2D, Conv2D, Dense, Dropout, Flatten, Layer, MaxPool2D,  # noqa: E402
                     ReLU, Sequential)
from minicnn.models import report_cnn, vgg_bn_cnn  # noqa: E402
from minicnn.onnx_export import INPUT_NAME, export_onnx, to_onnx  # noqa: E402
from tests.app_helpers import REPO, assert_one_line_error, run_main  # noqa: E402

TOLERANCE = 1e-5
FACES_PER_CLASS = 3
ARCHITECTURES = {"report": report_cnn, "vgg_bn": vgg_bn_cnn}


@pytest.fixture(scope="module")
def faces(fer2013_dir):
    """The first FACES_PER_CLASS validation faces of each class, preprocessed: (21, 1, 48, 48) float32."""
    import cv2
    images = []
    for emotion in EMOTIONS:
        for path in sorted((fer2013_dir / "validation" / emotion).glob("*.jpg"))[:FACES_PER_CLASS]:
            images.append(cv2.imread(str(path), cv2.IMREAD_GRAYSCALE))
    return normalize(np.stack(images))


def with_batchnorm_statistics(model, rng):
    """The model after a few training-mode forwards (running means and variances away from
    0 and 1) and with random gammas and betas: every array a BatchNorm export uses matters."""
    for _ in range(3):
        model.forward(rng.normal(0.5, 0.3, (16,) + INPUT_SHAPE).astype(np.float32), training=True)
    for layer in model.layers:
        if isinstance(layer, (BatchNorm1D, BatchNorm2D)):
            layer.params["gamma"][...] = rng.uniform(0.5, 1.5, layer.num_features)
            layer.params["beta"][...] = rng.normal(0, 0.2, layer.num_features)
            assert np.abs(layer.state["running_mean"]).max() > 1e-3
            assert np.abs(layer.state["running_var"] - 1).max() > 1e-3
    return model


def ort_probabilities(proto, x):
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {INPUT_NAME: x})[0]


def assert_same_probabilities(model, proto, x):
    for batch in (x[:1], x):   # batch 1 and several, through the one file with a free batch size
        expected = model.predict_proba(batch)
        assert np.abs(ort_probabilities(proto, batch) - expected).max() <= TOLERANCE


@pytest.mark.parametrize("fold", [False, True], ids=["batchnorm", "folded"])
@pytest.mark.parametrize("arch", sorted(ARCHITECTURES))
def test_onnx_runtime_gives_minicnn_probabilities(arch, fold, faces):
    rng = np.random.default_rng(1)
    model = with_batchnorm_statistics(ARCHITECTURES[arch](seed=0), rng)
    proto = to_onnx(model, INPUT_SHAPE, fold=fold)
    onnx.checker.check_model(proto, full_check=True)
    operators = [node.op_type for node in proto.graph.node]
    batchnorms = sum(isinstance(layer, (BatchNorm1D, BatchNorm2D)) for layer in model.layers)
    assert operators.count("BatchNormalization") == (0 if fold else batchnorms)
    assert operators[-1] == "Softmax" and "Dropout" not in operators
    assert_same_probabilities(model, proto, faces)
    assert_same_probabilities(model, proto, rng.random((5,) + INPUT_SHAPE, dtype=np.float32))


def test_shipped_model_exports_to_the_same_probabilities(faces, tmp_path):
    model = load_model()
    path = tmp_path / "shipped.onnx"
    export_onnx(model, path, INPUT_SHAPE)
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto, full_check=True)
    assert_same_probabilities(model, proto, faces)
    # A trained model is confident on some faces: the comparison is not between near-uniform rows.
    assert model.predict_proba(faces).max() > 0.9
    metadata = {prop.key: json.loads(prop.value) for prop in proto.metadata_props}
    assert metadata["classes"] == list(EMOTIONS)
    batch_dim, *sample_dims = proto.graph.input[0].type.tensor_type.shape.dim
    assert batch_dim.dim_param and [d.dim_value for d in sample_dims] == list(INPUT_SHAPE)


def test_opencv_dnn_reads_the_report_network(faces, tmp_path):
    import cv2
    model = report_cnn(seed=0)
    path = tmp_path / "report.onnx"
    export_onnx(model, path, INPUT_SHAPE)
    net = cv2.dnn.readNetFromONNX(str(path))
    net.setInput(faces)
    assert np.abs(net.forward() - model.predict_proba(faces)).max() <= TOLERANCE


def test_strides_padding_and_leftover_rows_export_as_minicnn_computes():
    """Strided, padded, non-square convolution; overlapping pooling that drops a row; a
    BatchNorm1D and Dropout: attributes the two shipped networks leave at their defaults."""
    rng = np.random.default_rng(2)
    model = Sequential([
        Conv2D(1, 4, (3, 5), stride=2, padding=2, rng=rng), ReLU(),   # 48x48 -> 25x24
        MaxPool2D(3, stride=2),                                       # -> 12x11, a leftover row dropped
        Flatten(), Dropout(0.5, rng=rng),
        Dense(4 * 12 * 11, 6, rng=rng), BatchNorm1D(6), ReLU(), Dense(6, 3, rng=rng),
    ])
    model = with_batchnorm_statistics(model, rng)
    proto = to_onnx(model, INPUT_SHAPE)
    assert_same_probabilities(model, proto, rng.random((4,) + INPUT_SHAPE, dtype=np.float32))


def test_bad_models_and_shapes_are_one_line_errors():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="input_shape"):
        to_onnx(report_cnn(seed=0))                         # no meta, no input_shape
    with pytest.raises(ValueError, match="input channels"):
        to_onnx(report_cnn(seed=0), (3, 48, 48))

    class Doubling(Layer):
        def forward(self, x, training=False):
            return 2 * x

        def output_shape(self, input_shape):
            return input_shape
    with pytest.raises(ValueError, match="layer 2 \\(Doubling\\) has no ONNX export"):
        to_onnx(Sequential([Flatten(), Dense(48 * 48, 7, rng=rng), Doubling()]), INPUT_SHAPE)


def test_minicnn_imports_without_onnx():
    code = "import sys, minicnn, minicnn.onnx_export, fer_app.export_onnx; print('onnx' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_missing_onnx_names_the_extra(monkeypatch, tmp_path, capfd, tiny_model_path):
    monkeypatch.setitem(sys.modules, "onnx", None)   # import onnx now raises ImportError
    with pytest.raises(ImportError, match=r"minicnn-fer\[onnx\]"):
        to_onnx(report_cnn(seed=0), INPUT_SHAPE)
    code, _, err = run_main(export_main, ["--model", tiny_model_path, "--out", tmp_path / "m.onnx"], capfd)
    assert code == 2
    assert_one_line_error(code, err, "minicnn-fer[onnx]")
    assert list(tmp_path.iterdir()) == []


def test_command_replaces_the_file_whole(tmp_path, capfd, tiny_model_path):
    out = tmp_path / "model.onnx"
    out.write_bytes(b"an older export")
    code, printed, err = run_main(export_main, ["--model", tiny_model_path, "--out", out], capfd)
    assert code == 0, err
    assert "wrote" in printed and str(out) in printed
    assert [p.name for p in tmp_path.iterdir()] == ["model.onnx"]   # no temporary file left behind
    model = load_model(tiny_model_path)
    x = np.random.default_rng(3).random((3,) + INPUT_SHAPE, dtype=np.float32)
    assert np.abs(ort_probabilities(onnx.load(str(out)), x) - model.predict_proba(x)).max() <= TOLERANCE


def test_command_refuses_a_bad_model_path_in_one_line(tmp_path, capfd):
    missing = tmp_path / "missing.npz"
    code, _, err = run_main(export_main, ["--model", missing, "--out", tmp_path / "m.onnx"], capfd)
    assert code == 2
    assert_one_line_error(code, err, str(missing))
    assert not (tmp_path / "m.onnx").exists()
