"""Face detection with the Haar cascade that ships inside opencv-python (4.x).

The cascade slides a 24x24 window over the image at every scale from min_size up,
multiplying the scale by scale_factor each step; a face is kept where at least
min_neighbors overlapping windows agree. It finds upright frontal faces only.
"""
import math
from pathlib import Path

from data_tools.opencv import cv2
from data_tools.preprocess import to_gray
from fer_app.errors import AppError
from fer_app.framing import DEFAULT_MIN_FACE, Framing

CASCADE_FILE = "haarcascade_frontalface_default.xml"
# Video frames are shrunk towards this width for the cascade (never so far that a face of
# --min-face pixels is lost): at 640x480, detection then costs a quarter.
VIDEO_DETECT_WIDTH = 320
# A step of more than double skips whole ranges of face sizes.
MAX_SCALE_FACTOR = 2.0
# FER2013's frame around the cascade's box on a face in a photo (benchmarks/framing.py): the
# box itself, within a few pixels. No sideways shift: mirror images are alike to the data
# set and to the app.
FRAMING = Framing(side=1.01, shift_y=0.01)


def cascade_path():
    """Path of the frontal-face cascade bundled with opencv-python (opencv 5 no longer bundles it)."""
    folder = getattr(getattr(cv2, "data", None), "haarcascades", None)
    if folder is None or not (Path(folder) / CASCADE_FILE).is_file():
        raise AppError(f"OpenCV {cv2.__version__} has no bundled {CASCADE_FILE}: "
                       f'install opencv-python 4.x (pip install "opencv-python<5")')
    return Path(folder) / CASCADE_FILE


def check_settings(scale_factor, min_neighbors):
    """AppError, one line, for cascade settings it cannot use."""
    if not (math.isfinite(scale_factor) and 1 < scale_factor <= MAX_SCALE_FACTOR):
        raise AppError(f"scale factor must be greater than 1 and at most {MAX_SCALE_FACTOR:g}, got {scale_factor}")
    if min_neighbors < 0:
        raise AppError(f"minimum neighbours must be 0 or more, got {min_neighbors}")


class HaarDetector:
    """Haar cascade detector: image -> boxes of every face, largest first.

    min_size      smallest face to find, as the side of its crop (see fer_app.framing), in
                  pixels of the input image
    scale_factor  1 < scale_factor <= 2: step between the scales searched; larger is faster
                  but misses more
    min_neighbors how many overlapping hits make a face; larger gives fewer false faces
    detect_width  if set, wider images are shrunk towards this width for the cascade and
                  the boxes scaled back: the cascade's cost grows with the pixel count. The
                  shrink stops where a face of min_size would fall below the cascade's
                  window (24 px), so min_size holds whatever the image size
    """
    name = "Haar cascade"
    framing = FRAMING

    def __init__(self, min_size=DEFAULT_MIN_FACE, scale_factor=1.1, min_neighbors=5, detect_width=None):
        if not min_size >= 1:
            raise AppError(f"minimum face size must be at least 1 pixel, got {min_size}")
        check_settings(scale_factor, min_neighbors)
        if detect_width is not None and detect_width < 32:
            raise AppError(f"detection width must be at least 32 pixels, got {detect_width}")
        self.min_size = min_size
        self.scale_factor = scale_factor
        self.min_neighbors = min_neighbors
        self.detect_width = detect_width
        path = cascade_path()
        self.cascade = cv2.CascadeClassifier(str(path))
        if self.cascade.empty():
            raise AppError(f"{path}: OpenCV cannot load this cascade file")
        self.window = min(self.cascade.getOriginalWindowSize())

    def detect(self, image):
        """BGR or gray uint8 image (H, W[, C]) -> list of boxes (x, y, w, h), largest first."""
        gray = to_gray(image)
        box_size = self.min_size / self.framing.side   # the smallest face's box, not its crop
        scale = 1.0
        if self.detect_width is not None and gray.shape[1] > self.detect_width:
            scale = min(1.0, max(self.detect_width / gray.shape[1], self.window / box_size))
        if scale < 1.0:
            size = (round(gray.shape[1] * scale), round(gray.shape[0] * scale))
            gray = cv2.resize(gray, size, interpolation=cv2.INTER_AREA)
        smallest = max(self.window, round(box_size * scale))
        found = self.cascade.detectMultiScale(gray, scaleFactor=self.scale_factor, minNeighbors=self.min_neighbors,
                                              minSize=(smallest, smallest))
        boxes = [tuple(round(v / scale) for v in box) for box in found]
        return sorted(boxes, key=lambda box: box[2] * box[3], reverse=True)
