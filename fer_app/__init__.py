"""fer_app: facial-expression recognition on images, videos and a webcam, built on minicnn."""

# minicnn first, so that its thread-pool settings are in place before NumPy loads
# (see minicnn/threads.py); every fer_app command imports this package first.
import minicnn  # noqa: E402,F401
