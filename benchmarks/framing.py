"""Where each face detector's box falls on FER2013's faces: the measurement behind fer_app's framings.

    python benchmarks/framing.py            # per detector: the framing FER2013 implies, and the one in use
    python benchmarks/framing.py --sizes    # and the share of faces it finds at each crop size

A detector's Framing (fer_app/framing.py) says where FER2013 would put its 48x48 frame
around the detector's box on a face in a photo. Measured in two steps:

1. FER2013 faces (validation split, the first --per-class of each class in file name
   order) are enlarged 4 times and pasted in the middle of a plain image, so that the
   frame is known in the image's pixels. The medians of where the frame lies relative to
   the box found, in units of the box's height (side: frame side / box height; shift_x,
   shift_y: frame centre - box centre), describe the data set's framing as the detector
   sees it, but on faces already cut out: a detector that looks beyond the face (CenterFace
   does) draws a smaller box on a face that is cut off at the forehead than on the same
   face in a whole photo.
2. Real faces (../shared/real: the photo and every --every-th frame of the clips) are found
   in the whole frame, cut out with the detector's framing in use, made 48x48 and pasted
   like FER2013 faces, and found again. Placing step 1's frame around the box on the cut
   and mapping it back into the photo gives, per face, where FER2013's frame would lie
   relative to the box in the photo: the medians are the framing the data implies. Where
   it equals the framing in use, that framing reproduces itself (a fixed point).
--sizes pastes FER2013 faces unenlarged at decreasing sizes and reports how many each
detector still finds.
"""
import argparse
import statistics
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from data_tools.labels import EMOTIONS  # noqa: E402
from data_tools.opencv import cv2  # noqa: E402
from data_tools.preprocess import crop_face  # noqa: E402
from fer_app.detect import available_detectors, create_detector  # noqa: E402
from fer_app.tracking import iou  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared"
FER2013 = SHARED / "fer2013"
REAL = SHARED / "real"
REAL_CLIPS = ("talk_short.mp4", "talk_cut.mp4")
REAL_PHOTO = "portrait.jpg"
ENLARGE = 4            # 48 px faces pasted at 192 px: the size of a face in a typical photo
CANVAS = 384           # the image they are pasted in: room around the face for any margin
BACKGROUND = 150
SIZES = (96, 64, 48, 40, 32, 24, 20, 16)


def fer_faces(root=FER2013, per_class=60):
    """The first per_class validation faces of each class, in file name order: (48, 48) uint8 each."""
    folders = [Path(root) / "validation" / emotion for emotion in EMOTIONS]
    files = [path for folder in folders for path in sorted(folder.glob("*.jpg"))[:per_class]]
    if not files:
        raise SystemExit(f"no FER2013 validation images under {root}")
    return [cv2.imread(str(path), cv2.IMREAD_GRAYSCALE) for path in files]


def pasted(face, side, canvas=CANVAS):
    """A face enlarged to side x side in the middle of a plain BGR image -> (image, frame box (x, y, w, h))."""
    image = np.full((canvas, canvas), BACKGROUND, np.uint8)
    corner = (canvas - side) // 2
    image[corner:corner + side, corner:corner + side] = cv2.resize(face, (side, side), interpolation=cv2.INTER_CUBIC)
    return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR), (corner, corner, side, side)


def found_box(detector, image, frame):
    """The detector's box on the pasted face: the one overlapping the frame most, or None."""
    boxes = [box for box in detector.detect(image) if iou(box, frame) > 0]
    return max(boxes, key=lambda box: iou(box, frame), default=None)


def frame_relative_to(box, frame):
    """(side, shift_x, shift_y) of the frame in units of the box's height (see the module docstring)."""
    x, y, w, h = box
    fx, fy, side, _ = frame
    return side / h, (fx + side / 2 - x - w / 2) / h, (fy + side / 2 - y - h / 2) / h


def quartiles(rows):
    """(N, 3) values -> {"side", "shift_x", "shift_y"}: each [q1, median, q3]."""
    columns = np.array(rows).T
    return {name: [float(v) for v in np.quantile(values, [0.25, 0.5, 0.75])]
            for name, values in zip(("side", "shift_x", "shift_y"), columns)}


def fer_framing(detector, faces):
    """Step 1: {"faces", "found", "side", "shift_x", "shift_y", "iou_box", "iou_crop"} on pasted FER2013 faces.

    iou_box, iou_crop: median overlap with the frame of the box, and of the crop the
    detector's framing in use cuts around it.
    """
    relative, iou_box, iou_crop = [], [], []
    for face in faces:
        image, frame = pasted(face, 48 * ENLARGE)
        box = found_box(detector, image, frame)
        if box is None:
            continue
        relative.append(frame_relative_to(box, frame))
        iou_box.append(iou(box, frame))
        iou_crop.append(iou(detector.framing.crop_box(box), frame))
    return {"faces": len(faces), "found": len(relative), **quartiles(relative),
            "iou_box": statistics.median(iou_box), "iou_crop": statistics.median(iou_crop)}


