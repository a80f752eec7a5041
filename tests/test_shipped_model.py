"""The models that ship inside the package: intact, the networks they claim, and the demo runs on them."""
import json

import pytest
from tests.app_helpers import run_command

from data_tools.labels import EMOTIONS
from fer_app.model_store import DEFAULT_MODEL, SHIPPED_MODELS, load_inference_model, load_model, sha256_of, shipped_paths

PARAMETERS = {"report": 1_375_175, "vgg_bn": 1_756_679}


def test_every_shipped_model_is_known():
    assert set(SHIPPED_MODELS) <= set(PARAMETERS) and DEFAULT_MODEL in SHIPPED_MODELS


@pytest.mark.parametrize("name", sorted(SHIPPED_MODELS))
def test_shipped_model_matches_its_record(name):
    model_path, record_path = shipped_paths(name)
    record = json.loads(record_path.read_text())
    assert sha256_of(model_path) == record["sha256"]
    model = load_model(name)
    assert model.num_params() == PARAMETERS[name] == record["params"]
    assert record["arch"] == model.meta["arch"] == name
    assert model.meta["classes"] == list(EMOTIONS)
    evaluation = record["evaluation"]
    assert evaluation["images"] == 3589 and evaluation["split"] == "validation"
    assert sum(map(sum, evaluation["confusion_matrix"])) == 3589


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(SHIPPED_MODELS))
def test_shipped_record_figures_are_what_the_model_gives(fer2013_dir, name):
    """The record's validation figures, measured again as the app runs the model: as it
    classifies (with the mirror average), and single views."""
    from data_tools.fer2013 import load_split
    from fer_app.evaluation import evaluate_split
    record = json.loads(shipped_paths(name)[1].read_text())
    images, labels = load_split(fer2013_dir, "validation")
    model = load_inference_model(name)
    loss, accuracy, _ = evaluate_split(model, images, labels, mirror=record["evaluation"]["mirror"])
    # A kernel change may round a borderline face the other way: a couple of faces at most.
    assert accuracy == pytest.approx(record["evaluation"]["accuracy"], abs=2 / len(labels))
    assert loss == pytest.approx(record["evaluation"]["loss"], abs=1e-3)
    _, single_accuracy, _ = evaluate_split(model, images, labels, mirror=False)
    assert single_accuracy == pytest.approx(record["single_view"]["accuracy"], abs=2 / len(labels))


def test_demo_finds_and_labels_the_astronaut(tmp_path):
    pytest.importorskip("skimage", reason="the demo photo comes with scikit-image (pip install -e '.[demo]')")
    result = run_command("fer_app.demo", "--out", tmp_path)
    assert result.returncode == 0, result.stderr
    records = json.loads((tmp_path / "faces.json").read_text())
    assert len(records) == 1
    x, y, w, h = records[0]["box"]
    assert 150 < x + w / 2 < 300 and 60 < y + h / 2 < 160   # her face, in the 512x512 photo
    assert records[0]["label"] in EMOTIONS
    assert sum(records[0]["probs"].values()) == pytest.approx(1, abs=1e-4)
    assert (tmp_path / "astronaut.annotated.png").stat().st_size > 10_000
