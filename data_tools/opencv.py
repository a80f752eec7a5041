"""OpenCV as the project loads it: with a limit on the size of the images it decodes.

OpenCV refuses to decode an image of more pixels than OPENCV_IO_MAX_IMAGE_PIXELS, from
the file's header, before it allocates anything: a 400 KB PNG can declare 20000x20000
pixels (1.2 GB as colour). OpenCV reads the limit once, when it is loaded, so every
module of the project takes cv2 from here (`from data_tools.opencv import cv2`) rather
than importing it itself: the limit is then in place whichever module loads first.
A user's own OPENCV_IO_MAX_IMAGE_PIXELS wins.
"""
import os

MAX_IMAGE_PIXELS = 1 << 26     # 67 megapixels: an 8K frame has 33
os.environ.setdefault("OPENCV_IO_MAX_IMAGE_PIXELS", str(MAX_IMAGE_PIXELS))

import cv2  # noqa: E402  (after the limit is set)


def max_image_pixels():
    """The limit in force: the user's OPENCV_IO_MAX_IMAGE_PIXELS, or MAX_IMAGE_PIXELS."""
    return int(os.environ["OPENCV_IO_MAX_IMAGE_PIXELS"])
