"""python -m fer_app.batch: a collection of videos on a Dask cluster gives what fer_app.video gives, one by one.

The clips are made here from real FER2013 faces (skipped where the data set is absent);
the real footage of ../shared/real is used where present. One LocalCluster with two
worker processes serves the module.
"""
import csv
import logging
import os
import shutil
import signal
import threading
import time
from collections import Counter
from pathlib import Path

import cv2
import numpy as np
import pytest

from data_tools.labels import EMOTIONS
from fer_app import batch, manifest, video
from fer_app.collection import Job, collect
from tests.app_helpers import (BACKGROUND, REPO, assert_one_line_error, paste_faces, run_command, run_main,
                               write_video)

distributed = pytest.importorskip("distributed", reason="the batch extra (dask[distributed]) is not installed")

REAL = REPO.parent / "shared" / "real"
# The cheaper detector: these tests are about running the pipeline, not about finding faces.
DETECTOR = "haar"


def real_clip(name):
    path = REAL / name
    if not path.is_file():
        pytest.skip(f"{path} not found (real footage lives in ../shared/real)")
    return path


@pytest.fixture(scope="module")
def cluster():
    """The address of a local Dask cluster with two worker processes, one thread each."""
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                                  silence_logs=logging.ERROR) as local:
        yield local.scheduler_address


@pytest.fixture(scope="module")
def clips(tmp_path_factory, face_video, detectable_faces):
    """A folder of three short clips: two moving faces (640x480), one face (320x240), an empty room."""
    folder = tmp_path_factory.mktemp("clips")
    shutil.copy(face_video[0], folder / "two_faces.mp4")
    write_video(folder / "one_face.mp4", [paste_faces(detectable_faces[2:], [(80 + 2 * i, 40, 160, 160)], (320, 240))
                                          for i in range(20)], 10.0)
    write_video(folder / "empty_room.mp4", [np.full((240, 320, 3), BACKGROUND, np.uint8)] * 10, 10.0)
    return folder


def run_video(clip, out, *options):
    """fer_app.video on one clip, in this process -> its output folder."""
    assert video.main([str(clip), "--out", str(out), "--detector", DETECTOR, *map(str, options)]) == 0
    return out


def analyze(paths, out, **options):
    """fer_app.batch.analyze, quietly, with the detector of run_video."""
    return batch.analyze(paths, out, detector=DETECTOR, progress=False, **options)


@pytest.fixture(scope="module")
def sequential(clips, tiny_model_path, tmp_path_factory):
    """{clip stem: the folder fer_app.video wrote for it}, one clip after another."""
    out = tmp_path_factory.mktemp("sequential")
    return {clip.stem: run_video(clip, out / clip.stem, "--model", tiny_model_path)
            for clip in sorted(clips.glob("*.mp4"))}


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def assert_same_outputs(batch_folder, sequential_folder):
    """The batch's folder of a video holds exactly fer_app.video's files, byte for byte, and its manifest."""
    names = sorted(path.name for path in sequential_folder.iterdir())
    assert sorted(path.name for path in batch_folder.iterdir()) == sorted(names + [manifest.MANIFEST])
    for name in names:
        assert (batch_folder / name).read_bytes() == (sequential_folder / name).read_bytes(), name


def assert_rows_match_csv(rows, faces_csv):
    """A video's summary rows say what its per-frame CSV says: frames per face, label shares, mean probabilities."""
    frames = read_csv(faces_csv)
    by_face = {}
    for frame in frames:
        if frame["face_id"]:
            by_face.setdefault(int(frame["face_id"]), []).append(frame)
    assert {row["frames_analysed"] for row in rows} == {len({frame["frame"] for frame in frames})}
    if not by_face:
        assert len(rows) == 1 and rows[0]["face_id"] is None
        return
    assert [row["face_id"] for row in rows] == sorted(by_face)
    for row in rows:
        face = by_face[row["face_id"]]
        assert row["frames_on_screen"] == len(face)
        labels = Counter(frame["label"] for frame in face)
        for emotion in EMOTIONS:
            assert row[f"share_{emotion}"] == pytest.approx(labels[emotion] / len(face), abs=1e-5)
            mean = np.mean([float(frame[f"p_{emotion}"]) for frame in face])
            assert row[f"mean_p_{emotion}"] == pytest.approx(mean, abs=1e-4)


