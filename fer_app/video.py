"""Emotions of the faces in a video file.

    python -m fer_app.video clip.mp4 --out fer_output
    python -m fer_app.video clip.mp4 --detect-every 1 --no-smoothing

Written to --out, each file complete or absent (written under a temporary name, renamed
when the whole video is done, removed on failure):
  <stem>.annotated.mp4  the video with a box, id, label and confidence per face
  <stem>.faces.csv      one row per face per frame, and a row with empty face fields for
                        a frame without a face:
                        frame,time_s,face_id,x,y,w,h,label,p_angry,...,p_surprise,raw_angry,...,raw_surprise
                        p_*: the smoothed probabilities the label comes from; raw_*: the
                        network's output for that frame alone (equal with --no-smoothing)
  <stem>.timeline.png   each face's probabilities over time
Printed: how faces are found (detection on every frame, or every N frames with the boxes
followed in between), a summary per face (share of its time on screen in each emotion)
and the throughput in frames per second.
"""
import argparse
import csv
import time
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from fer_app import options, plots
from fer_app.cli import run
from fer_app.draw import draw_faces
from fer_app.labels import EMOTIONS
from fer_app.videoio import frame_rate, frames, open_video, video_writer
from minicnn.io import atomic_write

CSV_HEADER = (["frame", "time_s", "face_id", "x", "y", "w", "h", "label"]
              + [f"p_{emotion}" for emotion in EMOTIONS] + [f"raw_{emotion}" for emotion in EMOTIONS])


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m fer_app.video", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("input", metavar="IN", help="video file (anything OpenCV/FFmpeg reads: .mp4, .avi, ...)")
    parser.add_argument("--out", default="fer_output", help="output folder (default fer_output)")
    options.add_model_option(parser)
    options.add_detector_options(parser, detect_width=options.VIDEO_DETECT_WIDTH)
    options.add_stream_options(parser)
    return parser.parse_args(argv)


def csv_rows(frame_index, time_s, faces):
    """The CSV rows of one frame (see CSV_HEADER): one per face, or one with empty face fields."""
    start = [frame_index, f"{time_s:.3f}"]
    if not faces:
        return [start + [""] * (len(CSV_HEADER) - len(start))]
    return [start + [face.face_id, *face.box, face.label]
            + [f"{p:.5f}" for p in face.probs] + [f"{p:.5f}" for p in face.raw_probs] for face in faces]


class EmotionLog:
    """Each face's probabilities and labels, frame by frame: what the timeline and summary show."""

    def __init__(self):
        self.times = []
        self.probs = {}    # face id -> {frame index: (7,) smoothed probabilities}

    def add(self, time_s, faces):
        for face in faces:
            self.probs.setdefault(face.face_id, {})[len(self.times)] = face.probs
        self.times.append(time_s)

    def frames_without_face(self):
        with_face = set().union(*self.probs.values())
        return len(self.times) - len(with_face)

    def probs_by_face(self):
        """{face id: (T, 7) probabilities, NaN in the frames without that face}."""
        table = {}
        for face_id, by_frame in self.probs.items():
            probs = np.full((len(self.times), len(EMOTIONS)), np.nan, dtype=np.float32)
            probs[list(by_frame)] = list(by_frame.values())
            table[face_id] = probs
        return table

    def summary(self, fps):
        """Lines of text: per face, its time on screen and the share of it spent in each emotion."""
        lines = ["summary: share of each face's time on screen per emotion",
                 f"{'face':>6} {'on screen':>10} " + " ".join(f"{emotion:>8}" for emotion in EMOTIONS)]
        for face_id, by_frame in sorted(self.probs.items()):
            labels = np.argmax(np.stack(list(by_frame.values())), axis=1)
            shares = np.bincount(labels, minlength=len(EMOTIONS)) / len(labels)
            lines.append(f"{'#' + str(face_id):>6} {len(labels) / fps:>8.1f} s "
                         + " ".join(f"{share:>8.0%}" for share in shares))
        if not self.probs:
            lines.append("no face found in the video")
        lines.append(f"frames without a face: {self.frames_without_face()} of {len(self.times)}")
        return lines


def main(argv=None):
    args = parse_args(argv)
    source = Path(args.input)
    capture, first_frame = open_video(source)
    stream = options.face_stream_from(args)
    fps = frame_rate(capture)
    height, width = first_frame.shape[:2]
    out = Path(args.out)
    video_path, csv_path, timeline_path = (out / f"{source.stem}.{kind}"
                                           for kind in ("annotated.mp4", "faces.csv", "timeline.png"))
    print(f"{source}: {width}x{height} at {fps:.1f} frames/s; {stream.describe()}", flush=True)
    log = EmotionLog()
    with video_writer(video_path, fps, (width, height)) as writer, atomic_write(csv_path, "w") as csv_file:
        rows = csv.writer(csv_file, lineterminator="\n")
        rows.writerow(CSV_HEADER)
        total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) or None
        started = time.perf_counter()
        for index, frame in enumerate(tqdm(frames(capture, first_frame), total=total, unit="frame")):
            time_s = index / fps
            faces = stream.process(frame, time_s)
            rows.writerows(csv_rows(index, time_s, faces))
            writer.write(draw_faces(frame, faces))
            log.add(time_s, faces)
        seconds = time.perf_counter() - started
        plots.emotion_timeline(np.array(log.times), log.probs_by_face(), timeline_path)
    capture.release()
    print("\n".join(log.summary(fps)))
    print(f"throughput: {len(log.times)} frames in {seconds:.1f} s = {len(log.times) / seconds:.1f} frames/s "
          f"end to end ({stream.describe()})")
    print(f"wrote {video_path}, {csv_path}, {timeline_path}")
    return 0


if __name__ == "__main__":
    run(main)
