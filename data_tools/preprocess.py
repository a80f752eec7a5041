"""The one preprocessing: any face image -> the model's input tensor.

Training (from the 48x48 data set images) and inference (from faces cropped out of
photos and video frames) both go through these functions, so the network sees the same
kind of tensor in both: grayscale, INPUT_SIZE x INPUT_SIZE, float32 in [0, 1], NCHW.
"""
import numpy as np

from data_tools.errors import DataError
from data_tools.opencv import cv2, max_image_pixels

INPUT_SIZE = 48
INPUT_SHAPE = (1, INPUT_SIZE, INPUT_SIZE)   # (C, H, W) of one model input
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp")


def read_image(path, color=True):
    """An image file -> uint8 BGR (H, W, 3) if color, else as stored (gray stays (H, W)).

    DataError (one line) if the file is empty or not a decodable image. np.fromfile +
    imdecode rather than cv2.imread: it also opens non-ASCII paths on Windows.
    """
    encoded = np.fromfile(path, dtype=np.uint8)
    if encoded.size == 0:
        raise DataError(f"{path}: empty file")
    try:
        image = cv2.imdecode(encoded, cv2.IMREAD_COLOR if color else cv2.IMREAD_ANYCOLOR)
    except cv2.error as error:
        if "MAX_IMAGE_PIXELS" in str(error):
            raise DataError(f"{path}: more than {max_image_pixels():,} pixels, the "
                            f"limit (set OPENCV_IO_MAX_IMAGE_PIXELS to read larger images)") from None
        image = None
    if image is None:
        raise DataError(f"{path}: not a readable image (corrupt or truncated)")
    return image


def to_gray(image):
    """BGR, BGRA or gray uint8 image -> gray uint8 (H, W)."""
    if image.ndim == 2:
        return image
    if image.ndim == 3 and image.shape[2] == 1:
        return image[:, :, 0]
    if image.ndim == 3 and image.shape[2] == 3:
        return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    if image.ndim == 3 and image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2GRAY)
    raise ValueError(f"expected a gray, BGR or BGRA image, got an array of shape {image.shape}")


def to_input_size(gray):
    """Gray uint8 image of any size -> (INPUT_SIZE, INPUT_SIZE) uint8."""
    if gray.shape == (INPUT_SIZE, INPUT_SIZE):
        return gray
    # INTER_AREA averages the pixels a target pixel covers: no aliasing when shrinking
    # a large face, and it degrades to bilinear when enlarging a small one.
    return cv2.resize(gray, (INPUT_SIZE, INPUT_SIZE), interpolation=cv2.INTER_AREA)


def crop_face(image, box):
    """Cut box = (x, y, w, h) out of an image -> gray (INPUT_SIZE, INPUT_SIZE) uint8.

    The part of a box that reaches past the image edge is filled with the edge's pixels
    repeated: a face crop keeps its shape (framed crops are square) instead of being
    squeezed into 48x48.
    """
    x, y, w, h = (int(v) for v in box)
    height, width = image.shape[:2]
    x0, y0 = max(x, 0), max(y, 0)
    x1, y1 = min(x + w, width), min(y + h, height)
    if x1 <= x0 or y1 <= y0:
        raise ValueError(f"box {tuple(box)} lies outside the {width}x{height} image")
    inside = to_gray(image[y0:y1, x0:x1])
    whole = cv2.copyMakeBorder(inside, y0 - y, y + h - y1, x0 - x, x + w - x1, cv2.BORDER_REPLICATE)
    return to_input_size(whole)


def normalize(faces):
    """(N, INPUT_SIZE, INPUT_SIZE) uint8 faces -> (N, 1, INPUT_SIZE, INPUT_SIZE) float32 in [0, 1]."""
    faces = np.asarray(faces)
    if faces.ndim != 3 or faces.shape[1:] != (INPUT_SIZE, INPUT_SIZE):
        raise ValueError(f"expected faces of shape (N, {INPUT_SIZE}, {INPUT_SIZE}), got {faces.shape}")
    return (faces.astype(np.float32) / np.float32(255.0))[:, None, :, :]


# Stored in every model file: a model is only valid with the preprocessing it was trained with.
PREPROCESSING = f"gray, resized to {INPUT_SIZE}x{INPUT_SIZE} (cv2.INTER_AREA), float32 / 255"