def rows_of(rows, path):
    return [row for row in rows if Path(row["input"]).name == Path(path).name]


# --- the collection and the manifest, without a cluster ------------------------------------------

def test_collect_makes_a_job_per_video_and_one_for_the_images(tmp_path):
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "session.mp4").write_bytes(b"x")
    (tmp_path / "a" / "photo.JPG").write_bytes(b"x")
    (tmp_path / "a" / ".hidden.mp4").write_bytes(b"x")
    (tmp_path / "a" / "notes.txt").write_bytes(b"x")
    (tmp_path / "empty").mkdir()
    jobs, bad = collect([tmp_path / "a", tmp_path / "b", tmp_path / "a" / "session.mp4", tmp_path / "empty",
                         tmp_path / "missing.mp4"])
    assert [(job.kind, job.name) for job in jobs] == [("video", "session"), ("video", "session-2"), ("image", "images")]
    assert jobs[1].sources == ((tmp_path / "b" / "session.mp4").resolve(),)
    assert jobs[2].sources == ((tmp_path / "a" / "photo.JPG").resolve(),)
    assert jobs[0].folder(tmp_path / "out") != jobs[1].folder(tmp_path / "out")
    assert [bad_input.error for bad_input in bad] == [f"{tmp_path / 'empty'}: no videos or images in this folder",
                                                      f"{tmp_path / 'missing.mp4'}: no such file or folder"]


def test_manifest_says_complete_only_for_the_same_inputs_model_settings_and_outputs(tmp_path):
    source, folder = tmp_path / "clip.mp4", tmp_path / "out"
    source.write_bytes(b"video")
    folder.mkdir()
    (folder / "clip.faces.csv").write_text("frame\n0\n")
    settings = batch.pipeline_settings()
    assert manifest.completed_rows(folder, [source], "sha", settings) is None
    manifest.finish(folder, [source], "sha", settings, [folder / "clip.faces.csv"], [{"input": str(source)}])
    assert manifest.completed_rows(folder, [source], "sha", settings) == [{"input": str(source)}]
    assert manifest.completed_rows(folder, [source], "other model", settings) is None
    assert manifest.completed_rows(folder, [source], "sha", batch.pipeline_settings(smoothing=0.0)) is None
    (folder / "clip.faces.csv").write_text("frame\n")
    assert manifest.completed_rows(folder, [source], "sha", settings) is None
    (folder / "clip.faces.csv").write_text("frame\n0\n")
    source.write_bytes(b"other")
    assert manifest.completed_rows(folder, [source], "sha", settings) is None


def test_unknown_options_and_bad_sampling_are_refused():
    with pytest.raises(TypeError, match="detect_evry"):
        batch.pipeline_settings(detect_evry=2)
    with pytest.raises(batch.AppError, match="more than 0"):
        batch.pipeline_settings(sample_fps=0)


# --- on the cluster -------------------------------------------------------------------------------

def test_outputs_equal_sequential_video_runs(cluster, clips, sequential, tiny_model_path, tmp_path):
    out = tmp_path / "out"
    rows = analyze([clips], out, scheduler=cluster, model=tiny_model_path)
    assert {row["status"] for row in rows} == {"done"}
    for stem, folder in sequential.items():
        assert_same_outputs(out / "videos" / stem, folder)
        assert_rows_match_csv(rows_of(rows, f"{stem}.mp4"), folder / f"{stem}.faces.csv")
    assert [row["face_id"] for row in rows_of(rows, "two_faces.mp4")] == [1, 2]
    written = read_csv(out / "summary.csv")
    assert len(written) == len(rows) and written[0]["input"] == rows[0]["input"]


