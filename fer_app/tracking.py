"""Faces followed across video frames: an id per face and probabilities smoothed over time.

Ids: a face of the new frame takes the id of the track whose last box overlaps it most
(intersection over union, IoU), each track at most once per frame; a face that overlaps
no track starts a new one. Ids count up and are never reused, so two faces never share
one. A track ends once its face has been missing for more than forget_after_s seconds
and from more than forget_after_frames frames in a row: at 30 frames/s the seconds
decide (a face may be missed for a second), at 0.5 frames/s the frames do (a frame every
2 s must not end every track before the next frame comes). A face that comes back after
its track ended gets a new id.

Matching needs no allowance for the frame rate: a talking head moves little in 2 s, and
its box overlaps the one of 2 s before by far more than min_iou (tests/test_tracking.py
follows the real clips of ../shared/real at 0.5 frames/s).

Smoothing: an exponential moving average of each track's probabilities,
    smoothed = w * previous smoothed + (1 - w) * new,   w = 0.5 ** (dt / half_life_s)
with dt the time since the track's previous frame. Written with a half-life in seconds,
the smoothing is the same at 10 and at 60 frames/s. half_life_s = 0 turns it off.
"""
import itertools
import math
from dataclasses import dataclass, replace

import numpy as np

from fer_app.errors import AppError

# Smoothing half-life: long enough to stop flicker, short enough to follow a real change.
DEFAULT_HALF_LIFE_S = 0.3


def iou(box_a, box_b):
    """Intersection over union of two boxes (x, y, w, h): 0 (apart) .. 1 (identical)."""
    ax, ay, aw, ah = box_a
    bx, by, bw, bh = box_b
    overlap_w = min(ax + aw, bx + bw) - max(ax, bx)
    overlap_h = min(ay + ah, by + bh) - max(ay, by)
    if overlap_w <= 0 or overlap_h <= 0:
        return 0.0
    intersection = overlap_w * overlap_h
    return intersection / (aw * ah + bw * bh - intersection)


@dataclass
class _Track:
    box: tuple
    probs: np.ndarray
    last_seen_s: float
    last_seen_frame: int


class FaceTracker:
    """update(faces, time_s) -> the same faces with face_id set and probs smoothed.

    half_life_s          smoothing half-life in seconds (0: no smoothing, probs = raw_probs)
    min_iou              least overlap between a track's last box and a face to continue it
    forget_after_s       a track ends once its face has been missing for longer than this...
    forget_after_frames  ...and from more than this many frames in a row; its id is not reused
    """

    def __init__(self, half_life_s=DEFAULT_HALF_LIFE_S, min_iou=0.3, forget_after_s=1.0, forget_after_frames=1):
        if not 0 <= half_life_s < math.inf:
            raise AppError(f"half_life_s must be >= 0 and finite, got {half_life_s}")
        self.half_life_s = half_life_s
        self.min_iou = min_iou
        self.forget_after_s = forget_after_s
        self.forget_after_frames = forget_after_frames
        self.tracks = {}   # face id -> _Track
        self._new_ids = itertools.count(1)
        self._frame = -1   # index of the frame being updated: update() is called once per frame

    def update(self, faces, time_s):
        """faces: [Face] of one frame (face_id None); time_s: the frame's time, increasing."""
        self._frame += 1
        self.tracks = {face_id: track for face_id, track in self.tracks.items()
                       if time_s - track.last_seen_s <= self.forget_after_s
                       or self._frame - track.last_seen_frame - 1 <= self.forget_after_frames}
        ids = self._match(faces)
        tracked = []
        for face, face_id in zip(faces, ids):
            if face_id is None:
                face_id = next(self._new_ids)
                probs = face.raw_probs
            else:
                probs = self._smooth(self.tracks[face_id], face.raw_probs, time_s)
            self.tracks[face_id] = _Track(face.box, probs, time_s, self._frame)
            tracked.append(replace(face, face_id=face_id, probs=probs))
        return tracked

    def _match(self, faces):
        """The track id of each face (None: a new face), best overlaps first."""
        pairs = sorted(((iou(track.box, face.box), face_index, face_id)
                        for face_index, face in enumerate(faces)
                        for face_id, track in self.tracks.items()), reverse=True)
        ids = [None] * len(faces)
        taken = set()
        for overlap, face_index, face_id in pairs:
            if overlap < self.min_iou:
                break
            if ids[face_index] is None and face_id not in taken:
                ids[face_index] = face_id
                taken.add(face_id)
        return ids

    def _smooth(self, track, raw_probs, time_s):
        if self.half_life_s == 0:
            return raw_probs
        weight = 0.5 ** ((time_s - track.last_seen_s) / self.half_life_s)
        return (weight * track.probs + (1 - weight) * raw_probs).astype(np.float32)
