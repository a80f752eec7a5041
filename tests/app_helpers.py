"""Helpers of the fer_app tests: real-face scenes, and running the commands.

Scenes: FER2013 faces (48x48 gray) scaled up and pasted on a plain background, the way
a face appears in a photo or a webcam frame (conftest.py picks faces the detector finds).
"""
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]

SCENE_SIZE = (640, 480)        # (width, height)
SCENE_FACE = 160               # pasted face size in pixels
BACKGROUND = 150


def paste_faces(faces, boxes, size=SCENE_SIZE):
    """BGR scene (height, width, 3) with each 48x48 gray face scaled into its box (x, y, side, side)."""
    scene = np.full((size[1], size[0]), BACKGROUND, np.uint8)
    for face, (x, y, side, _) in zip(faces, boxes):
        scene[y:y + side, x:x + side] = cv2.resize(face, (side, side), interpolation=cv2.INTER_CUBIC)
    return cv2.cvtColor(scene, cv2.COLOR_GRAY2BGR)


def moving_face_boxes(frame_index):
    """Boxes of the two faces of the test video at a frame: one drifts right, one down."""
    return [(60 + 3 * frame_index, 150, SCENE_FACE, SCENE_FACE),
            (400, 60 + 2 * frame_index, SCENE_FACE, SCENE_FACE)]


def write_video(path, frames, fps):
    """Frames (BGR, all the same size) -> an .mp4 file at path."""
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
    for frame in frames:
        writer.write(frame)
    writer.release()
    return path


def run_command(module, *args):
    """`python -m module args` in a fresh process, from the repository -> CompletedProcess (text)."""
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, "-m", module, *map(str, args)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)


def run_main(main, args, capfd):
    """Run an entry point's main through fer_app.cli.run in this process -> (exit code, stdout, stderr).

    Faster than run_command; capfd also catches what OpenCV's C++ side prints.
    """
    from fer_app.cli import run
    with pytest.raises(SystemExit) as exit_info:
        run(main, [str(arg) for arg in args])
    out, err = capfd.readouterr()
    return exit_info.value.code, out, err


def assert_one_line_error(code, err, *fragments):
    """A user error: non-zero exit, stderr exactly one 'error: ...' line holding every fragment."""
    assert code != 0
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    for fragment in fragments:
        assert fragment in lines[0]
