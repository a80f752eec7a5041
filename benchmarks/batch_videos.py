"""A collection of videos three ways: fer_app.batch with 1 and with 2 workers, and fer_app.video one clip after another.

    python benchmarks/batch_videos.py --json benchmarks/batch_videos.json
    python benchmarks/batch_videos.py --clips 2 --frames 60          # a quick trial

The collection: --clips 640x480 clips of --frames frames at 30 frames/s, each with one
moving face (the face and model of benchmarks/video_clip.py). Every run is a fresh
command, as a user would start it, with the same pipeline options (the defaults).
Reported for each: the wall time of the whole command (process start, the Dask cluster's
start for the batch, the model, the clips), frames/s over that time, and frames/s as
the command itself prints it (the analysis only: for the batch, from the first task
submitted to the last finished; for fer_app.video, each clip's loop, summed). The
ratios compare the batch with 2 workers to the batch with 1 and to the sequential runs.
"""
import argparse
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.video_clip import FACE_SIDE, FRAME_SIZE, face_image, model_path  # noqa: E402
from data_tools.opencv import cv2  # noqa: E402
from minicnn.io import write_json  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def write_clip(path, frames, phase):
    """A clip of one face sliding to and fro; phase shifts where it starts, so that the clips differ."""
    face = face_image()
    width, height = FRAME_SIZE
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 30.0, FRAME_SIZE)
    for index in range(frames):
        frame = np.full((height, width), 120, np.uint8)
        x = 40 + int((width - FACE_SIDE - 80) * (0.5 + 0.5 * np.sin(index / 40 + phase)))
        frame[140:140 + FACE_SIDE, x:x + FACE_SIDE] = face
        writer.write(cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR))
    writer.release()


def timed(command):
    """Run a command from the repository -> (wall seconds, its stdout); RuntimeError with its last line on failure."""
    started = time.perf_counter()
    result = subprocess.run([sys.executable, *map(str, command)], capture_output=True, text=True, cwd=REPO)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, command))}: {(result.stderr.strip().splitlines() or ['?'])[-1]}")
    return seconds, result.stdout


def sequential(clips, out, model):
    """fer_app.video on each clip in turn -> {wall_s, frames, fps_wall, fps_printed}."""
    wall, frames, loop_seconds = 0.0, 0, 0.0
    for clip in clips:
        seconds, stdout = timed(["-m", "fer_app.video", clip, "--out", out / clip.stem, "--model", model])
        count, taken = re.search(r"throughput: (\d+) frames in ([0-9.]+) s", stdout).groups()
        wall, frames, loop_seconds = wall + seconds, frames + int(count), loop_seconds + float(taken)
    return {"wall_s": wall, "frames": frames, "fps_wall": frames / wall, "fps_printed": frames / loop_seconds}


def batched(folder, out, model, workers):
    """fer_app.batch on the folder with a local cluster of `workers` -> {wall_s, frames, fps_wall, fps_printed}."""
    seconds, stdout = timed(["-m", "fer_app.batch", folder, "--out", out, "--model", model, "--workers", workers])
    frames, fps = re.search(r"(\d+) video frames analysed in [0-9.]+ s = ([0-9.]+) frames/s", stdout).groups()
    return {"wall_s": seconds, "frames": int(frames), "fps_wall": int(frames) / seconds, "fps_printed": float(fps)}


RUN_NAMES = {"sequential_video": "fer_app.video, one clip after another", "batch_1_workers": "fer_app.batch, 1 worker",
             "batch_2_workers": "fer_app.batch, 2 workers"}


def table(results):
    """Markdown: a row per way of running the collection, then the ratios."""
    lines = [f"Date {results['date']}; machine {results['machine']}; {results['clips']} clips of "
             f"{results['frames_per_clip']} frames, {results['frame_size'][0]}x{results['frame_size'][1]}.", "",
             "| run | wall time (s) | frames | frames/s, wall clock | frames/s, as the command prints it |",
             "|---|---|---|---|---|"]
    for name, run in results["runs"].items():
        lines.append(f"| {RUN_NAMES[name]} | {run['wall_s']:.1f} | {run['frames']} | {run['fps_wall']:.1f} "
                     f"| {run['fps_printed']:.1f} |")
    lines += ["", f"2 workers / 1 worker: {results['ratio_2_over_1_workers']:.2f}x; 2 workers / fer_app.video one "
                  f"clip after another: {results['ratio_2_workers_over_sequential']:.2f}x (wall-clock frames/s)."]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=8, help="clips in the collection (default 8)")
    parser.add_argument("--frames", type=int, default=300, help="frames per clip (default 300: 10 s)")
    parser.add_argument("--json", metavar="PATH", help="also write the figures here")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as work:
        work = Path(work)
        folder = work / "clips"
        folder.mkdir()
        clips = [folder / f"clip{number:02d}.mp4" for number in range(args.clips)]
        for number, clip in enumerate(clips):
            write_clip(clip, args.frames, phase=number)
        model = model_path(work)
        runs = {"sequential_video": sequential(clips, work / "sequential", model)}
        for workers in (1, 2):
            runs[f"batch_{workers}_workers"] = batched(folder, work / f"batch{workers}", model, workers)
    results = {
        "date": date.today().isoformat(),
        "machine": f"{platform.machine()}, {len(os.sched_getaffinity(0))} cores, {platform.platform()}",
        "clips": args.clips, "frames_per_clip": args.frames, "frame_size": list(FRAME_SIZE),
        "runs": runs,
        "ratio_2_over_1_workers": runs["batch_2_workers"]["fps_wall"] / runs["batch_1_workers"]["fps_wall"],
        "ratio_2_workers_over_sequential": runs["batch_2_workers"]["fps_wall"] / runs["sequential_video"]["fps_wall"],
    }
    print(table(results))
    if args.json:
        write_json(args.json, results)
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
