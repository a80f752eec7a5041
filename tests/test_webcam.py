"""python -m fer_app.webcam, run headless over a video file as its source."""
import sys

import cv2
import pytest

from fer_app import webcam
from tests.app_helpers import assert_one_line_error, run_command, run_main


def test_runs_headless_over_a_video_and_stops_by_itself(face_video, tmp_path, tiny_model_path):
    path, frame_count, fps = face_video
    record = tmp_path / "session.mp4"
    result = run_command("fer_app.webcam", "--source", path, "--no-window", "--record", record,
                         "--model", tiny_model_path)
    assert result.returncode == 0, result.stderr
    assert f"{frame_count} frames in" in result.stdout and "frames/s" in result.stdout
    capture = cv2.VideoCapture(str(record))
    assert capture.get(cv2.CAP_PROP_FRAME_COUNT) == frame_count
    assert capture.get(cv2.CAP_PROP_FPS) == pytest.approx(fps)
    ok, frame = capture.read()
    assert ok and frame.shape == (480, 640, 3)
    capture.release()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []   # no temporary file left


def test_no_camera_at_that_index(tmp_path, tiny_model_path, capfd):
    code, _, err = run_main(webcam.main, ["--camera", "17", "--no-window", "--model", tiny_model_path], capfd)
    assert_one_line_error(code, err, "no camera at index 17")


def test_an_unreadable_source(tmp_path, tiny_model_path, capfd):
    source = tmp_path / "clip.mp4"
    source.write_text("not a video")
    code, _, err = run_main(webcam.main, ["--source", source, "--no-window", "--model", tiny_model_path], capfd)
    assert_one_line_error(code, err, "not a readable video")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="only Linux runs without a display")
def test_a_window_without_a_screen_asks_for_no_window(face_video, tiny_model_path, capfd, monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    code, _, err = run_main(webcam.main, ["--source", face_video[0], "--model", tiny_model_path], capfd)
    assert_one_line_error(code, err, "--no-window")


def test_recording_over_the_source_is_refused(face_video, tmp_path, tiny_model_path, capfd):
    source = tmp_path / "clip.mp4"
    source.write_bytes(face_video[0].read_bytes())
    before = source.read_bytes()
    code, _, err = run_main(webcam.main, ["--source", source, "--no-window", "--record", tmp_path / "." / "clip.mp4",
                                          "--model", tiny_model_path], capfd)
    assert_one_line_error(code, err, "would overwrite the --source video")
    assert source.read_bytes() == before


@pytest.mark.parametrize("camera", ["-1", "99999999999", "nan", "1.5"])
def test_camera_numbers_out_of_range_are_usage_errors(camera, tiny_model_path, capfd):
    with pytest.raises(SystemExit) as stop:
        webcam.parse_args(["--camera", camera, "--no-window", "--model", str(tiny_model_path)])
    assert stop.value.code == 2
    assert "--camera" in capfd.readouterr().err
