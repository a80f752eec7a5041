"""Emotions of the faces in photos.

    python -m fer_app.image photo.jpg more_photos/ --out fer_output
    python -m fer_app.image ../shared/fer2013/validation/happy --no-detect

PATH is an image or a folder of images (not searched recursively). Written to --out:
  <name>.annotated.<ext>  every input with a box, label and confidence per face
  faces.json              a list with one record per face of every image:
                          {"file": "photos/a.jpg", "box": [x, y, w, h], "label": "happy",
                           "probs": {"angry": 0.01, ..., "surprise": 0.02}}   (p in 0..1)
An image without a face is reported, not an error. If an input cannot be read, the run
stops with an error and removes what it had written, so no output looks complete when
it is not.
"""
import argparse
from functools import partial
from pathlib import Path

from data_tools.labels import EMOTIONS
from data_tools.opencv import cv2
from data_tools.preprocess import IMAGE_EXTENSIONS, read_image
from fer_app import options
from fer_app.cli import run
from fer_app.draw import draw_faces
from fer_app.errors import AppError
from minicnn.io import atomic_write, write_json

RECORDS_FILE = "faces.json"


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m fer_app.image", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="+", metavar="PATH", help="image files and/or folders of images")
    parser.add_argument("--out", default="fer_output", help="output folder (default fer_output)")
    parser.add_argument("--no-detect", action="store_true",
                        help="each image is already a face crop (like the 48x48 data set images): no detection")
    options.add_model_option(parser)
    options.add_detector_options(parser)
    return parser.parse_args(argv)


def image_files(paths):
    """Files and folders -> the image files, folders listed in name order; AppError for a bad path."""
    files = []
    for path in map(Path, paths):
        if path.is_dir():
            found = sorted(p for p in path.iterdir()
                           if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS and not p.name.startswith("."))
            if not found:
                raise AppError(f"{path}: no images in this folder ({', '.join(IMAGE_EXTENSIONS)})")
            files += found
        elif path.is_file():
            files.append(path)
        else:
            raise AppError(f"{path}: no such file or folder")
    return files


def face_record(file, face):
    """The JSON record of one face (see the module docstring)."""
    return {"file": str(file), "box": list(face.box), "label": face.label,
            "probs": {emotion: round(float(p), 6) for emotion, p in zip(EMOTIONS, face.probs)}}


def describe(name, faces):
    if not faces:
        return f"{name}: no face found"
    found = ", ".join(f"{face.label} {face.confidence:.0%}" for face in faces)
    return f"{name}: {len(faces)} face{'s' if len(faces) > 1 else ''}: {found}"


def annotated_name(file, taken):
    """<stem>.annotated<suffix>, made unique among `taken` (inputs from two folders may share a name)."""
    suffix = file.suffix.lower() if cv2.haveImageWriter(f"x{file.suffix}") else ".png"
    name, number = f"{file.stem}.annotated{suffix}", 1
    while name in taken:
        number += 1
        name = f"{file.stem}.annotated-{number}{suffix}"
    taken.add(name)
    return name


def write_image(path, image):
    ok, encoded = cv2.imencode(path.suffix, image)
    if not ok:
        raise AppError(f"{path}: OpenCV cannot encode a {path.suffix} image")
    with atomic_write(path) as f:
        f.write(encoded.tobytes())


def annotate_images(recognizer, named_images, out, report=partial(print, flush=True)):
    """(name, BGR image) pairs -> annotated images and faces.json in `out`; returns (records, paths written).

    named_images may be a generator, so that only one image is in memory at a time.
    report is called with a line of text per image (what was found).
    Annotated images are written under temporary names and renamed once faces.json is
    written: if anything fails (an unreadable image, Ctrl-C), they are removed and the
    output folder keeps whatever complete set it held before.
    """
    out = Path(out)
    records, pending, taken = [], [], set()
    try:
        for name, image in named_images:
            faces = recognizer.analyze(image)
            report(describe(name, faces))
            records += [face_record(name, face) for face in faces]
            path = out / annotated_name(Path(name), taken)
            partial = path.with_name(f".{path.name}.partial{path.suffix}")
            write_image(partial, draw_faces(image.copy(), faces))
            pending.append((partial, path))
        write_json(out / RECORDS_FILE, records)
    except BaseException:
        for partial, _ in pending:
            partial.unlink(missing_ok=True)
        raise
    for partial, path in pending:
        partial.replace(path)
    return records, [path for _, path in pending]


def main(argv=None):
    args = parse_args(argv)
    files = image_files(args.paths)
    detector = None if args.no_detect else options.detector_from(args)
    recognizer = options.recognizer_from(args, detector)
    records, written = annotate_images(recognizer, ((file, read_image(file)) for file in files), args.out)
    faceless = len(files) - len({record["file"] for record in records})
    found_by = f", found by {detector.name}" if detector is not None else ""
    print(f"{len(records)} faces in {len(files)} images ({faceless} without a face){found_by}; "
          f"wrote {len(written)} annotated images and {Path(args.out) / RECORDS_FILE}")
    return 0


if __name__ == "__main__":
    run(main)
