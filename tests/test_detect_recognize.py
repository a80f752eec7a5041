"""The face pipeline: detection on real faces, batched classification, box following, ids and smoothing."""
import cv2
import numpy as np
import pytest
from tests.app_helpers import SCENE_FACE, moving_face_boxes, paste_faces

from data_tools.labels import EMOTIONS
from data_tools.preprocess import crop_face, normalize, to_gray
from fer_app.errors import AppError
from fer_app.follow import follow_box
from fer_app.haar import HaarDetector
from fer_app.model_store import load_model
from fer_app.recognizer import EmotionRecognizer, Face
from fer_app.stream import FaceStream
from fer_app.tracking import FaceTracker, iou


class CountingModel:
    """Wraps a model and records the batch size of every predict_proba call."""

    def __init__(self, model):
        self.model = model
        self.batches = []

    def predict_proba(self, x, **options):
        self.batches.append(x.shape)
        return self.model.predict_proba(x, **options)


@pytest.fixture(scope="module")
def model(tiny_model_path):
    return load_model(tiny_model_path)


def face_with(box, probs=None):
    probs = np.full(len(EMOTIONS), 1 / len(EMOTIONS), np.float32) if probs is None else np.asarray(probs, np.float32)
    return Face(box, probs, probs)


# --- detection -------------------------------------------------------------------------

@pytest.mark.parametrize("detect_width", [None, 320])
def test_detector_finds_real_faces_where_they_are(detectable_faces, detect_width):
    boxes = [(30, 40, 200, 200), (330, 200, SCENE_FACE, SCENE_FACE)]
    found = HaarDetector(detect_width=detect_width).detect(paste_faces(detectable_faces[:2], boxes))
    assert len(found) == 2
    assert iou(found[0], boxes[0]) > 0.5 and iou(found[1], boxes[1]) > 0.5   # largest first


def test_detector_finds_the_astronaut():
    skimage_data = pytest.importorskip("skimage.data")
    photo = skimage_data.astronaut()[:, :, ::-1]
    (box,) = HaarDetector().detect(photo)
    assert iou(box, (177, 66, 95, 95)) > 0.6   # her face, found by hand once


def test_no_face_is_an_empty_list():
    assert HaarDetector().detect(np.full((240, 320, 3), 150, np.uint8)) == []


def test_min_face_leaves_out_smaller_faces(detectable_faces):
    scene = paste_faces(detectable_faces[:1], [(100, 100, SCENE_FACE, SCENE_FACE)])
    assert HaarDetector(min_size=SCENE_FACE * 2).detect(scene) == []


@pytest.mark.parametrize("settings", [{"scale_factor": 1.0}, {"min_size": 0}, {"min_neighbors": -1},
                                      {"detect_width": 8}])
def test_bad_detector_settings_are_user_errors(settings):
    with pytest.raises(AppError):
        HaarDetector(**settings)


def test_an_opencv_without_the_bundled_cascade_is_a_user_error(monkeypatch):
    monkeypatch.delattr(cv2, "data")   # as in opencv-python 5
    with pytest.raises(AppError, match="opencv-python 4"):
        HaarDetector()


# --- classification --------------------------------------------------------------------

def test_all_faces_of_a_frame_go_through_the_network_in_one_batch(model, detectable_faces):
    counting = CountingModel(model)
    boxes = [(20, 20, 180, 180), (230, 40, 170, 170), (440, 260, SCENE_FACE, SCENE_FACE)]
    scene = paste_faces(detectable_faces, boxes)
    faces = EmotionRecognizer(counting, HaarDetector()).analyze(scene)
    assert len(faces) == 3
    assert counting.batches == [(6, 1, 48, 48)]           # the three faces and their mirror images
    for face in faces:
        assert face.probs.shape == (len(EMOTIONS),) and face.probs.sum() == pytest.approx(1, abs=1e-5)
        assert face.label == EMOTIONS[int(np.argmax(face.probs))] and face.face_id is None


