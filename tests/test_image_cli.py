"""python -m fer_app.image (and fer_app.demo): real faces in, annotated images and JSON records out."""
import json
import subprocess
import sys

import cv2
import numpy as np
import pytest
from tests.app_helpers import REPO, SCENE_FACE, assert_one_line_error, paste_faces, run_command, run_main

from data_tools.labels import EMOTIONS
from fer_app import demo, image
from fer_app.tracking import iou
from minicnn import Sequential

FACE_BOX = (120, 80, 200, 200)


@pytest.fixture
def face_photo(tmp_path, detectable_faces):
    """A 640x480 JPEG of one real face at FACE_BOX."""
    path = tmp_path / "inputs" / "portrait.jpg"
    path.parent.mkdir()
    cv2.imwrite(str(path), paste_faces(detectable_faces[:1], [FACE_BOX]))
    return path


def read_records(out):
    return json.loads((out / image.RECORDS_FILE).read_text())


def assert_valid_record(record):
    assert set(record) == {"file", "box", "label", "probs"}
    assert list(record["probs"]) == list(EMOTIONS)
    assert all(0 <= p <= 1 for p in record["probs"].values())
    assert sum(record["probs"].values()) == pytest.approx(1, abs=1e-4)
    assert record["label"] == max(record["probs"], key=record["probs"].get)


def test_finds_the_face_in_a_photo_and_writes_image_and_json(face_photo, tmp_path, tiny_model_path):
    out = tmp_path / "out"
    result = run_command("fer_app.image", face_photo, "--out", out, "--model", tiny_model_path)
    assert result.returncode == 0, result.stderr
    assert "portrait.jpg: 1 face" in result.stdout
    (record,) = read_records(out)
    assert_valid_record(record)
    assert record["file"] == str(face_photo) and iou(record["box"], FACE_BOX) > 0.5
    annotated = cv2.imread(str(out / "portrait.annotated.jpg"))
    assert annotated.shape == (480, 640, 3)
    assert not np.array_equal(annotated, cv2.imread(str(face_photo)))   # the box and label were drawn


def test_finds_the_astronaut(tmp_path, tiny_model_path, capfd):
    skimage_data = pytest.importorskip("skimage.data")
    photo = tmp_path / "astronaut.png"
    cv2.imwrite(str(photo), skimage_data.astronaut()[:, :, ::-1])
    code, out, _ = run_main(image.main, [photo, "--out", tmp_path / "out", "--model", tiny_model_path], capfd)
    assert code == 0 and "astronaut.png: 1 face" in out
    (record,) = read_records(tmp_path / "out")
    assert iou(record["box"], (177, 66, 95, 95)) > 0.6


def test_a_folder_with_and_without_faces(tmp_path, detectable_faces, tiny_model_path, capfd):
    folder = tmp_path / "photos"
    folder.mkdir()
    cv2.imwrite(str(folder / "b_two.png"), paste_faces(detectable_faces[1:3], [(20, 60, 220, 220),
                                                                                  (380, 200, SCENE_FACE, SCENE_FACE)]))
    cv2.imwrite(str(folder / "a_empty.png"), np.full((240, 320, 3), 150, np.uint8))
    (folder / "notes.txt").write_text("not an image: ignored in a folder")
    out = tmp_path / "out"
    code, stdout, _ = run_main(image.main, [folder, "--out", out, "--model", tiny_model_path], capfd)
    assert code == 0
    assert "a_empty.png: no face found" in stdout and "b_two.png: 2 faces" in stdout
    records = read_records(out)
    assert [record["file"] for record in records] == [str(folder / "b_two.png")] * 2
    assert sorted(p.name for p in out.iterdir()) == ["a_empty.annotated.png", "b_two.annotated.png", "faces.json"]


