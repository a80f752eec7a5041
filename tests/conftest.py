"""Fixtures shared by the test modules."""
import os
from pathlib import Path

import pytest

# The data set lives beside the repository (../shared/fer2013), never inside it.
DEFAULT_FER2013_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "fer2013"


@pytest.fixture(scope="session")
def fer2013_dir():
    """Path of the real FER2013 image folders (env FER2013_DIR overrides); skips the test if absent."""
    path = Path(os.environ.get("FER2013_DIR", DEFAULT_FER2013_DIR))
    if not path.is_dir():
        pytest.skip(f"FER2013 not found at {path} (set FER2013_DIR to its folder)")
    return path


def _available_backends():
    import minicnn
    return ["numpy", "numba"] if minicnn.numba_available() else ["numpy"]


@pytest.fixture(params=_available_backends())
def backend(request):
    """Run the test once per available kernel backend, restoring the previous one after."""
    import minicnn
    with minicnn.using_backend(request.param):
        yield request.param


# --- fer_app: a model and real-face scenes for the detection / image / video / webcam tests.
# Imports stay inside the fixtures: every test loads this file, and minicnn's tests must
# run where OpenCV is not installed.

@pytest.fixture(scope="session")
def tiny_model_path(tmp_path_factory):
    """An untrained model file that fits the app (7 classes from 1x48x48), small enough to cost nothing.

    Its meta is what fer_app.train stores. The app tests check plumbing, not accuracy, so
    they never depend on the shipped model.
    """
    import numpy as np

    from data_tools.labels import EMOTIONS
    from data_tools.preprocess import INPUT_SHAPE, PREPROCESSING
    from minicnn import Conv2D, Dense, Flatten, MaxPool2D, ReLU, Sequential
    rng = np.random.default_rng(0)
    model = Sequential([Conv2D(1, 4, 3, rng=rng), ReLU(), MaxPool2D(4), Flatten(), Dense(4 * 11 * 11, 7, rng=rng)],
                       meta={"classes": list(EMOTIONS), "input_shape": list(INPUT_SHAPE),
                             "preprocessing": PREPROCESSING, "arch": "tiny-test"})
    path = tmp_path_factory.mktemp("models") / "tiny.npz"
    model.save(path)
    return path


@pytest.fixture(scope="session")
def detectable_faces(fer2013_dir):
    """Three FER2013 validation faces that the app's video detector finds when pasted at SCENE_FACE px.

    Many data set crops are too tight for the Haar cascade; taking the first ones it does
    find, in file name order, keeps the tests deterministic. (48, 48) uint8 each.
    """
    import cv2
    from tests.app_helpers import SCENE_FACE, paste_faces

    from fer_app.haar import VIDEO_DETECT_WIDTH, HaarDetector
    from fer_app.tracking import iou
    detector = HaarDetector(detect_width=VIDEO_DETECT_WIDTH)
    box = (240, 160, SCENE_FACE, SCENE_FACE)
    found = []
    for path in sorted((fer2013_dir / "validation" / "happy").glob("*.jpg")):
        face = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        boxes = detector.detect(paste_faces([face], [box]))
        if len(boxes) == 1 and iou(boxes[0], box) > 0.5:
            found.append(face)
        if len(found) == 3:
            return found
    pytest.fail("the Haar cascade found fewer than 3 pasted FER2013 faces")


@pytest.fixture(scope="session")
def face_video(tmp_path_factory, detectable_faces):
    """(path, frame count, fps): a 640x480 .mp4 of two real faces moving on a plain background."""
    from tests.app_helpers import moving_face_boxes, paste_faces, write_video
    frames, fps = 30, 15.0
    path = tmp_path_factory.mktemp("videos") / "two_faces.mp4"
    write_video(path, [paste_faces(detectable_faces[:2], moving_face_boxes(i)) for i in range(frames)], fps)
    return path, frames, fps