def test_a_frame_without_faces_skips_the_network(model):
    counting = CountingModel(model)
    assert EmotionRecognizer(counting, HaarDetector()).analyze(np.zeros((120, 160, 3), np.uint8)) == []
    assert counting.batches == []


class RecordingModel:
    """Stands in for a model and keeps the input tensors the recognizer hands it."""

    def __init__(self):
        self.inputs = []

    def predict_proba(self, batch, batch_size=256):
        self.inputs.append(batch)
        return np.full((len(batch), len(EMOTIONS)), 1 / len(EMOTIONS), dtype=np.float32)


def test_training_and_inference_tensors_of_a_face_are_the_same(fer2013_dir):
    """A data set face through the training path and through the app (`image --no-detect`) gives one tensor."""
    from data_tools.fer2013 import load_split
    from fer_app.image import read_image
    images, labels = load_split(fer2013_dir, "validation")
    training_tensors = normalize(images[labels == 0][:10])           # what fer_app.train feeds the network
    files = sorted((fer2013_dir / "validation" / EMOTIONS[0]).iterdir())[:10]   # load_split's order: by name
    recording = RecordingModel()
    recognizer = EmotionRecognizer(recording, mirror=False)            # no detector: the --no-detect path
    for file in files:
        recognizer.analyze(read_image(file))
    inference_tensors = np.concatenate(recording.inputs)
    assert inference_tensors.dtype == training_tensors.dtype == np.float32
    np.testing.assert_array_equal(inference_tensors, training_tensors)


def test_without_a_detector_the_whole_image_is_the_face(model, detectable_faces):
    (face,) = EmotionRecognizer(model).analyze(detectable_faces[0])
    assert face.box == (0, 0, 48, 48)


def test_classification_uses_the_one_preprocessing(model, detectable_faces):
    scene = paste_faces(detectable_faces[:1], [(50, 60, SCENE_FACE, SCENE_FACE)])
    box = (50, 60, SCENE_FACE, SCENE_FACE)
    (face,) = EmotionRecognizer(model).classify(scene, [box])
    tensor = normalize(crop_face(scene, box)[None])
    expected = (model.predict_proba(tensor)[0] + model.predict_proba(tensor[..., ::-1].copy())[0]) / 2
    np.testing.assert_allclose(face.raw_probs, expected, rtol=1e-5)
    (single,) = EmotionRecognizer(model, mirror=False).classify(scene, [box])
    np.testing.assert_allclose(single.raw_probs, model.predict_proba(tensor)[0], rtol=1e-5)
    assert not np.allclose(single.raw_probs, face.raw_probs, rtol=1e-3)   # the mirror view changed something


# --- following boxes between detections ---------------------------------------------------

def test_follow_box_moves_with_the_face(detectable_faces):
    before = to_gray(paste_faces(detectable_faces[:1], [(100, 100, SCENE_FACE, SCENE_FACE)]))
    after = to_gray(paste_faces(detectable_faces[:1], [(112, 93, SCENE_FACE, SCENE_FACE)]))
    assert follow_box(before, after, (100, 100, SCENE_FACE, SCENE_FACE)) == (112, 93, SCENE_FACE, SCENE_FACE)


def test_follow_box_loses_a_face_that_left(detectable_faces):
    before = to_gray(paste_faces(detectable_faces[:1], [(100, 100, SCENE_FACE, SCENE_FACE)]))
    noise = np.random.default_rng(0).integers(0, 256, before.shape, dtype=np.uint8)
    assert follow_box(before, noise, (100, 100, SCENE_FACE, SCENE_FACE)) is None


# --- ids and smoothing -----------------------------------------------------------------------

def test_tracker_keeps_ids_of_moving_faces_and_never_shares_one():
    tracker = FaceTracker()
    for frame in range(20):
        boxes = [(10 + 4 * frame, 10, 50, 50), (200, 10 + 4 * frame, 50, 50)]
        tracked = tracker.update([face_with(box) for box in boxes], time_s=frame / 30)
        assert [face.face_id for face in tracked] == [1, 2]