def test_no_detect_treats_each_image_as_a_face(tmp_path, fer2013_dir, tiny_model_path, capfd):
    folder = fer2013_dir / "validation" / "disgust"
    out = tmp_path / "out"
    code, _, _ = run_main(image.main, [folder, "--no-detect", "--out", out, "--model", tiny_model_path], capfd)
    assert code == 0
    records = read_records(out)
    assert len(records) == len(list(folder.glob("*.jpg")))
    assert all(record["box"] == [0, 0, 48, 48] for record in records)
    model = Sequential.load(tiny_model_path)
    face = cv2.imread(records[0]["file"], cv2.IMREAD_GRAYSCALE)
    tensor = face[None, None].astype(np.float32) / 255
    expected = (model.predict_proba(tensor)[0] + model.predict_proba(tensor[..., ::-1].copy())[0]) / 2   # + mirror
    np.testing.assert_allclose(list(records[0]["probs"].values()), expected, atol=1e-5)


def test_inputs_with_the_same_name_get_separate_outputs(tmp_path, face_photo, tiny_model_path, capfd):
    other = tmp_path / "other" / face_photo.name
    other.parent.mkdir()
    other.write_bytes(face_photo.read_bytes())
    out = tmp_path / "out"
    code, _, _ = run_main(image.main, [face_photo, other, "--out", out, "--model", tiny_model_path], capfd)
    assert code == 0
    assert {"portrait.annotated.jpg", "portrait.annotated-2.jpg"} <= {p.name for p in out.iterdir()}


# --- bad input: one line, non-zero exit, nothing left behind --------------------------------------

def bad_inputs(tmp_path, tiny_model_path):
    """name -> (command-line arguments, a fragment of the expected message)."""
    text_file = tmp_path / "text.jpg"
    text_file.write_text("this is not a picture")
    empty_file = tmp_path / "empty.png"
    empty_file.write_bytes(b"")
    empty_folder = tmp_path / "no_images"
    empty_folder.mkdir()
    (empty_folder / "readme.txt").write_text("no images here")
    model = Sequential.load(tiny_model_path)
    model.meta["classes"] = ["happy", "sad"]
    wrong_model = tmp_path / "two_classes.npz"
    model.save(wrong_model)
    broken_model = tmp_path / "broken.npz"
    broken_model.write_bytes(tiny_model_path.read_bytes()[:200])
    photo = tmp_path / "ok.png"
    cv2.imwrite(str(photo), np.full((64, 64, 3), 100, np.uint8))
    return {
        "missing image": ([tmp_path / "absent.jpg"], "no such file or folder"),
        "unreadable image": ([text_file], "not a readable image"),
        "empty image file": ([empty_file], "empty file"),
        "folder without images": ([empty_folder], "no images in this folder"),
        "model for other classes": ([photo, "--model", wrong_model], "classes"),
        "truncated model file": ([photo, "--model", broken_model], "broken.npz"),
        "missing model file": ([photo, "--model", tmp_path / "absent.npz"], "no such file"),
    }


@pytest.mark.parametrize("case", ["missing image", "unreadable image", "empty image file", "folder without images",
                                  "model for other classes", "truncated model file", "missing model file"])
def test_bad_input_is_one_line_and_a_non_zero_exit(case, tmp_path, tiny_model_path, capfd):
    args, message = bad_inputs(tmp_path, tiny_model_path)[case]
    if "--model" not in args:
        args = [*args, "--model", tiny_model_path]
    out = tmp_path / "out"
    code, _, err = run_main(image.main, [*args, "--out", out], capfd)
    assert_one_line_error(code, err, message)
    assert not out.exists() or not any(out.iterdir())


def test_bad_input_in_a_fresh_process(tmp_path, tiny_model_path):
    text_file = tmp_path / "text.jpg"
    text_file.write_text("this is not a picture")
    result = run_command("fer_app.image", text_file, "--out", tmp_path / "out", "--model", tiny_model_path)
    assert_one_line_error(result.returncode, result.stderr, "text.jpg: not a readable image")


