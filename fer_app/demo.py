"""The shipped model on a real photo that needs no download: scikit-image's astronaut.

    pip install -e ".[demo]"
    python -m fer_app.demo                # writes fer_output/astronaut.annotated.png and faces.json

The photo (Eileen Collins, NASA, public domain) is installed with scikit-image itself.
Everything after loading it is what `python -m fer_app.image` does with a photo.
"""
import argparse
from pathlib import Path

from data_tools.opencv import cv2
from fer_app import options
from fer_app.cli import run
from fer_app.errors import AppError
from fer_app.image import RECORDS_FILE, annotate_images

PHOTO_NAME = "astronaut.png"


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m fer_app.demo", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="fer_output", help="output folder (default fer_output)")
    options.add_model_option(parser)
    options.add_detector_options(parser)
    return parser.parse_args(argv)


def astronaut_photo():
    """The astronaut photo as a BGR uint8 (512, 512, 3) image."""
    try:
        from skimage.data import astronaut   # an optional extra: the app itself never needs it
    except ImportError:
        raise AppError('the demo photo comes with scikit-image: pip install -e ".[demo]"') from None
    return cv2.cvtColor(astronaut(), cv2.COLOR_RGB2BGR)


def main(argv=None):
    args = parse_args(argv)
    photo = astronaut_photo()
    detector = options.detector_from(args)
    _, written = annotate_images(options.recognizer_from(args, detector), [(PHOTO_NAME, photo)], args.out)
    print(f"faces found by {detector.name}; wrote {written[0]} and {Path(args.out) / RECORDS_FILE}")
    return 0


if __name__ == "__main__":
    run(main)
