"""Live emotions from a camera, or from a video file played as if it were one.

    python -m fer_app.webcam                                # camera 0 in a window; q or Esc quits
    python -m fer_app.webcam --camera 1 --record session.mp4
    python -m fer_app.webcam --source clip.mp4 --no-window  # no screen needed; ends with the file

The window shows every face's box and label, a probability bar chart of the main
(largest) face and the frame rate. Without a window the loop runs until the source ends
or Ctrl-C, which also ends a recording properly.
"""
import argparse
import os
import sys
import time
from collections import deque
from contextlib import ExitStack, closing
from pathlib import Path

from data_tools.opencv import cv2
from fer_app import options
from fer_app.cli import run
from fer_app.draw import draw_faces, draw_fps, draw_probability_bars
from fer_app.errors import AppError
from fer_app.stages import detected_ahead, one_thread_per_stage
from fer_app.validators import camera_index
from fer_app.videoio import frame_rate, frames, open_camera, open_video, video_writer

WINDOW = "fer_app: q or Esc quits"
QUIT_KEYS = (ord("q"), 27)


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m fer_app.webcam", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--camera", type=camera_index, default=0, metavar="N", help="camera index (default 0)")
    source.add_argument("--source", metavar="FILE", help="a video file instead of a camera")
    parser.add_argument("--record", metavar="OUT.mp4",
                        help="also write the annotated frames to this video, at the source's frame rate (a camera "
                             "delivering faster than the loop runs gives a recording that plays fast)")
    parser.add_argument("--no-window", action="store_true", help="show nothing (machines without a screen)")
    options.add_model_option(parser)
    options.add_detector_options(parser)
    options.add_stream_options(parser)
    return parser.parse_args(argv)


def screen_available():
    """False on Linux without an X11 or Wayland display, where opening a window would abort the process."""
    if not sys.platform.startswith("linux"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


class FrameRate:
    """Frames per second over the last `window` frames: steady enough to read, quick to follow changes."""

    def __init__(self, window=30):
        self.stamps = deque(maxlen=window)

    def tick(self):
        """Call once per frame; returns the current rate (0 until two frames were seen)."""
        self.stamps.append(time.perf_counter())
        if len(self.stamps) < 2:
            return 0.0
        return (len(self.stamps) - 1) / (self.stamps[-1] - self.stamps[0])


def annotate(frame, faces, fps):
    """The main (largest) face's probability bars, the frame rate, and on top the boxes and labels of all faces."""
    if faces:
        main_face = max(faces, key=lambda face: face.box[2] * face.box[3])
        draw_probability_bars(frame, main_face.probs)
    draw_fps(frame, fps)
    return draw_faces(frame, faces)


def show(frame, wait_ms):
    """Show a frame for at least wait_ms; False when the user quits (q, Esc, or closes the window)."""
    cv2.imshow(WINDOW, frame)
    key = cv2.waitKey(max(1, wait_ms)) & 0xFF
    return key not in QUIT_KEYS and cv2.getWindowProperty(WINDOW, cv2.WND_PROP_VISIBLE) >= 1


def main(argv=None):
    args = parse_args(argv)
    window = not args.no_window
    if window and not screen_available():
        raise AppError("no screen to show a window on: add --no-window (and --record OUT.mp4 to keep the result)")
    if args.source and args.record and Path(args.record).resolve() == Path(args.source).resolve():
        raise AppError(f"{args.record}: --record would overwrite the --source video; record to another file")
    capture, first_frame = open_video(args.source) if args.source else open_camera(args.camera)
    stream = options.face_stream_from(args)
    source_fps = frame_rate(capture)
    height, width = first_frame.shape[:2]
    print(f"{args.source or f'camera {args.camera}'}: {width}x{height}; {stream.describe()}"
          + ("; q or Esc quits" if window else "; Ctrl-C stops"), flush=True)
    rate = FrameRate()
    count = 0
    started = time.perf_counter()
    with ExitStack() as cleanup:
        cleanup.callback(capture.release)
        if window:
            cleanup.callback(cv2.destroyAllWindows)
        recorder = None
        if args.record:
            recorder = cleanup.enter_context(video_writer(args.record, source_fps, (width, height)))
        cleanup.enter_context(one_thread_per_stage())
        # A file's frames carry their own time; a camera's are timed as they arrive (in the reading thread).
        timed = ((frame, time.perf_counter() - started) for frame in frames(capture, first_frame))
        # Read ahead by one frame at most: what is shown stays close to what the camera sees.
        analysed = cleanup.enter_context(closing(detected_ahead(timed, stream, frame_of=lambda item: item[0],
                                                                depth=1)))
        try:
            for count, ((frame, arrived_s), detections) in enumerate(analysed, start=1):
                time_s = (count - 1) / source_fps if args.source else arrived_s
                annotate(frame, stream.process(frame, time_s, detections), rate.tick())
                if recorder is not None:
                    recorder.write(frame)
                # A file in a window plays at its own speed, not as fast as frames can be processed.
                wait_ms = round(1000 * (time_s - (time.perf_counter() - started))) if args.source else 1
                if window and not show(frame, wait_ms):
                    break
        except KeyboardInterrupt:
            pass   # Ctrl-C is how a session without a window ends: keep the recording
    seconds = time.perf_counter() - started
    print(f"{count} frames in {seconds:.1f} s = {count / seconds:.1f} frames/s"
          + (f"; recorded {args.record}" if args.record else ""))
    return 0


if __name__ == "__main__":
    run(main)