def test_a_failure_midway_removes_what_the_run_wrote(tmp_path, face_photo, tiny_model_path, capfd):
    unreadable = face_photo.parent / "z_broken.jpg"
    unreadable.write_bytes(face_photo.read_bytes()[:100])
    out = tmp_path / "out"
    code, stdout, err = run_main(image.main, [face_photo.parent, "--out", out, "--model", tiny_model_path], capfd)
    assert "portrait.jpg: 1 face" in stdout   # the first image was done...
    assert_one_line_error(code, err, "z_broken.jpg")
    assert not any(out.iterdir())             # ...and removed with the rest of the run's output


def test_a_failed_rerun_leaves_the_previous_complete_output(tmp_path, face_photo, tiny_model_path, capfd):
    out = tmp_path / "out"
    code, _, _ = run_main(image.main, [face_photo, "--out", out, "--model", tiny_model_path], capfd)
    assert code == 0
    before = {path.name: path.read_bytes() for path in out.iterdir()}
    assert set(before) == {"portrait.annotated.jpg", image.RECORDS_FILE}
    unreadable = face_photo.parent / "z_broken.jpg"
    unreadable.write_bytes(face_photo.read_bytes()[:100])
    code, _, err = run_main(image.main, [face_photo.parent, "--out", out, "--model", tiny_model_path], capfd)
    assert_one_line_error(code, err, "z_broken.jpg")
    assert {path.name: path.read_bytes() for path in out.iterdir()} == before


# --- the demo ----------------------------------------------------------------------------------

def test_demo_annotates_the_astronaut(tmp_path, tiny_model_path, capfd):
    pytest.importorskip("skimage.data")
    code, stdout, _ = run_main(demo.main, ["--out", tmp_path, "--model", tiny_model_path], capfd)
    assert code == 0 and "astronaut.png: 1 face" in stdout
    assert cv2.imread(str(tmp_path / "astronaut.annotated.png")).shape == (512, 512, 3)
    assert len(read_records(tmp_path)) == 1


def test_demo_without_scikit_image_says_what_to_install(tmp_path, tiny_model_path, capfd, monkeypatch):
    monkeypatch.setitem(sys.modules, "skimage.data", None)   # makes the import fail
    code, _, err = run_main(demo.main, ["--out", tmp_path, "--model", tiny_model_path], capfd)
    assert_one_line_error(code, err, 'pip install -e ".[demo]"')


def png_declaring(width, height):
    """A small PNG whose header declares width x height gray pixels (all zero, so it compresses to little)."""
    import struct
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    compressor = zlib.compressobj(9)
    row = bytes(width + 1)
    data = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", data) + chunk(b"IEND", b""))


def test_an_image_of_too_many_pixels_is_refused_before_decoding(tmp_path):
    """A 200 KB file declaring 10000 x 10000 pixels: refused from its header, in a fresh process
    (OpenCV reads its limit when it loads), with the limit lowered to 50 megapixels."""
    import os
    import time
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(png_declaring(10_000, 10_000))
    assert bomb.stat().st_size < 300_000
    env = dict(os.environ, OPENCV_IO_MAX_IMAGE_PIXELS=str(50_000_000))
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "fer_app.image", str(bomb), "--out", str(tmp_path / "out")],
                            capture_output=True, text=True, env=env, cwd=REPO, timeout=120)
    assert result.returncode != 0
    assert "more than 50,000,000 pixels" in result.stderr and "Traceback" not in result.stderr
    assert time.monotonic() - started < 60


@pytest.mark.parametrize("extension", [".webp", ".tiff"])
def test_folders_take_every_format_a_named_file_takes(tmp_path, extension, tiny_model_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    assert cv2.imwrite(str(folder / f"face{extension}"), np.full((64, 64, 3), 128, np.uint8))
    result = run_command("fer_app.image", folder, "--no-detect", "--out", tmp_path / "out", "--model", tiny_model_path)
    assert result.returncode == 0, result.stderr
    assert f"face{extension}" in (tmp_path / "out" / "faces.json").read_text()