def test_tracker_gives_two_overlapping_faces_two_ids():
    tracker = FaceTracker()
    tracker.update([face_with((0, 0, 50, 50))], 0.0)
    tracked = tracker.update([face_with((2, 0, 50, 50)), face_with((0, 2, 50, 50))], 0.1)
    assert sorted(face.face_id for face in tracked) == [1, 2]


def test_a_face_that_stays_away_gets_a_new_id():
    tracker = FaceTracker(forget_after_s=0.5)
    tracker.update([face_with((0, 0, 50, 50))], 0.0)
    for frame in range(1, 4):   # away for 0.3 s
        tracker.update([], frame / 10)
    assert tracker.update([face_with((0, 0, 50, 50))], 0.4)[0].face_id == 1
    for frame in range(5, 10):  # away for 0.5 s and more
        tracker.update([], frame / 10)
    assert tracker.update([face_with((0, 0, 50, 50))], 1.0)[0].face_id == 2


def test_smoothing_is_an_exponential_moving_average_with_a_half_life():
    tracker = FaceTracker(half_life_s=0.2)
    first, second = np.eye(len(EMOTIONS), dtype=np.float32)[[3, 5]]
    tracker.update([face_with((0, 0, 50, 50), first)], 0.0)
    (face,) = tracker.update([face_with((0, 0, 50, 50), second)], 0.2)   # one half-life later
    np.testing.assert_allclose(face.probs, 0.5 * first + 0.5 * second, atol=1e-6)
    np.testing.assert_array_equal(face.raw_probs, second)


def test_no_smoothing_keeps_the_raw_probabilities():
    tracker = FaceTracker(half_life_s=0)
    first, second = np.eye(len(EMOTIONS), dtype=np.float32)[[3, 5]]
    tracker.update([face_with((0, 0, 50, 50), first)], 0.0)
    (face,) = tracker.update([face_with((0, 0, 50, 50), second)], 0.1)
    np.testing.assert_array_equal(face.probs, second)


# --- the video pipeline ------------------------------------------------------------------------

class CountingDetector(HaarDetector):
    """A HaarDetector that counts its calls and can be told to miss every face on some of them."""

    def __init__(self, blind_calls=()):
        super().__init__(detect_width=320)
        self.calls = 0
        self.blind_calls = set(blind_calls)

    def detect(self, image):
        self.calls += 1
        return [] if self.calls in self.blind_calls else super().detect(image)


def run_stream(model, faces, detector, detect_every, frames=12):
    stream = FaceStream(EmotionRecognizer(model, detector), detect_every=detect_every)
    return [stream.process(paste_faces(faces, moving_face_boxes(i)), i / 15) for i in range(frames)]


def test_stream_detects_every_n_frames_and_follows_faces_in_between(model, detectable_faces):
    detector = CountingDetector()
    per_frame = run_stream(model, detectable_faces[:2], detector, detect_every=3)
    assert detector.calls == 4
    face_of_id = {}
    for index, faces in enumerate(per_frame):
        assert sorted(face.face_id for face in faces) == [1, 2]
        for face in faces:   # each id stays on its own face, and its box follows the face
            overlaps = [iou(face.box, truth) for truth in moving_face_boxes(index)]
            assert max(overlaps) > 0.5
            assert face_of_id.setdefault(face.face_id, int(np.argmax(overlaps))) == int(np.argmax(overlaps))


def test_stream_follows_faces_through_a_missed_detection(model, detectable_faces):
    detector = CountingDetector(blind_calls={2})   # the detection at frame 3 finds nothing
    per_frame = run_stream(model, detectable_faces[:2], detector, detect_every=3)
    assert all(sorted(face.face_id for face in faces) == [1, 2] for faces in per_frame)
