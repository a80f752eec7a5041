"""Reading cameras and video files, writing .mp4 files, with one-line errors instead of OpenCV's noise.

OpenCV reports a file it cannot open, or a camera that is not there, by returning an
object that is not "opened" while its C++ side prints warnings (and FFmpeg messages such
as "moov atom not found") to stderr. Here those become one AppError; the native
messages are silenced (set OPENCV_FFMPEG_LOGLEVEL yourself to see FFmpeg's again).
"""
import os
from contextlib import contextmanager
from pathlib import Path

from data_tools.opencv import cv2
from fer_app.errors import AppError

os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")   # FFmpeg's AV_LOG_QUIET
FOURCC = "mp4v"   # MPEG-4 part 2: encoded by every opencv-python wheel, no extra codec needed


@contextmanager
def _opencv_quiet():
    previous = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    try:
        yield
    finally:
        cv2.utils.logging.setLogLevel(previous)


def open_video(path):
    """A video file -> (cv2.VideoCapture, its first frame); AppError if unreadable or empty."""
    path = Path(path)
    if not path.is_file():
        raise AppError(f"{path}: no such video file")
    with _opencv_quiet():
        capture = cv2.VideoCapture(str(path))
    return _with_first_frame(capture, f"{path}: not a readable video", f"{path}: the video has no readable frame")


def open_camera(index):
    """Camera number `index` -> (cv2.VideoCapture, its first frame); AppError if there is none."""
    with _opencv_quiet():
        capture = cv2.VideoCapture(index)
    return _with_first_frame(capture, f"no camera at index {index} (try another --camera, or --source FILE)",
                             f"camera {index} opened but delivered no frame (is another program using it?)")


def _with_first_frame(capture, not_opened, no_frame):
    """(capture, its first frame), or AppError with the matching message (the capture released)."""
    if not capture.isOpened():
        raise AppError(not_opened)
    ok, frame = capture.read()
    if not ok:
        capture.release()
        raise AppError(no_frame)
    return capture, frame


def frame_rate(capture, default=30.0):
    """Frames per second the capture reports, or default when it reports none (some cameras, streams)."""
    fps = capture.get(cv2.CAP_PROP_FPS)
    return fps if fps and 0 < fps < 1000 else default


def frames(capture, first_frame):
    """Yield first_frame, then every further frame of the capture, until it ends."""
    frame = first_frame
    while frame is not None:
        yield frame
        ok, frame = capture.read()
        if not ok:
            frame = None


def sampled_frames(capture, first_frame, fps, sample_fps=None):
    """Yield (frame index, frame) for sample_fps frames per second of video, or every frame when None.

    fps is the video's own rate. A frame is taken once its index reaches the next multiple
    of fps / sample_fps, so the frames taken keep their true index (and time, index / fps).
    The frames in between are only grabbed, never converted to images: that is what makes
    a sampled video faster to go through than a full one.
    """
    step = fps / sample_fps if sample_fps and sample_fps < fps else 1.0
    yield 0, first_frame
    index, taken = 0, 1
    while capture.grab():
        index += 1
        if index >= taken * step - 1e-9:
            ok, frame = capture.retrieve()
            if not ok:
                return
            yield index, frame
            taken += 1


class _CountingWriter:
    """A cv2.VideoWriter that counts the frames given to it (OpenCV's write() reports no failure)."""

    def __init__(self, writer):
        self.writer, self.frames = writer, 0

    def write(self, frame):
        self.writer.write(frame)
        self.frames += 1


@contextmanager
def video_writer(path, fps, frame_size):
    """A writer of `path` (.mp4, frame_size (width, height)) with cv2.VideoWriter's write(), written atomically.

    Frames go to a temporary file beside `path`. When the block ends normally the file is
    read back: only if it opens and holds every frame written is it renamed onto `path`
    (OpenCV's writer reports no error, so a full disk would otherwise leave a truncated
    video under the final name, replacing a good one). On any error (or Ctrl-C) the
    temporary file is deleted, so a half-written video never sits under the final name.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # The container is chosen from the extension, so the temporary name keeps it.
    temporary = path.with_name(f".{path.stem}.partial{path.suffix}")
    with _opencv_quiet():
        writer = cv2.VideoWriter(str(temporary), cv2.VideoWriter_fourcc(*FOURCC), fps, frame_size)
    if not writer.isOpened():
        raise AppError(f"{path}: OpenCV cannot write a video here (use a .mp4 name in a writable folder)")
    counting = _CountingWriter(writer)
    try:
        yield counting
        writer.release()
        _check_written(temporary, counting.frames, path)
        os.replace(temporary, path)
    except BaseException:
        writer.release()
        temporary.unlink(missing_ok=True)
        raise


def _check_written(temporary, expected_frames, path):
    with _opencv_quiet():
        capture = cv2.VideoCapture(str(temporary))
    try:
        stored = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) if capture.isOpened() else 0
    finally:
        capture.release()
    if stored != expected_frames:
        raise AppError(f"{path}: the video could not be written whole ({stored} of {expected_frames} frames "
                       f"stored: is the disk full?); nothing was replaced")
