"""Every command against hostile inputs, each in a fresh process under a memory cap.

The generators below make bad model files, images and videos; every command must answer
each with a non-zero exit and at most one 'error:' line on stderr (argparse's usage
errors aside, which name the option), no traceback, nothing allocated beyond the cap,
outputs written before left as they were, and the shipped models still loadable.
"""
import json
import os
import resource
import subprocess
import sys

import numpy as np
import pytest

from fer_app.model_store import SHIPPED_MODELS, load_model
from tests.app_helpers import REPO
from tests.test_image_cli import png_declaring
from tests.test_model_files import BAD_ARRAYS, BAD_CONFIGS, good_config, with_config

MEMORY_CAP = 3 << 30     # address space: numba's compiler and OpenBLAS need some; a decoded bomb needs far more


def capped():
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))


def run_capped(module, *args, env=None):
    environment = dict(os.environ, PYTHONPATH=str(REPO), NUMBA_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1",
                       **(env or {}))
    return subprocess.run([sys.executable, "-m", module, *map(str, args)], cwd=REPO, env=environment,
                          capture_output=True, text=True, timeout=300, preexec_fn=capped)


def assert_refused(result, *fragments):
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr and "Segmentation" not in result.stderr, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ") or ": error: " in line]
    assert len(errors) == 1, result.stderr
    for fragment in fragments:
        assert fragment in errors[0], errors[0]


# --- generators -----------------------------------------------------------------------

HOSTILE_MODELS = ["huge dense layer", "astronomical dense layer", "a list", "layer as a string", "kernel size 0",
                  "meta a list", "int32 weights", "string weights", "pickled", "random bytes", "empty"]


def hostile_model(folder, name):
    path = folder / f"{name.replace(' ', '_')}.npz"
    if name in BAD_CONFIGS:
        return with_config(path, BAD_CONFIGS[name])
    if name in BAD_ARRAYS:
        return with_config(path, good_config(), BAD_ARRAYS[name])
    if name == "pickled":
        np.save(path.with_suffix(".npy"), np.array([{"config": 1}], dtype=object), allow_pickle=True)
        os.replace(path.with_suffix(".npy"), path)
    else:
        path.write_bytes(os.urandom(2048) if name == "random bytes" else b"")
    return path


HOSTILE_IMAGES = {
    "a header declaring 10000 x 10000 pixels": lambda: png_declaring(10_000, 10_000),
    "random bytes": lambda: os.urandom(5000),
    "empty": lambda: b"",
    "a truncated JPEG": lambda: b"\xff\xd8\xff\xe0" + os.urandom(300),
}

HOSTILE_VIDEOS = {
    "random bytes": lambda: os.urandom(20_000),
    "empty": lambda: b"",
    "an MP4 header and nothing else": lambda: b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom",
}


# --- the tests ------------------------------------------------------------------------

@pytest.mark.parametrize("name", HOSTILE_MODELS)
def test_commands_refuse_hostile_model_files(tmp_path, name, face_video):
    model = hostile_model(tmp_path, name)
    result = run_capped("fer_app.video", face_video[0], "--out", tmp_path / "out", "--model", model,
                        "--detector", "haar")
    assert_refused(result, str(model))
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


@pytest.mark.parametrize("name", HOSTILE_IMAGES)
def test_image_command_refuses_hostile_images_and_keeps_earlier_outputs(tmp_path, name, tiny_model_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "faces.json").write_text("[]")          # an earlier run's output
    photo = tmp_path / "photo.png"
    photo.write_bytes(HOSTILE_IMAGES[name]())
    result = run_capped("fer_app.image", photo, "--out", out, "--model", tiny_model_path,
                        env={"OPENCV_IO_MAX_IMAGE_PIXELS": str(50_000_000)})
    assert_refused(result, str(photo))
    assert (out / "faces.json").read_text() == "[]"


@pytest.mark.parametrize("name", HOSTILE_VIDEOS)
@pytest.mark.parametrize("command", ["fer_app.video", "fer_app.webcam"])
def test_video_commands_refuse_hostile_videos(tmp_path, name, command, tiny_model_path):
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(HOSTILE_VIDEOS[name]())
    args = [clip, "--out", tmp_path / "out"] if command == "fer_app.video" else ["--source", clip, "--no-window"]
    result = run_capped(command, *args, "--model", tiny_model_path)
    assert_refused(result, str(clip))


@pytest.mark.parametrize("option, value", [("--scale-factor", "inf"), ("--scale-factor", "nan"),
                                           ("--min-neighbors", "99999999999"), ("--face-threshold", "nan"),
                                           ("--min-face", "-5"), ("--detect-width", "0"), ("--camera", "-1"),
                                           ("--camera", "99999999999"), ("--smoothing", "inf"),
                                           ("--detect-every", "0")])
def test_numeric_options_out_of_range_are_refused_before_opencv_sees_them(tmp_path, option, value, tiny_model_path):
    result = run_capped("fer_app.webcam", "--no-window", option, value, "--model", tiny_model_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and option.lstrip("-").split("-")[0] in result.stderr


def test_the_shipped_models_survive_all_of_it():
    for name in SHIPPED_MODELS:
        assert load_model(name).meta["classes"]
    record = json.loads((REPO / "fer_app" / "weights" / "report_cnn.json").read_text())
    assert record["params"] == 1_375_175
