"""Moving a face box from one video frame to the next without running the detector.

The face as it looked in the previous frame is searched for near its old box in the new
frame (template matching, normalised correlation); the box moves to the best match. This
costs about a millisecond per face where the Haar cascade costs tens, which is what lets
the video commands detect only every N frames. The box keeps its size: detections, which
come back every N frames, correct it.
"""
from data_tools.opencv import cv2

# Below this correlation (-1..1) the face is taken to be gone (left the frame, covered).
MIN_MATCH = 0.5


def follow_box(previous_gray, gray, box, search_margin=0.25):
    """Box (x, y, w, h) of a face in previous_gray -> its box in gray, or None if lost.

    previous_gray, gray: consecutive frames, gray uint8 (H, W) of the same size.
    search_margin: how far the face may have moved, as a fraction of the box size.
    """
    height, width = gray.shape
    x, y, w, h = box
    # Boxes may reach past the frame edge; the template is the part inside the frame.
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + w, width), min(y + h, height)
    if x1 - x0 < 8 or y1 - y0 < 8:
        return None
    template = previous_gray[y0:y1, x0:x1]
    margin_x, margin_y = round(w * search_margin), round(h * search_margin)
    sx0, sy0 = max(x0 - margin_x, 0), max(y0 - margin_y, 0)
    sx1, sy1 = min(x1 + margin_x, width), min(y1 + margin_y, height)
    scores = cv2.matchTemplate(gray[sy0:sy1, sx0:sx1], template, cv2.TM_CCOEFF_NORMED)
    _, best, _, (best_x, best_y) = cv2.minMaxLoc(scores)
    if best < MIN_MATCH:
        return None
    return (x + sx0 + best_x - x0, y + sy0 + best_y - y0, w, h)
