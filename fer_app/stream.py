"""Frames of a video, in order -> tracked faces with smoothed probabilities.

The pipeline the video and webcam commands share:

    detect (every detect_every-th frame) or follow the previous boxes (the frames between)
    -> classify all boxes of the frame in one batch -> FaceTracker: ids + smoothing

On a detection frame, a box of the previous frame that no detection continues (overlaps
by the tracker's min_iou) is followed too, for up to bridge_misses detections in a row:
a detector misses a face now and then (a blink, a turn of the head), and dropping it
would leave a gap in its timeline.
"""
from data_tools.preprocess import to_gray
from fer_app.errors import AppError
from fer_app.follow import follow_box
from fer_app.tracking import DEFAULT_HALF_LIFE_S, FaceTracker, iou


class FaceStream:
    """process(frame, time_s) -> [Face] with face_id and (smoothed) probs, for consecutive frames.

    recognizer    fer_app.recognizer.EmotionRecognizer with a detector
    detect_every  run the detector on every N-th frame (1: every frame) and follow in between
    half_life_s   smoothing half-life in seconds, 0 to turn smoothing off (see tracking.py)
    bridge_misses how many detections in a row may miss a face before it is dropped
    """

    def __init__(self, recognizer, detect_every=1, half_life_s=DEFAULT_HALF_LIFE_S, bridge_misses=1):
        if detect_every < 1:
            raise AppError(f"detect_every must be 1 or more, got {detect_every}")
        self.recognizer = recognizer
        self.detect_every = detect_every
        self.bridge_misses = bridge_misses
        self.tracker = FaceTracker(half_life_s=half_life_s)
        self.frame_index = 0
        self._previous_gray = None
        self._previous = []   # (box, detections in a row that missed it) of the previous frame

    def describe(self):
        """How boxes are found, and by which detector, in words, for the command's output."""
        detector = self.recognizer.detector.name
        if self.detect_every == 1:
            return f"{detector}: face detection on every frame"
        return f"{detector}: face detection every {self.detect_every} frames, boxes followed in between"

    def detects_on(self, frame_number):
        """True when the detector runs on the frame_number-th frame (from 0) given to process()."""
        return frame_number % self.detect_every == 0

    def process(self, frame, time_s, detections=None):
        """One BGR frame (H, W, 3) uint8 and its time in seconds -> [Face] of that frame.

        detections: the detector's boxes for this frame where they were found already
        (fer_app.stages.detected_ahead finds them in another thread); None to run it here."""
        gray = to_gray(frame)
        if self.detects_on(self.frame_index):
            if detections is None:
                detections = self.recognizer.detector.detect(frame)
            boxes = [(box, 0) for box in detections]
            missed = [(box, misses + 1) for box, misses in self._previous
                      if misses < self.bridge_misses
                      and all(iou(box, found) < self.tracker.min_iou for found, _ in boxes)]
            boxes += self._follow(gray, missed)
        else:
            boxes = self._follow(gray, self._previous)
        self._previous_gray, self._previous = gray, boxes
        self.frame_index += 1
        faces = self.recognizer.classify(frame, [box for box, _ in boxes])
        return self.tracker.update(faces, time_s)

    def _follow(self, gray, boxes):
        followed = [(follow_box(self._previous_gray, gray, box), misses) for box, misses in boxes]
        return [(box, misses) for box, misses in followed if box is not None]
