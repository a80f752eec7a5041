"""Loading the app's model: the shipped file checked against its record, --model files checked to fit."""
import json

import numpy as np
import pytest

from fer_app.model_store import check_model_fits, load_inference_model, load_model, load_shipped_model, sha256_of
from minicnn import Dense, Flatten, ModelFileError, Sequential


@pytest.fixture
def shipped(tmp_path, tiny_model_path):
    """(model path, record path) of a shipped model in a temporary weights folder, record matching."""
    model_path, record_path = tmp_path / "report_cnn.npz", tmp_path / "report_cnn.json"
    model_path.write_bytes(tiny_model_path.read_bytes())
    record_path.write_text(json.dumps({"sha256": sha256_of(model_path), "val_acc": 0.5}))
    return model_path, record_path


def resaved(tiny_model_path, tmp_path, **meta_changes):
    model = Sequential.load(tiny_model_path)
    model.meta.update(meta_changes)
    path = tmp_path / "changed.npz"
    model.save(path)
    return path


def test_a_model_that_fits_loads(tiny_model_path):
    model = load_model(tiny_model_path)
    assert model.predict_proba(np.zeros((2, 1, 48, 48), np.float32)).shape == (2, 7)


def test_the_app_runs_a_frozen_model_with_the_same_probabilities(tiny_model_path):
    model, frozen = load_model(tiny_model_path), load_inference_model(tiny_model_path)
    assert all(not array.flags.writeable for layer in frozen.layers for array in (layer.params | layer.state).values())
    faces = np.random.default_rng(0).random((3, 1, 48, 48), dtype=np.float32)
    np.testing.assert_array_equal(frozen.predict_proba(faces), model.predict_proba(faces))


def test_the_shipped_model_loads_when_it_matches_its_record(shipped):
    assert load_shipped_model(*shipped).meta["arch"] == "tiny-test"


def test_a_missing_shipped_model_asks_for_model_path(tmp_path):
    with pytest.raises(ModelFileError, match=r"no shipped model yet .*: pass --model PATH"):
        load_shipped_model(tmp_path / "report_cnn.npz", tmp_path / "report_cnn.json")


def test_a_changed_shipped_model_is_refused(shipped):
    model_path, record_path = shipped
    with open(model_path, "ab") as f:
        f.write(b"\0")
    with pytest.raises(ModelFileError, match="differs from its record"):
        load_shipped_model(model_path, record_path)


@pytest.mark.parametrize("record", [None, b"not json", json.dumps({"val_acc": 0.5}).encode(), b"[1]",
                                    b'{"sha256": "\xff\xfe"}'])
def test_a_shipped_model_without_a_usable_record_is_refused(shipped, record):
    model_path, record_path = shipped
    if record is None:
        record_path.unlink()
    else:
        record_path.write_bytes(record)
    with pytest.raises(ModelFileError, match="report_cnn.json"):
        load_shipped_model(model_path, record_path)


@pytest.mark.parametrize("changes, message", [
    ({"classes": ["happy", "sad"]}, "classes"),
    ({"classes": ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]}, "classes"),   # fer2013.csv order
    ({"input_shape": [3, 48, 48]}, "input shape"),
])
def test_a_model_with_other_classes_or_inputs_is_refused(tiny_model_path, tmp_path, changes, message):
    with pytest.raises(ModelFileError, match=message):
        load_model(resaved(tiny_model_path, tmp_path, **changes))


def test_layers_that_do_not_fit_the_input_are_refused(tiny_model_path):
    meta = Sequential.load(tiny_model_path).meta
    with pytest.raises(ModelFileError, match="do not fit"):
        check_model_fits(Sequential([Flatten(), Dense(100, 7)], meta=meta), "model.npz")
    with pytest.raises(ModelFileError, match="outputs shape"):
        check_model_fits(Sequential([Flatten(), Dense(48 * 48, 3)], meta=meta), "model.npz")


def test_a_file_that_is_not_a_model_is_refused(tmp_path):
    path = tmp_path / "notes.npz"
    path.write_text("not a model")
    with pytest.raises(ModelFileError):
        load_model(path)
    with pytest.raises(ModelFileError):
        load_model(tmp_path / "absent.npz")


def test_shipped_models_are_chosen_by_name(monkeypatch, shipped):
    import fer_app.model_store as store
    monkeypatch.setattr(store, "shipped_paths", lambda name: shipped)
    monkeypatch.setattr(store, "SHIPPED_MODELS", {"tiny": "report_cnn"})
    assert load_model("tiny").meta["arch"] == "tiny-test"
    with pytest.raises(ModelFileError, match="no such file"):
        load_model("not-a-name")         # neither a shipped name nor a file
