"""The video pipeline in two stages on two threads, each single-threaded inside.

    stage 1 (a worker thread): read and decode the next frame; on a detection frame, find the faces
    stage 2 (the caller's thread): follow, classify, track, draw, write

Why: per frame, most of the work is small (batch-1 classification, a detection every few
frames), too small for OpenCV's, OpenBLAS's and numba's thread pools to split well, and
when another process keeps one core busy, every parallel call waits for its slowest
thread, the one sharing the busy core: measured on the 640x480 benchmark clip (2 cores,
vgg_bn, detection every 3rd frame), 29 frames/s idle fell to 10 with one core busy. With
every pool at one thread the frame rate no longer falls (23 idle, 23 busy), and running
the two stages side by side gives the idle machine's second core back to the pipeline
(docs/results.md, "One core busy": the figures before, and benchmarks/bench.py --busy's
table of those after).

Stage 1 runs ahead of stage 2 by at most `depth` frames, so memory stays bounded; for a
live camera depth 1 keeps what is shown close to what the camera sees now.
"""
import queue
import threading
from contextlib import contextmanager

from data_tools.opencv import cv2
from minicnn.threads import SharedLimit, one_thread

_DONE = object()


def _one_opencv_thread():
    before = cv2.getNumThreads()
    cv2.setNumThreads(1)
    return lambda: cv2.setNumThreads(before)


# OpenCV's thread count is process-wide: videos analysed side by side in one process share it.
_ONE_OPENCV_THREAD = SharedLimit(_one_opencv_thread)


@contextmanager
def one_thread_per_stage():
    """Within: OpenCV, BLAS and (for this thread) numba each use one thread; restored after
    the last of the threads inside at once leaves."""
    with _ONE_OPENCV_THREAD.held(), one_thread():
        yield


def detected_ahead(items, stream, frame_of=lambda item: item, depth=4):
    """Yield (item, detections) for each item of the iterable `items`, in order.

    items are read (decoding the frames) in a worker thread, which also runs the stream's
    detector on the frames the stream detects on (stream.detects_on(n) for the n-th item,
    counting from 0); detections is that list of boxes, or None for the frames the stream
    follows its boxes on. Pass both to stream.process(frame, time_s, detections).

    frame_of  item -> its BGR frame (for items that carry more than the frame)
    depth     how many items the worker may be ahead
    An exception in the worker is raised here, at the item it happened on; leaving the loop
    early (break, an exception) stops the worker.
    """
    handoff = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def hand_over(entry):
        while not stop.is_set():
            try:
                handoff.put(entry, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def work():
        try:
            for number, item in enumerate(items):
                detections = stream.recognizer.detector.detect(frame_of(item)) if stream.detects_on(number) else None
                if not hand_over((item, detections)):
                    return
            hand_over(_DONE)
        except BaseException as error:   # handed to the caller's thread, which raises it
            hand_over(error)

    worker = threading.Thread(target=work, name="decode-and-detect", daemon=True)
    worker.start()
    try:
        while (entry := handoff.get()) is not _DONE:
            if isinstance(entry, BaseException):
                raise entry
            yield entry
    finally:
        stop.set()
        worker.join()