def real_images(folder=REAL, every=10):
    """The real photo and every `every`-th frame of the real clips (BGR); [] where the folder is absent."""
    folder = Path(folder)
    images = [cv2.imread(str(folder / REAL_PHOTO))] if (folder / REAL_PHOTO).is_file() else []
    for clip in REAL_CLIPS:
        images += clip_frames(folder / clip, every)
    return images


def clip_frames(path, every):
    """Every `every`-th frame of a video file (BGR), from the first."""
    capture = cv2.VideoCapture(str(path))
    frames, index = [], 0
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        if index % every == 0:
            frames.append(frame)
        index += 1
    capture.release()
    return frames


def implied_framing(detector, images, fer):
    """Step 2: {"faces", "side", "shift_x", "shift_y"}: the framing FER2013 implies on real faces.

    fer: step 1's result for this detector (its medians are used).
    """
    side_f, shift_x_f, shift_y_f = (fer[name][1] for name in ("side", "shift_x", "shift_y"))
    implied = []
    for image in images:
        boxes = detector.detect(image)
        if not boxes:
            continue
        x, y, w, h = boxes[0]
        cut_x, cut_y, cut_side, _ = detector.framing.crop_box(boxes[0])
        if cut_x < 0 or cut_y < 0 or cut_x + cut_side > image.shape[1] or cut_y + cut_side > image.shape[0]:
            continue   # a face at the edge: its cut would be padded, unlike any FER2013 face
        face = crop_face(image, (cut_x, cut_y, cut_side, cut_side))
        cut_image, frame = pasted(face, 48 * ENLARGE)
        cut_box = found_box(detector, cut_image, frame)
        if cut_box is None:
            continue
        # The box on the cut, in the photo's pixels.
        to_photo = cut_side / frame[2]
        box_h = cut_box[3] * to_photo
        centre_x = cut_x + (cut_box[0] + cut_box[2] / 2 - frame[0]) * to_photo
        centre_y = cut_y + (cut_box[1] + cut_box[3] / 2 - frame[1]) * to_photo
        implied.append((side_f * box_h / h,
                        (centre_x + shift_x_f * box_h - x - w / 2) / h,
                        (centre_y + shift_y_f * box_h - y - h / 2) / h))
    return {"faces": len(implied), **quartiles(implied)}


def measure_sizes(detector, faces):
    """{crop side in px: share of the faces found at that size}."""
    shares = {}
    for side in SIZES:
        found = 0
        for face in faces:
            image, frame = pasted(face, side, canvas=max(4 * side, 128))
            box = found_box(detector, image, frame)
            found += box is not None and iou(detector.framing.crop_box(box), frame) > 0.5
        shares[side] = found / len(faces)
    return shares


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=FER2013, help=f"FER2013 image folders (default {FER2013})")
    parser.add_argument("--real", default=REAL, help=f"real photo and clips (default {REAL})")
    parser.add_argument("--per-class", type=int, default=60, help="FER2013 faces per class (default 60)")
    parser.add_argument("--every", type=int, default=10, help="use every N-th frame of the real clips (default 10)")
    parser.add_argument("--sizes", action="store_true", help="also: share of faces found at each size")
    args = parser.parse_args()
    faces = fer_faces(args.data, args.per_class)
    images = real_images(args.real, args.every)
    print(f"step 1: {len(faces)} FER2013 validation faces pasted at {48 * ENLARGE} px; "
          f"step 2: {len(images)} real images; each cell: q1 / median / q3")
    print("| detector | step 1: found | side | shift_x | shift_y | IoU box / frame | IoU crop / frame "
          "| step 2: faces | side | shift_x | shift_y | framing in use |")
    print("|---|" + "---|" * 11)

    def cells(result):
        return [" / ".join(f"{v:.3f}" for v in result[key]) for key in ("side", "shift_x", "shift_y")]
    for name in available_detectors():
        detector = create_detector(name, min_size=1)
        fer = fer_framing(detector, faces)
        real = implied_framing(detector, images, fer)
        framing = detector.framing
        print(f"| {detector.name} | {fer['found']} of {fer['faces']} | " + " | ".join(cells(fer))
              + f" | {fer['iou_box']:.3f} | {fer['iou_crop']:.3f} | {real['faces']} | " + " | ".join(cells(real))
              + f" | {framing.side:g}, {framing.shift_x:g}, {framing.shift_y:g} |")
    if args.sizes:
        print("\nshare of FER2013 faces found (crop overlapping the frame by IoU > 0.5) at each crop side in px")
        print("| detector | " + " | ".join(str(side) for side in SIZES) + " |")
        print("|---|" + "---|" * len(SIZES))
        for name in available_detectors():
            detector = create_detector(name, min_size=1)
            shares = measure_sizes(detector, faces)
            print(f"| {detector.name} | " + " | ".join(f"{shares[side]:.0%}" for side in SIZES) + " |")


if __name__ == "__main__":
    main()
