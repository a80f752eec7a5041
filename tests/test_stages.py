"""fer_app.stages: decoding and detection in a thread ahead of the rest, every pool at one thread."""
import itertools
import threading

import numpy as np
import pytest

from data_tools.opencv import cv2
from fer_app.stages import detected_ahead, one_thread_per_stage
from minicnn.backend import get_backend
from minicnn.threads import SharedLimit, one_thread
from tests.helpers import blas_threads


class CountingDetector:
    """Finds one box whose x is the frame's first pixel; records the threads it ran on."""

    def __init__(self):
        self.threads = set()

    def detect(self, frame):
        self.threads.add(threading.current_thread().name)
        return [(int(frame[0, 0, 0]), 0, 10, 10)]


class FakeStream:
    def __init__(self, detect_every):
        self.detect_every = detect_every
        self.recognizer = type("Recognizer", (), {"detector": CountingDetector()})()

    def detects_on(self, frame_number):
        return frame_number % self.detect_every == 0


def numbered_frames(count):
    for number in range(count):
        yield number, np.full((4, 4, 3), number, np.uint8)


def test_items_come_in_order_with_detections_on_the_detection_frames_only():
    stream = FakeStream(detect_every=3)
    out = list(detected_ahead(numbered_frames(10), stream, frame_of=lambda item: item[1]))
    assert [number for (number, _), _ in out] == list(range(10))
    for (number, _), detections in out:
        assert detections == ([(number, 0, 10, 10)] if number % 3 == 0 else None)
    assert stream.recognizer.detector.threads == {"decode-and-detect"}


def test_an_error_while_reading_reaches_the_caller_at_its_frame():
    def failing():
        yield from numbered_frames(3)
        raise OSError("the disk went away")

    seen = []
    with pytest.raises(OSError, match="the disk went away"):
        for (number, _), _ in detected_ahead(failing(), FakeStream(1), frame_of=lambda item: item[1]):
            seen.append(number)
    assert seen == [0, 1, 2]


def test_leaving_early_stops_the_worker():
    before = threading.active_count()
    endless = ((number, np.zeros((4, 4, 3), np.uint8)) for number in itertools.count())
    analysed = detected_ahead(endless, FakeStream(1), frame_of=lambda item: item[1], depth=2)
    for (number, _), _ in analysed:
        if number == 5:
            break
    analysed.close()
    assert threading.active_count() == before


def test_one_thread_per_stage_limits_every_pool_and_restores_it():
    opencv_before, blas_before = cv2.getNumThreads(), blas_threads()
    with one_thread_per_stage():
        assert cv2.getNumThreads() == 1
        assert blas_threads() == {1}
    assert cv2.getNumThreads() == opencv_before and blas_threads() == blas_before


def test_overlapping_stages_keep_the_limits_until_the_last_one_leaves():
    """Two videos side by side in one process (fer_app.batch with several threads a worker):
    the first to finish leaves while the other is inside. (Entered here from one thread:
    OpenBLAS may ignore a thread count set from another thread once the main one set it.)"""
    if blas_threads() != {2}:
        pytest.skip("needs BLAS running 2 threads to see a limit to 1")
    opencv_before = cv2.getNumThreads()
    cv2.setNumThreads(2)
    first, second = one_thread_per_stage(), one_thread_per_stage()
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)
    still = cv2.getNumThreads(), blas_threads()
    second.__exit__(None, None, None)
    after = cv2.getNumThreads(), blas_threads()
    cv2.setNumThreads(opencv_before)
    assert still == (1, {1})                # the second stage still inside: still limited
    assert after == (2, {2})                # both gone: as before


def test_a_shared_limit_is_applied_by_the_first_holder_and_restored_by_the_last():
    log = []

    def apply():
        log.append("apply")
        return lambda: log.append("restore")

    limit = SharedLimit(apply)
    with limit.held():
        with limit.held():
            assert log == ["apply"]
        assert log == ["apply"]
    assert log == ["apply", "restore"]
    with pytest.raises(KeyError):
        with limit.held():
            raise KeyError
    assert log == ["apply", "restore", "apply", "restore"]


@pytest.mark.skipif(get_backend() != "numba", reason="numba's thread limit applies to the numba backend only")
def test_one_thread_limits_numba_for_the_calling_thread():
    import numba
    before = numba.get_num_threads()
    with one_thread():
        assert numba.get_num_threads() == 1
    assert numba.get_num_threads() == before


def test_the_staged_pipeline_finds_what_the_sequential_one_finds(face_video, tiny_model_path):
    from fer_app import options, video
    from fer_app.videoio import frames, open_video
    args = video.parse_args([str(face_video[0]), "--model", str(tiny_model_path), "--detect-every", "3"])

    def video_frames():
        capture, first_frame = open_video(face_video[0])
        yield from frames(capture, first_frame)
        capture.release()

    sequential_stream, staged_stream = options.face_stream_from(args), options.face_stream_from(args)
    sequential = [sequential_stream.process(frame, i / 15) for i, frame in enumerate(video_frames())]
    with one_thread_per_stage():
        staged = [staged_stream.process(frame, i / 15, detections)
                  for i, (frame, detections) in enumerate(detected_ahead(video_frames(), staged_stream))]
    assert len(staged) == len(sequential) == face_video[1]
    assert sum(len(faces) for faces in staged) >= face_video[1]      # the faces were found
    for faces_a, faces_b in zip(sequential, staged):
        assert [(f.face_id, f.box, f.label) for f in faces_a] == [(f.face_id, f.box, f.label) for f in faces_b]
        for a, b in zip(faces_a, faces_b):
            np.testing.assert_allclose(a.probs, b.probs, rtol=1e-5, atol=1e-6)
