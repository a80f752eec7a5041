"""From a detector's face box to the crop the classifier sees, framed as FER2013 frames its faces.

FER2013's 48x48 images were cut out by a face detector of its own, with its own margin
around the face. A box from another detector is tighter or looser and sits higher or lower
on the face, so cropping it as it is would show the network faces framed unlike those it
was trained on. Each detector therefore has a Framing, measured on FER2013 itself: its
faces, enlarged and pasted into a larger image, go through the detector, and the medians
of where the 48x48 frame lies relative to the box found give the framing (see
benchmarks/framing.py, which prints them, and tests/test_detectors.py, which checks them).

A face's size, wherever one is compared with --min-face, is the side of its crop: the same
face then has the same size whichever detector found it.
"""
from dataclasses import dataclass

# Faces whose crop is smaller than this are enlarged from too few pixels to read an
# expression; 48 is the network's own input size.
DEFAULT_MIN_FACE = 48


@dataclass(frozen=True)
class Framing:
    """Where the square FER2013-like crop lies relative to a face box (x, y, w, h).

    side     crop side / box height
    shift_x  (crop centre - box centre) / box height, horizontally (positive: right)
    shift_y  the same vertically (positive: down)
    """
    side: float
    shift_x: float = 0.0
    shift_y: float = 0.0

    def crop_box(self, box):
        """Face box (x, y, w, h) -> square crop box (x, y, side, side), ints; may reach past the image edge."""
        x, y, w, h = box
        side = max(1, round(self.side * h))
        centre_x = x + w / 2 + self.shift_x * h
        centre_y = y + h / 2 + self.shift_y * h
        return (round(centre_x - side / 2), round(centre_y - side / 2), side, side)

    def face_size(self, box):
        """The side of the box's crop, in pixels: a face's size the same way for every detector."""
        return self.side * box[3]