def test_sampling_keeps_true_frame_indices(cluster, clips, tiny_model_path, tmp_path):
    clip = clips / "two_faces.mp4"   # 15 frames/s: every third frame at 5
    rows = analyze([clip], tmp_path / "batch", scheduler=cluster, model=tiny_model_path, sample_fps=5)
    expected = run_video(clip, tmp_path / "sequential", "--model", tiny_model_path, "--sample-fps", 5)
    assert_same_outputs(tmp_path / "batch" / "videos" / "two_faces", expected)
    frames = read_csv(expected / "two_faces.faces.csv")
    assert sorted({int(frame["frame"]) for frame in frames}) == list(range(0, 30, 3))
    assert all(float(frame["time_s"]) == pytest.approx(int(frame["frame"]) / 15, abs=1e-3) for frame in frames)
    assert {row["frames_analysed"] for row in rows} == {10} and {row["video_seconds"] for row in rows} == {2.0}


def test_real_clips_sampled_equal_sequential_runs(cluster, tiny_model_path, tmp_path):
    clips = [real_clip("talk_short.mp4"), real_clip("talk_cut.mp4")]   # 24.7 and 29.97 frames/s
    rows = analyze(clips, tmp_path / "batch", scheduler=cluster, model=tiny_model_path, sample_fps=4)
    for clip in clips:
        expected = run_video(clip, tmp_path / "sequential" / clip.stem, "--model", tiny_model_path, "--sample-fps", 4)
        assert_same_outputs(tmp_path / "batch" / "videos" / clip.stem, expected)
        assert_rows_match_csv(rows_of(rows, clip), expected / f"{clip.stem}.faces.csv")
    frames = read_csv(tmp_path / "batch" / "videos" / "talk_cut" / "talk_cut.faces.csv")
    indices = sorted({int(frame["frame"]) for frame in frames})
    assert indices[0] == 0 and len(indices) == 62 and set(np.diff(indices)) == {7, 8}   # 464 frames, every 7.49th
    assert all(float(frame["time_s"]) == pytest.approx(int(frame["frame"]) / 29.97, abs=2e-3) for frame in frames)


class KillMidVideo(distributed.WorkerPlugin):
    """Kills its worker process with SIGKILL, as the out-of-memory killer would, once per cluster: as soon as a
    video this worker is analysing has its annotated video half written."""

    def __init__(self, out, marker):
        self.out, self.marker = Path(out), Path(marker)

    def setup(self, worker):
        self.running = set()
        threading.Thread(target=self._watch, daemon=True).start()

    def transition(self, key, start, finish, **kwargs):
        if finish == "executing":
            self.running.add(key)
        elif start == "executing":
            self.running.discard(key)

    def _watch(self):
        while not self.marker.exists():
            for folder in list((self.out / "videos").glob("*")):
                mine = any(key.startswith(f"video-{folder.name}-") for key in list(self.running))
                if mine and any(folder.glob(".*.partial.mp4")):
                    try:
                        with open(self.marker, "x") as f:
                            f.write(folder.name)
                    except FileExistsError:
                        return
                    os.kill(os.getpid(), signal.SIGKILL)
            time.sleep(0.005)


def test_a_worker_killed_mid_video_still_gives_a_complete_result(cluster, clips, sequential, tiny_model_path,
                                                                 tmp_path):
    out, marker = tmp_path / "out", tmp_path / "killed"
    with distributed.Client(cluster) as client:
        client.register_plugin(KillMidVideo(out, marker), name="kill-mid-video")
        try:
            rows = analyze([clips], out, scheduler=cluster, model=tiny_model_path)
        finally:
            client.unregister_worker_plugin("kill-mid-video")
    assert marker.exists(), "no worker was killed"
    assert {row["status"] for row in rows} == {"done"}
    for stem, folder in sequential.items():
        assert_same_outputs(out / "videos" / stem, folder)   # nothing left over from the killed attempt


