"""The face detectors side by side on real footage: how many faces each finds, and how fast.

    python benchmarks/detectors.py                                 # the table
    python benchmarks/detectors.py --json benchmarks/detectors.json

Every detector installed here (CenterFace needs the detect extra) runs with the settings
the app gives it by default, on the real clips and photos of ../shared/real (see its
README; no labels come with them):
  clips   each frame through the detector alone, as fer_app.video sets it up for video:
          frames with at least one face, faces per frame, median milliseconds per frame;
          then `python -m fer_app.video CLIP --detector NAME` as a user runs it (detection
          every 3 frames, boxes followed in between, classification, drawing, encoding):
          its end-to-end frames per second, as it prints them
  photos  faces found and milliseconds, as fer_app.image sets the detector up for photos;
          no_faces.jpg must give none
Detector times are medians over every frame after the first (which loads the network);
all figures come from one run on one machine, given with the results.
"""
import argparse
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from data_tools.opencv import cv2  # noqa: E402
from fer_app.detect import available_detectors, create_detector  # noqa: E402
from minicnn.io import write_json  # noqa: E402

REAL = REPO.parent / "shared" / "real"
CLIPS = ("talk_short.mp4", "talk_cut.mp4")
PHOTOS = ("portrait.jpg", "no_faces.jpg")


def timed_detect(detector, image):
    """(boxes, milliseconds) of one detect call."""
    started = time.perf_counter()
    boxes = detector.detect(image)
    return boxes, 1000 * (time.perf_counter() - started)


def measure_clip(detector, path):
    """{"frames", "frames_with_face", "faces_per_frame", "detect_ms"}: the detector on every frame of a clip."""
    capture = cv2.VideoCapture(str(path))
    counts, times = [], []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        boxes, ms = timed_detect(detector, frame)
        counts.append(len(boxes))
        times.append(ms)
    capture.release()
    if not counts:
        raise SystemExit(f"{path}: no frames could be read")
    return {"frames": len(counts), "frames_with_face": sum(count > 0 for count in counts),
            "faces_per_frame": sum(counts) / len(counts), "detect_ms": statistics.median(times[1:] or times)}


def video_fps(detector_name, path):
    """End-to-end frames/s of `python -m fer_app.video` on a clip, as the command prints it."""
    with tempfile.TemporaryDirectory() as out:
        result = subprocess.run([sys.executable, "-m", "fer_app.video", str(path), "--out", out,
                                 "--detector", detector_name], capture_output=True, text=True, cwd=REPO)
    if result.returncode != 0:
        raise SystemExit(f"fer_app.video failed on {path}: {result.stderr.strip().splitlines()[-1]}")
    return float(re.search(r"= ([0-9.]+) frames/s end to end", result.stdout).group(1))


def measure_photo(detector, path):
    """{"faces", "detect_ms"}: the detector on a photo (the second of two calls, the first loads the network)."""
    image = cv2.imread(str(path))
    if image is None:
        raise SystemExit(f"{path}: not a readable image")
    timed_detect(detector, image)
    boxes, ms = timed_detect(detector, image)
    return {"faces": len(boxes), "detect_ms": ms}


def collect(real=REAL):
    real = Path(real)
    missing = [name for name in CLIPS + PHOTOS if not (real / name).is_file()]
    if missing:
        raise SystemExit(f"missing in {real}: {', '.join(missing)}")
    results = {"date": date.today().isoformat(), "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
               f"{platform.processor() or platform.platform()}", "opencv": cv2.__version__, "detectors": {}}
    for name in available_detectors():
        print(f"measuring {name} ...", file=sys.stderr, flush=True)
        video_detector, photo_detector = create_detector(name, for_video=True), create_detector(name)
        results["detectors"][name] = {
            "name": video_detector.name,
            "clips": {clip: {**measure_clip(video_detector, real / clip), "video_fps": video_fps(name, real / clip)}
                      for clip in CLIPS},
            "photos": {photo: measure_photo(photo_detector, real / photo) for photo in PHOTOS},
        }
    return results


def table(results):
    """Markdown: a row per detector and clip, then one per detector with the photos."""
    detectors = results["detectors"]
    lines = [f"Date {results['date']}; machine {results['machine']}; OpenCV {results['opencv']}.", "",
             "| detector | clip | frames with a face | faces per frame | detector ms per frame "
             "| fer_app.video frames/s end to end |",
             "|---|---|---|---|---|---|"]
    for figures in detectors.values():
        for clip, clip_figures in figures["clips"].items():
            lines.append(f"| {figures['name']} | {clip} | {clip_figures['frames_with_face']} of "
                         f"{clip_figures['frames']} | {clip_figures['faces_per_frame']:.2f} "
                         f"| {clip_figures['detect_ms']:.1f} | {clip_figures['video_fps']:.1f} |")
    lines += ["", "| detector | " + " | ".join(f"{photo}: faces (ms)" for photo in PHOTOS) + " |",
              "|---|" + "---|" * len(PHOTOS)]
    for figures in detectors.values():
        photos = figures["photos"]
        lines.append(f"| {figures['name']} | "
                     + " | ".join(f"{photos[photo]['faces']} ({photos[photo]['detect_ms']:.0f})" for photo in PHOTOS) + " |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--real", default=REAL, help=f"folder of the real clips and photos (default {REAL})")
    parser.add_argument("--json", metavar="PATH", help="also write the figures to this JSON file")
    args = parser.parse_args()
    results = collect(args.real)
    print(table(results))
    if args.json:
        write_json(args.json, results)


if __name__ == "__main__":
    main()
