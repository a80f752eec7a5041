"""fer_app: facial-expression recognition on images, videos and a webcam, built on minicnn."""
# minicnn first, so that its thread-pool settings are in place before NumPy loads
# OpenBLAS, which reads them once (see minicnn/threads.py); every fer_app command runs
# this file before its own imports.
import minicnn  # noqa: F401
