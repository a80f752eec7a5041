"""Command-line options the front ends share (model, detector, video pipeline), defined once."""
from fer_app import centerface, haar
from fer_app.detect import DETECTOR_CHOICES, create_detector
from fer_app.framing import DEFAULT_MIN_FACE
from fer_app.model_store import DEFAULT_MODEL, SHIPPED_MODELS, load_inference_model
from fer_app.recognizer import EmotionRecognizer
from fer_app.stream import FaceStream
from fer_app.tracking import DEFAULT_HALF_LIFE_S
from fer_app.validators import in_range, non_negative_float, positive_float, positive_int

# Detection is the slowest step; following boxes between detections keeps 640x480 video
# above 30 frames/s on a 2-core machine.
VIDEO_DETECT_EVERY = 3
# More agreeing windows than a cascade ever finds for one face: a larger --min-neighbors finds nothing.
MAX_MIN_NEIGHBORS = 1000


def add_model_option(parser):
    parser.add_argument("--model", metavar="NAME|PATH",
                        help=f"a shipped model ({', '.join(SHIPPED_MODELS)}) or a model file written by "
                             f"fer_app.train (default: {DEFAULT_MODEL})")
    parser.add_argument("--no-mirror", dest="mirror", action="store_false",
                        help="classify each face as it is, without averaging in its mirror image (twice as fast)")


def add_detector_options(parser):
    group = parser.add_argument_group("face detection")
    group.add_argument("--detector", choices=DETECTOR_CHOICES, default="auto",
                       help="auto (the default): CenterFace, a learned detector, where installed (the detect "
                            "extra), else OpenCV's Haar cascade, which finds upright frontal faces only; "
                            "the output says which ran")
    group.add_argument("--min-face", type=positive_int, default=DEFAULT_MIN_FACE, metavar="PX",
                       help=f"smallest face to find, in pixels of the input (default {DEFAULT_MIN_FACE})")
    group.add_argument("--face-threshold", type=in_range(0, 1, low_included=False, high_included=False), default=centerface.DEFAULT_THRESHOLD, metavar="P",
                       help="CenterFace: least confidence of a face, between 0 and 1; lower finds more faces and "
                            f"more false ones (default {centerface.DEFAULT_THRESHOLD})")
    group.add_argument("--scale-factor", type=in_range(1, haar.MAX_SCALE_FACTOR, low_included=False), default=1.1, metavar="F",
                       help=f"Haar: step between searched face sizes, over 1 and at most {haar.MAX_SCALE_FACTOR:g}; "
                            "larger is faster, finds fewer (default 1.1)")
    group.add_argument("--min-neighbors", type=in_range(0, MAX_MIN_NEIGHBORS, kind=int), default=5, metavar="N",
                       help="Haar: detections needed to accept a face; larger gives fewer false faces (default 5)")
    group.add_argument("--detect-width", type=positive_int, metavar="PX",
                       help="shrink wider images to this width for detection, for speed (default: CenterFace "
                            f"{centerface.DEFAULT_DETECT_WIDTH} for photos, {centerface.VIDEO_DETECT_WIDTH} for video; "
                            f"Haar full size for photos, {haar.VIDEO_DETECT_WIDTH} for video)")


def add_stream_options(parser):
    group = parser.add_argument_group("video pipeline")
    group.add_argument("--detect-every", type=positive_int, default=VIDEO_DETECT_EVERY, metavar="N",
                       help="detect faces every N-th frame, follow the boxes in between "
                            f"(default {VIDEO_DETECT_EVERY}; 1 = every frame)")
    group.add_argument("--smoothing", type=non_negative_float, default=DEFAULT_HALF_LIFE_S, metavar="SECONDS",
                       help=f"half-life of the moving average of each face's probabilities (default {DEFAULT_HALF_LIFE_S})")
    group.add_argument("--no-smoothing", dest="smoothing", action="store_const", const=0.0,
                       help="label every frame on its own (same as --smoothing 0)")


def add_video_options(parser):
    """What of a video to analyse and write: options of fer_app.video and fer_app.batch."""
    group = parser.add_argument_group("video sampling and outputs")
    group.add_argument("--sample-fps", type=positive_float, metavar="F",
                       help="analyse F frames per second of video instead of every frame, for long recordings "
                            "where expressions change slower than the frame rate; the CSV keeps each frame's true "
                            "index and time. --detect-every then counts analysed frames (1 suits frames far apart)")
    group.add_argument("--no-annotated-video", dest="annotated_video", action="store_false",
                       help="write no annotated video (faster)")


def detector_from(args, for_video=False):
    """The face detector the parsed detector options describe, with its defaults for video frames if for_video."""
    return create_detector(args.detector, for_video=for_video, min_size=args.min_face, detect_width=args.detect_width,
                           threshold=args.face_threshold, scale_factor=args.scale_factor,
                           min_neighbors=args.min_neighbors)


def recognizer_from(args, detector):
    """The recognizer the parsed model options describe (loads the model)."""
    return EmotionRecognizer(load_inference_model(args.model), detector, mirror=args.mirror)


def face_stream_from(args):
    """The video pipeline the parsed options describe (loads the model)."""
    return FaceStream(recognizer_from(args, detector_from(args, for_video=True)), detect_every=args.detect_every,
                      half_life_s=args.smoothing)
