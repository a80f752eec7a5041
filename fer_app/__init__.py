"""fer_app: facial-expression recognition on images, videos and a webcam, built on minicnn."""
import os

# OpenCV refuses to decode an image of more pixels than this, from the file's header,
# before it allocates anything: a 400 KB PNG can declare 20000x20000 pixels (1.2 GB as
# colour). OpenCV reads the limit once, when it is loaded, so it is set here, before any
# fer_app module imports cv2; a user's own OPENCV_IO_MAX_IMAGE_PIXELS wins.
MAX_IMAGE_PIXELS = 1 << 26     # 67 megapixels: an 8K frame has 33
os.environ.setdefault("OPENCV_IO_MAX_IMAGE_PIXELS", str(MAX_IMAGE_PIXELS))

# minicnn first, so that its thread-pool settings are in place before NumPy loads
# (see minicnn/threads.py); every fer_app command imports this package first.
import minicnn  # noqa: E402,F401
