"""Face detectors, and the choice of the one that runs.

Every detector has one interface:
  detect(image)  BGR, BGRA or gray uint8 image (H, W[, C]) -> face boxes (x, y, w, h):
                 ints, in the image's pixels, inside it, largest first
  framing        a fer_app.framing.Framing: the crop the classifier gets for a box
  name           what the commands print, so that the output says which detector ran

Two are available: CenterFace, a learned detector (fer_app.centerface; its model comes
with the `detect` extra), and OpenCV's Haar cascade (fer_app.haar; always there, finds
upright frontal faces only). "auto" takes CenterFace where it is installed, else Haar.
"""
from fer_app import centerface, haar
from fer_app.errors import AppError
from fer_app.framing import DEFAULT_MIN_FACE

DETECTOR_CHOICES = ("auto", "centerface", "haar")


def available_detectors():
    """The detectors that can run here, the preferred first: ["centerface", "haar"] or ["haar"]."""
    return (["centerface"] if centerface.model_path() is not None else []) + ["haar"]


def create_detector(choice="auto", *, for_video=False, min_size=DEFAULT_MIN_FACE, detect_width=None,
                    threshold=centerface.DEFAULT_THRESHOLD, scale_factor=1.1, min_neighbors=5):
    """The detector `choice` names ("auto", "centerface" or "haar"), with its settings.

    detect_width None is the detector's own default, for video frames if for_video;
    threshold applies to CenterFace only, scale_factor and min_neighbors to Haar only, but
    every setting is checked whichever detector runs: a bad value is an error, not ignored
    because another detector was chosen (AppError, one line).
    """
    if choice not in DETECTOR_CHOICES:
        raise AppError(f"unknown face detector {choice!r}: choose one of {', '.join(DETECTOR_CHOICES)}")
    centerface.check_threshold(threshold)
    haar.check_settings(scale_factor, min_neighbors)
    if choice == "auto":
        choice = available_detectors()[0]
    if choice == "centerface":
        default_width = centerface.VIDEO_DETECT_WIDTH if for_video else centerface.DEFAULT_DETECT_WIDTH
        width = default_width if detect_width is None else detect_width
        return centerface.CenterFaceDetector(min_size=min_size, threshold=threshold, detect_width=width)
    width = haar.VIDEO_DETECT_WIDTH if detect_width is None and for_video else detect_width
    return haar.HaarDetector(min_size=min_size, scale_factor=scale_factor, min_neighbors=min_neighbors,
                             detect_width=width)
