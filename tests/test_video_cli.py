"""python -m fer_app.video: a video of real faces in; annotated video, per-frame CSV, timeline, summary out."""
import csv

import cv2
import numpy as np
import pytest
from tests.app_helpers import assert_one_line_error, moving_face_boxes, run_command, run_main, write_video

from data_tools.labels import EMOTIONS
from fer_app import video
from fer_app.stream import FaceStream
from fer_app.tracking import iou


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def outputs(out, stem):
    return [out / f"{stem}.annotated.mp4", out / f"{stem}.faces.csv", out / f"{stem}.timeline.png"]


def test_two_moving_faces(face_video, tmp_path, tiny_model_path):
    path, frame_count, fps = face_video
    out = tmp_path / "out"
    # The cascade: the clip's faces are data set crops it finds, and its square boxes are their
    # frames, which the boxes are checked against (a learned detector's are narrower).
    result = run_command("fer_app.video", path, "--out", out, "--model", tiny_model_path, "--detector", "haar")
    assert result.returncode == 0, result.stderr
    assert "Haar cascade: face detection every 3 frames, boxes followed in between" in result.stdout
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

    def fail_at_frame_5(self, frame, time_s, detections=None):
        if self.frame_index == 5:
            raise OSError("disk full")
        return process(self, frame, time_s, detections)

    monkeypatch.setattr(FaceStream, "process", fail_at_frame_5)
    out = tmp_path / "out"
    code, _, err = run_main(video.main, [face_video[0], "--out", out, "--model", tiny_model_path], capfd)
    assert code == 2 and "error: disk full" in err
    assert list(out.iterdir()) == []   # no half-written video or CSV, not even under a temporary name


def test_a_video_the_writer_could_not_store_whole_replaces_nothing(face_video, tmp_path, tiny_model_path, capfd,
                                                                   monkeypatch):
    """OpenCV's writer reports no error on a full disk: frames it silently lost must not pass for a video."""
    from fer_app import videoio
    out = tmp_path / "out"
    code, _, _ = run_main(video.main, [face_video[0], "--out", out, "--model", tiny_model_path], capfd)
    assert code == 0
    stem = face_video[0].stem
    before = {path: path.read_bytes() for path in outputs(out, stem)}
    write = videoio._CountingWriter.write

    def lose_frames_after_the_fifth(self, frame):
        if self.frames < 5:
            write(self, frame)
        else:
            self.frames += 1        # counted as given, never stored

    monkeypatch.setattr(videoio._CountingWriter, "write", lose_frames_after_the_fifth)
    code, _, err = run_main(video.main, [face_video[0], "--out", out, "--model", tiny_model_path], capfd)
    assert code == 2 and err.strip().splitlines()[-1].startswith("error: ") and "could not be written whole" in err
    assert "Traceback" not in err
    assert {path: path.read_bytes() for path in outputs(out, stem)} == before
    assert not [p.name for p in out.iterdir() if p.name.startswith(".")]


def test_sampling_keeps_true_frame_indices_and_times(face_video, tmp_path, tiny_model_path, capfd):
    path, frame_count, fps = face_video   # 30 frames at 15 frames/s: every third at 5
    out = tmp_path / "out"
    code, stdout, _ = run_main(video.main, [path, "--out", out, "--model", tiny_model_path, "--sample-fps", 5], capfd)
    assert code == 0 and "analysing 5 frames per second" in stdout
    rows = read_csv(out / f"{path.stem}.faces.csv")
    assert sorted({int(row["frame"]) for row in rows}) == list(range(0, frame_count, 3))
    assert all(float(row["time_s"]) == pytest.approx(int(row["frame"]) / fps, abs=1e-3) for row in rows)
    assert {row["face_id"] for row in rows} == {"1", "2"}   # the faces keep their ids across the gaps
    capture = cv2.VideoCapture(str(out / f"{path.stem}.annotated.mp4"))
    assert capture.get(cv2.CAP_PROP_FRAME_COUNT) == frame_count / 3 and capture.get(cv2.CAP_PROP_FPS) == 5
    capture.release()


def test_no_annotated_video(face_video, tmp_path, tiny_model_path, capfd):
    path = face_video[0]
    out = tmp_path / "out"
    code, _, _ = run_main(video.main, [path, "--out", out, "--model", tiny_model_path, "--no-annotated-video"], capfd)
    assert code == 0
    assert sorted(p.name for p in out.iterdir()) == [f"{path.stem}.faces.csv", f"{path.stem}.timeline.png"]


@pytest.mark.parametrize("rate", ["0", "-2", "nan"])
def test_sampling_rate_must_be_positive(face_video, tmp_path, rate, capfd):
    code, _, err = run_main(video.main, [face_video[0], "--out", tmp_path / "out", "--sample-fps", rate], capfd)
    assert code == 2 and "argument --sample-fps: must be" in err


def test_sigterm_midway_leaves_no_partial_files(tmp_path, tiny_model_path, detectable_faces):
    """kill (SIGTERM) ends the command with its cleanup: no hidden half-written video stays behind."""
    import signal
    import subprocess
    import sys
    import time

    from tests.app_helpers import REPO, paste_faces
    clip = tmp_path / "long.mp4"
    write_video(clip, [paste_faces(detectable_faces[:1], [moving_face_boxes(i % 20)[0]]) for i in range(600)], 30.0)
    out = tmp_path / "out"
    process = subprocess.Popen([sys.executable, "-m", "fer_app.video", str(clip), "--out", str(out), "--model",
                                str(tiny_model_path), "--detector", "haar"], cwd=REPO,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not list(out.glob(".*partial*")) and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
    assert process.poll() is None, "the video finished before it could be interrupted"
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 143, err
    assert "Traceback" not in err and err.strip().splitlines()[-1] == "terminated"
    assert list(out.iterdir()) == []
