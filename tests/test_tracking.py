"""Face ids at any frame rate: forgetting counts frames as well as seconds."""
from pathlib import Path

import cv2
import numpy as np
import pytest

from data_tools.labels import EMOTIONS
from fer_app.detect import create_detector
from fer_app.recognizer import Face
from fer_app.tracking import FaceTracker

REAL = Path(__file__).resolve().parents[1].parent / "shared" / "real"
UNIFORM = np.full(len(EMOTIONS), 1 / len(EMOTIONS), np.float32)


def ids_of_one_face(fps, seconds, visible=lambda time_s: True):
    """The ids a tracker gives one face, drifting 10 px per second with a wobble, filmed at fps."""
    tracker = FaceTracker()
    ids = []
    for frame in range(round(seconds * fps)):
        time_s = frame / fps
        box = (100 + round(10 * time_s + 3 * np.sin(time_s)), 80 + round(4 * np.cos(time_s)), 120, 150)
        faces = [Face(box, UNIFORM, UNIFORM)] if visible(time_s) else []
        ids += [face.face_id for face in tracker.update(faces, time_s)]
    return ids


@pytest.mark.parametrize("fps", [0.5, 2, 30, 60])
def test_one_face_keeps_one_id_at_any_frame_rate(fps):
    ids = ids_of_one_face(fps, seconds=40)
    assert len(ids) == round(40 * fps) and set(ids) == {1}


@pytest.mark.parametrize("fps", [0.5, 60])
def test_a_face_missed_in_one_frame_keeps_its_id(fps):
    # Missing from one frame at 0.5 frames/s (4 s between sightings); for 0.5 s at 60.
    gap = (10, 12) if fps == 0.5 else (10, 10.5)
    ids = ids_of_one_face(fps, seconds=20, visible=lambda time_s: not gap[0] <= time_s < gap[1])
    assert set(ids) == {1}


@pytest.mark.parametrize("fps, gap", [(0.5, (10, 14)), (60, (10, 12))])
def test_a_face_away_for_frames_and_seconds_gets_a_new_id(fps, gap):
    # Missing from two frames at 0.5 frames/s; for 2 s (120 frames) at 60.
    ids = ids_of_one_face(fps, seconds=20, visible=lambda time_s: not gap[0] <= time_s < gap[1])
    assert set(ids) == {1, 2} and ids == sorted(ids)


def test_a_real_talking_head_keeps_one_id_at_half_a_frame_per_second():
    clip = REAL / "talk_cut.mp4"
    if not clip.is_file():
        pytest.skip(f"the real clips are not at {REAL}")
    detector, tracker = create_detector("auto", for_video=True), FaceTracker()
    capture = cv2.VideoCapture(str(clip))
    fps = capture.get(cv2.CAP_PROP_FPS)
    ids, index = [], 0
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        if index % round(2 * fps) == 0:   # a frame every 2 s
            faces = [Face(box, UNIFORM, UNIFORM) for box in detector.detect(frame)]
            ids += [face.face_id for face in tracker.update(faces, index / fps)]
        index += 1
    capture.release()
    assert len(ids) >= 6 and set(ids) == {1}
