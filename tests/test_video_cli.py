"""python -m fer_app.video: a video of real faces in; annotated video, per-frame CSV, timeline, summary out."""
import csv

import cv2
import numpy as np
import pytest

from fer_app import video
from fer_app.labels import EMOTIONS
from fer_app.stream import FaceStream
from fer_app.tracking import iou
from tests.app_helpers import assert_one_line_error, moving_face_boxes, run_command, run_main, write_video


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def outputs(out, stem):
    return [out / f"{stem}.annotated.mp4", out / f"{stem}.faces.csv", out / f"{stem}.timeline.png"]


def test_two_moving_faces(face_video, tmp_path, tiny_model_path):
    path, frame_count, fps = face_video
    out = tmp_path / "out"
    result = run_command("fer_app.video", path, "--out", out, "--model", tiny_model_path)
    assert result.returncode == 0, result.stderr
    assert "face detection every 3 frames, boxes followed in between" in result.stdout
    assert "frames/s" in result.stdout and "#1" in result.stdout and "#2" in result.stdout
    annotated, table, timeline = outputs(out, path.stem)

    capture = cv2.VideoCapture(str(annotated))
    assert capture.get(cv2.CAP_PROP_FRAME_COUNT) == frame_count
    assert (capture.get(cv2.CAP_PROP_FRAME_WIDTH), capture.get(cv2.CAP_PROP_FRAME_HEIGHT)) == (640, 480)
    assert capture.get(cv2.CAP_PROP_FPS) == pytest.approx(fps)
    capture.release()
    assert cv2.imread(str(timeline)) is not None

    rows = read_csv(table)
    assert list(rows[0]) == video.CSV_HEADER
    assert len(rows) == 2 * frame_count   # a row per face per frame
    face_of_id = {}
    for frame in range(frame_count):
        in_frame = [row for row in rows if int(row["frame"]) == frame]
        assert sorted(int(row["face_id"]) for row in in_frame) == [1, 2]
        assert float(in_frame[0]["time_s"]) == pytest.approx(frame / fps, abs=1e-3)
        for row in in_frame:   # each id stays on the face it started on
            box = [int(row[key]) for key in "xywh"]
            overlaps = [iou(box, truth) for truth in moving_face_boxes(frame)]
            assert max(overlaps) > 0.5
            assert face_of_id.setdefault(row["face_id"], np.argmax(overlaps)) == np.argmax(overlaps)
            probs = [float(row[f"p_{emotion}"]) for emotion in EMOTIONS]
            assert sum(probs) == pytest.approx(1, abs=1e-3) and row["label"] == EMOTIONS[int(np.argmax(probs))]


def test_detection_on_every_frame_without_smoothing(face_video, tmp_path, tiny_model_path, capfd):
    path, frame_count, _ = face_video
    out = tmp_path / "out"
    args = [path, "--out", out, "--model", tiny_model_path, "--detect-every", "1", "--no-smoothing"]
    code, stdout, _ = run_main(video.main, args, capfd)
    assert code == 0 and "face detection on every frame" in stdout
    rows = read_csv(out / f"{path.stem}.faces.csv")
    assert {row["face_id"] for row in rows} == {"1", "2"}
    assert all(row[f"p_{emotion}"] == row[f"raw_{emotion}"] for row in rows for emotion in EMOTIONS)


def test_frames_without_a_face_get_an_empty_row(tmp_path, tiny_model_path, capfd):
    path = write_video(tmp_path / "empty_room.mp4", [np.full((240, 320, 3), 150, np.uint8)] * 10, 10.0)
    out = tmp_path / "out"
    code, stdout, _ = run_main(video.main, [path, "--out", out, "--model", tiny_model_path], capfd)
    assert code == 0
    assert "no face found in the video" in stdout and "frames without a face: 10 of 10" in stdout
    rows = read_csv(out / "empty_room.faces.csv")
    assert [row["frame"] for row in rows] == [str(i) for i in range(10)]
    assert all(row["face_id"] == "" and row["p_happy"] == "" for row in rows)
    assert all(path.exists() for path in outputs(out, "empty_room"))


# --- bad input: one line, non-zero exit, nothing left behind --------------------------------------

@pytest.mark.parametrize("content, message", [
    (None, "no such video file"),
    (b"", "not a readable video"),
    (b"this is not a video" * 10, "not a readable video"),
])
def test_bad_video_is_one_line_and_a_non_zero_exit(tmp_path, tiny_model_path, capfd, content, message):
    path = tmp_path / "clip.mp4"
    if content is not None:
        path.write_bytes(content)
    out = tmp_path / "out"
    code, _, err = run_main(video.main, [path, "--out", out, "--model", tiny_model_path], capfd)
    assert_one_line_error(code, err, message)
    assert not out.exists()


def test_bad_video_in_a_fresh_process(tmp_path, tiny_model_path):
    path = tmp_path / "clip.mp4"
    path.write_bytes(b"this is not a video" * 10)
    result = run_command("fer_app.video", path, "--out", tmp_path / "out", "--model", tiny_model_path)
    assert_one_line_error(result.returncode, result.stderr, "clip.mp4: not a readable video")


def test_a_model_that_does_not_fit(face_video, tmp_path, capfd):
    model = tmp_path / "model.npz"
    model.write_text("not a model")
    code, _, err = run_main(video.main, [face_video[0], "--out", tmp_path / "out", "--model", model], capfd)
    assert_one_line_error(code, err, "model.npz")


def test_a_failure_midway_leaves_no_output(face_video, tmp_path, tiny_model_path, capfd, monkeypatch):
    process = FaceStream.process

    def fail_at_frame_5(self, frame, time_s):
        if self.frame_index == 5:
            raise OSError("disk full")
        return process(self, frame, time_s)

    monkeypatch.setattr(FaceStream, "process", fail_at_frame_5)
    out = tmp_path / "out"
    code, _, err = run_main(video.main, [face_video[0], "--out", out, "--model", tiny_model_path], capfd)
    assert code == 2 and "error: disk full" in err
    assert list(out.iterdir()) == []   # no half-written video or CSV, not even under a temporary name
