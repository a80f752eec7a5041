"""Command-line options the front ends share (model, detector, video pipeline), defined once."""
import argparse

from fer_app.detect import DEFAULT_MIN_FACE, FaceDetector
from fer_app.model_store import SHIPPED_MODEL, load_model
from fer_app.recognizer import EmotionRecognizer
from fer_app.stream import FaceStream
from fer_app.tracking import DEFAULT_HALF_LIFE_S

# Video frames are shrunk towards this width for the cascade (never so far that a face of
# --min-face pixels is lost, see FaceDetector): at 640x480, detection then costs a quarter.
VIDEO_DETECT_WIDTH = 320
# Detection is the slowest step; following boxes between detections keeps 640x480 video
# above 30 frames/s on a 2-core machine.
VIDEO_DETECT_EVERY = 3


def positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {value}")
    return value


def non_negative_float(text):
    value = float(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text}")
    return value


def add_model_option(parser):
    parser.add_argument("--model", metavar="PATH",
                        help=f"model file written by fer_app.train (default: the shipped {SHIPPED_MODEL.name})")
    parser.add_argument("--no-mirror", dest="mirror", action="store_false",
                        help="classify each face as it is, without averaging in its mirror image (twice as fast)")


def add_detector_options(parser, detect_width=None):
    group = parser.add_argument_group("face detection (OpenCV Haar cascade)")
    group.add_argument("--min-face", type=positive_int, default=DEFAULT_MIN_FACE, metavar="PX",
                       help=f"smallest face to find, in pixels of the input (default {DEFAULT_MIN_FACE})")
    group.add_argument("--scale-factor", type=float, default=1.1, metavar="F",
                       help="step between searched face sizes, > 1; larger is faster, finds fewer (default 1.1)")
    group.add_argument("--min-neighbors", type=int, default=5, metavar="N",
                       help="detections needed to accept a face; larger gives fewer false faces (default 5)")
    group.add_argument("--detect-width", type=positive_int, default=detect_width, metavar="PX",
                       help="shrink wider images to this width for detection, for speed "
                            f"(default {detect_width if detect_width else 'full size'})")


def add_stream_options(parser):
    group = parser.add_argument_group("video pipeline")
    group.add_argument("--detect-every", type=positive_int, default=VIDEO_DETECT_EVERY, metavar="N",
                       help="detect faces every N-th frame, follow the boxes in between "
                            f"(default {VIDEO_DETECT_EVERY}; 1 = every frame)")
    group.add_argument("--smoothing", type=non_negative_float, default=DEFAULT_HALF_LIFE_S, metavar="SECONDS",
                       help=f"half-life of the moving average of each face's probabilities (default {DEFAULT_HALF_LIFE_S})")
    group.add_argument("--no-smoothing", dest="smoothing", action="store_const", const=0.0,
                       help="label every frame on its own (same as --smoothing 0)")


def detector_from(args):
    return FaceDetector(min_size=args.min_face, scale_factor=args.scale_factor, min_neighbors=args.min_neighbors,
                        detect_width=args.detect_width)


def recognizer_from(args, detector):
    """The recognizer the parsed model options describe (loads the model)."""
    return EmotionRecognizer(load_model(args.model), detector, mirror=args.mirror)


def face_stream_from(args):
    """The video pipeline the parsed options describe (loads the model)."""
    return FaceStream(recognizer_from(args, detector_from(args)), detect_every=args.detect_every,
                      half_life_s=args.smoothing)
