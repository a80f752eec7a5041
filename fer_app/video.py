"""Emotions of the faces in a video file.

    python -m fer_app.video clip.mp4 --out fer_output
    python -m fer_app.video clip.mp4 --detect-every 1 --no-smoothing
    python -m fer_app.video lecture.mp4 --sample-fps 5 --no-annotated-video

Written to --out, each file complete or absent (written under a temporary name, renamed
when the whole video is done, removed on failure):
  <stem>.annotated.mp4  the video with a box, id, label and confidence per face
                        (not with --no-annotated-video)
  <stem>.faces.csv      one row per face per frame, and a row with empty face fields for
                        a frame without a face:
                        frame,time_s,face_id,x,y,w,h,label,p_angry,...,p_surprise,raw_angry,...,raw_surprise
                        p_*: the smoothed probabilities the label comes from; raw_*: the
                        network's output for that frame alone (equal with --no-smoothing)
  <stem>.timeline.png   each face's probabilities over time
Printed: how faces are found (detection on every frame, or every N frames with the boxes
followed in between), a summary per face (share of its time on screen in each emotion)
and the throughput in frames per second.

With --sample-fps F only F frames per second of video are analysed: the CSV has rows for
those frames only, each with its true frame index and time in the video, and the
annotated video holds those frames, played at F frames/s (so it lasts as long as the input).
"""
import argparse
import csv
import time
from contextlib import ExitStack, closing
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from data_tools.labels import EMOTIONS
from data_tools.opencv import cv2
from fer_app import options, plots
from fer_app.cli import run
from fer_app.draw import draw_faces
from fer_app.stages import detected_ahead, one_thread_per_stage
from fer_app.videoio import frame_rate, open_video, sampled_frames, video_writer
from minicnn.io import atomic_write

CSV_HEADER = (["frame", "time_s", "face_id", "x", "y", "w", "h", "label"]
              + [f"p_{emotion}" for emotion in EMOTIONS] + [f"raw_{emotion}" for emotion in EMOTIONS])


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m fer_app.video", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("input", metavar="IN", help="video file (anything OpenCV/FFmpeg reads: .mp4, .avi, ...)")
    parser.add_argument("--out", default="fer_output", help="output folder (default fer_output)")
    add_pipeline_options(parser)
    return parser.parse_args(argv)


def add_pipeline_options(parser):
    """The options of how a video is analysed (all but where from and to): fer_app.batch takes them too."""
    options.add_model_option(parser)
    options.add_detector_options(parser)
    options.add_stream_options(parser)
    options.add_video_options(parser)


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

    def face_statistics(self, frame_seconds):
        """Per face, in id order: {"face_id", "frames", "seconds", "shares", "mean_probs"}.

        frames: the logged frames showing the face; seconds: the video time they stand for,
        frame_seconds each; shares (7,): the part of those frames labelled with each
        emotion; mean_probs (7,): the face's smoothed probabilities averaged over them.
        """
        statistics = []
        for face_id, by_frame in sorted(self.probs.items()):
            probs = np.stack(list(by_frame.values()))
            shares = np.bincount(np.argmax(probs, axis=1), minlength=len(EMOTIONS)) / len(probs)
            statistics.append({"face_id": face_id, "frames": len(probs), "seconds": len(probs) * frame_seconds,
                               "shares": shares, "mean_probs": probs.mean(axis=0)})
        return statistics

    def summary(self, frame_seconds):
        """Lines of text: per face, its time on screen and the share of it spent in each emotion."""
        lines = ["summary: share of each face's time on screen per emotion",
                 f"{'face':>6} {'on screen':>10} " + " ".join(f"{emotion:>8}" for emotion in EMOTIONS)]
        for face in self.face_statistics(frame_seconds):
            lines.append(f"{'#' + str(face['face_id']):>6} {face['seconds']:>8.1f} s "
                         + " ".join(f"{share:>8.0%}" for share in face["shares"]))
        if not self.probs:
            lines.append("no face found in the video")
        lines.append(f"frames without a face: {self.frames_without_face()} of {len(self.times)}")
        return lines


@dataclass
class VideoAnalysis:
    """What analyze_video did.

    fps            the video's frame rate
    frame_seconds  the video time each analysed frame stands for: 1 / fps, or 1 / F with --sample-fps F
    log            every analysed frame's faces
    seconds        wall-clock time of the analysis
    written        the output files
    """
    fps: float
    frame_seconds: float
    log: EmotionLog
    seconds: float
    written: list


def output_paths(source, out):
    """(annotated video, CSV, timeline) paths of a video's outputs in folder out."""
    stem = Path(source).stem
    return tuple(Path(out) / f"{stem}.{kind}" for kind in ("annotated.mp4", "faces.csv", "timeline.png"))


def analyze_video(source, out, stream, sample_fps=None, annotated=True, progress=True):
    """Run a video through a FaceStream, writing its outputs to folder out -> VideoAnalysis.

    sample_fps  analyse this many frames per second of video (None: every frame)
    annotated   also write the annotated video
    progress    print what is analysed and show a progress bar
    Raises AppError for a video that cannot be read; on any error no output is left behind.
    """
    source = Path(source)
    capture, first_frame = open_video(source)
    try:
        fps = frame_rate(capture)
        rate = min(fps, sample_fps) if sample_fps else fps
        height, width = first_frame.shape[:2]
        video_path, csv_path, timeline_path = output_paths(source, out)
        if progress:
            sampling = f"; analysing {rate:g} frames per second" if sample_fps else ""
            print(f"{source}: {width}x{height} at {fps:.1f} frames/s{sampling}; {stream.describe()}", flush=True)
        log = EmotionLog()
        with ExitStack() as outputs:
            writer = outputs.enter_context(video_writer(video_path, rate, (width, height))) if annotated else None
            rows = csv.writer(outputs.enter_context(atomic_write(csv_path, "w")), lineterminator="\n")
            rows.writerow(CSV_HEADER)
            total = round(int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) * rate / fps) or None
            outputs.enter_context(one_thread_per_stage())
            analysed = outputs.enter_context(closing(detected_ahead(
                sampled_frames(capture, first_frame, fps, sample_fps), stream, frame_of=lambda item: item[1])))
            started = time.perf_counter()
            for (index, frame), detections in tqdm(analysed, total=total, unit="frame", disable=not progress):
                time_s = index / fps
                faces = stream.process(frame, time_s, detections)
                rows.writerows(csv_rows(index, time_s, faces))
                if writer is not None:
                    writer.write(draw_faces(frame, faces))
                log.add(time_s, faces)
            seconds = time.perf_counter() - started
            plots.emotion_timeline(np.array(log.times), log.probs_by_face(), timeline_path)
    finally:
        capture.release()
    written = [video_path, csv_path, timeline_path] if annotated else [csv_path, timeline_path]
    return VideoAnalysis(fps, 1 / rate, log, seconds, written)


def main(argv=None):
    args = parse_args(argv)
    stream = options.face_stream_from(args)
    analysis = analyze_video(args.input, args.out, stream, sample_fps=args.sample_fps, annotated=args.annotated_video)
    frames = len(analysis.log.times)
    print("\n".join(analysis.log.summary(analysis.frame_seconds)))
    print(f"throughput: {frames} frames in {analysis.seconds:.1f} s = {frames / analysis.seconds:.1f} frames/s "
          f"end to end ({stream.describe()})")
    print(f"wrote {', '.join(map(str, analysis.written))}")
    return 0


if __name__ == "__main__":
    run(main)
