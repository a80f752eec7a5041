"""The video pipeline's speed: fer_app.video on a 640x480 clip with one moving face.

The face is scikit-image's astronaut photo (the demo extra) or, where that is absent, a
FER2013 face from ../shared/fer2013 scaled up; the model is the shipped one or, before
one is shipped, an untrained report network (the same amount of work per frame).
"""
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from data_tools.opencv import cv2

REPO = Path(__file__).resolve().parents[1]
FRAME_SIZE = (640, 480)
FRAMES = 300
FACE_SIDE = 200


def face_image():
    """A gray face crop, roughly FACE_SIDE pixels square."""
    try:
        from skimage.data import astronaut
        gray = cv2.cvtColor(astronaut(), cv2.COLOR_RGB2GRAY)
        return cv2.resize(gray[30:250, 140:330], (FACE_SIDE, FACE_SIDE))
    except ImportError:
        happy = sorted((REPO.parent / "shared" / "fer2013" / "validation" / "happy").glob("*.jpg"))
        if not happy:
            raise RuntimeError("no face image: install the demo extra or provide ../shared/fer2013")
        gray = cv2.imread(str(happy[0]), cv2.IMREAD_GRAYSCALE)
        return cv2.resize(gray, (FACE_SIDE, FACE_SIDE), interpolation=cv2.INTER_CUBIC)


def write_clip(path):
    face = face_image()
    width, height = FRAME_SIZE
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 30.0, FRAME_SIZE)
    for index in range(FRAMES):
        frame = np.full((height, width), 120, np.uint8)
        x = 40 + int((width - FACE_SIDE - 80) * (0.5 + 0.5 * np.sin(index / 40)))
        frame[140:140 + FACE_SIDE, x:x + FACE_SIDE] = face
        writer.write(cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR))
    writer.release()


def model_path(folder):
    from fer_app.model_store import SHIPPED_MODEL
    if SHIPPED_MODEL.exists():
        return SHIPPED_MODEL
    from data_tools.labels import EMOTIONS
    from data_tools.preprocess import INPUT_SHAPE
    from minicnn.models import report_cnn
    model = report_cnn()
    model.meta = {"classes": list(EMOTIONS), "input_shape": list(INPUT_SHAPE)}
    model.save(folder / "untrained.npz")
    return folder / "untrained.npz"


def measure_video_fps():
    """{"fps": frames/s end to end as fer_app.video prints it, "faces_found": share of frames with a face}."""
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        write_clip(folder / "clip.mp4")
        result = subprocess.run([sys.executable, "-m", "fer_app.video", str(folder / "clip.mp4"), "--out",
                                 str(folder / "out"), "--model", str(model_path(folder))],
                                capture_output=True, text=True, cwd=REPO)
        if result.returncode != 0:
            raise RuntimeError(result.stderr.strip().splitlines()[-1])
        fps = float(re.search(r"= ([0-9.]+) frames/s", result.stdout).group(1))
        without = int(re.search(r"frames without a face: (\d+)", result.stdout).group(1))
        return {"fps": fps, "faces_found": 1 - without / FRAMES}