def test_a_second_run_skips_what_is_done(cluster, clips, tiny_model_path, tmp_path):
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    for name in ("one_face.mp4", "empty_room.mp4"):
        shutil.copy(clips / name, inputs / name)
    cv2.imwrite(str(inputs / "still.png"), paste_faces([], []))
    out = tmp_path / "out"
    first = analyze([inputs], out, scheduler=cluster, model=tiny_model_path)
    manifests = sorted(out.rglob(manifest.MANIFEST))
    assert len(manifests) == 3

    def stamps():
        return {path: path.stat().st_mtime_ns for path in manifests}

    before = stamps()
    # Nothing to do, so no cluster is needed: an address nobody listens on proves none is asked.
    again = analyze([inputs], out, scheduler="tcp://127.0.0.1:9", model=tiny_model_path)
    assert again == first and stamps() == before

    os.utime(inputs / "one_face.mp4", ns=(time.time_ns(), time.time_ns()))
    analyze([inputs], out, scheduler=cluster, model=tiny_model_path)
    changed = {path.parent.name for path, stamp in stamps().items() if stamp != before[path]}
    assert changed == {"one_face"}

    before = stamps()
    analyze([inputs], out, scheduler=cluster, model=tiny_model_path, force=True)
    assert all(stamp != before[path] for path, stamp in stamps().items())


def test_a_corrupt_clip_is_a_failed_row_and_the_rest_go_on(clips, tiny_model_path, tmp_path):
    """The command, on a local cluster of its own."""
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    shutil.copy(clips / "empty_room.mp4", inputs / "empty_room.mp4")
    whole = (clips / "two_faces.mp4").read_bytes()
    (inputs / "truncated.mp4").write_bytes(whole[:len(whole) // 2])
    (inputs / "garbage.avi").write_bytes(b"this is not a video" * 10)
    out = tmp_path / "out"
    result = run_command("fer_app.batch", inputs, tmp_path / "missing", "--out", out, "--model", tiny_model_path,
                         "--detector", DETECTOR, "--workers", 1)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == f"error: 3 of 4 inputs failed (see {out / 'summary.csv'})"
    rows = {Path(row["input"]).name: row for row in read_csv(out / "summary.csv")}
    assert rows["empty_room.mp4"]["status"] == "done"
    for name in ("truncated.mp4", "garbage.avi"):
        assert rows[name]["status"] == "failed" and rows[name]["error"].endswith(f"{name}: not a readable video")
    assert rows["missing"]["error"].endswith("missing: no such file or folder")
    assert sorted(path.name for path in (out / "videos").iterdir()) == ["empty_room"]
    assert "Dask dashboard: http://" in result.stdout


def test_bad_usage_is_one_line_before_any_work(clips, tiny_model_path, tmp_path, capfd):
    out = tmp_path / "out"
    code, _, err = run_main(batch.main, [clips, "--out", out, "--model", tmp_path / "nothing.npz"], capfd)
    assert_one_line_error(code, err, "nothing.npz")
    code, _, err = run_main(batch.main, [clips, "--out", out, "--model", tiny_model_path, "--workers", 2,
                                         "--scheduler", "tcp://127.0.0.1:9"], capfd)
    assert_one_line_error(code, err, "--workers")
    assert not out.exists()


def test_a_job_for_a_missing_file_fails_alone(tmp_path, tiny_model_path):
    """run_job, the task body, without a cluster: a file gone since the collection was made is a failed row."""
    from fer_app.batch_job import run_job
    from fer_app.model_store import sha256_of
    job = Job("video", "gone", (tmp_path / "gone.mp4",))
    result = run_job(job, tmp_path / "out", batch.pipeline_settings(model=str(tiny_model_path)),
                     sha256_of(tiny_model_path))
    assert result["frames"] == 0 and [row["status"] for row in result["rows"]] == ["failed"]
    assert result["rows"][0]["error"] == f"{tmp_path / 'gone.mp4'}: no such video file"
    assert not (tmp_path / "out" / "videos" / "gone").exists()
