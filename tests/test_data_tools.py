"""data_tools.fer2013 and its import command, on small data sets each test writes itself."""
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from data_tools.errors import DataError
from data_tools.fer2013 import list_splits, load_all, load_cache, load_split, save_cache
from data_tools.import_fer2013 import format_skipped
from data_tools.labels import EMOTIONS
from data_tools.preprocess import to_gray, to_input_size

REPO_ROOT = Path(__file__).resolve().parents[1]

# The original fer2013.csv numbering, written out here independently of data_tools so a
# wrong mapping there cannot cancel out in the test.
CSV_NUMBER = {"angry": 0, "disgust": 1, "fear": 2, "happy": 3, "sad": 4, "surprise": 5, "neutral": 6}
CSV_USAGE = {"train": "Training", "validation": "PublicTest", "test": "PrivateTest"}

# From /work/shared/fer2013/README.md.
REAL_VALIDATION_COUNTS = {"angry": 467, "disgust": 56, "fear": 496, "happy": 895,
                          "neutral": 607, "sad": 653, "surprise": 415}


@pytest.fixture
def faces():
    """{split: [(class name, face uint8 (48, 48))]}: two faces per class in train, one in validation."""
    rng = np.random.default_rng(0)
    return {"train": [(name, rng.integers(0, 256, (48, 48), dtype=np.uint8)) for name in EMOTIONS for _ in range(2)],
            "validation": [(name, rng.integers(0, 256, (48, 48), dtype=np.uint8)) for name in EMOTIONS]}


def write_folders(root, faces, class_folder_name=str):
    """faces -> <root>/<split>/<class folder>/NNN.png (lossless, so pixels survive exactly)."""
    for split, items in faces.items():
        for i, (name, face) in enumerate(items):
            folder = root / split / class_folder_name(name)
            folder.mkdir(parents=True, exist_ok=True)
            assert cv2.imwrite(str(folder / f"{i:03d}.png"), face)
    return root


def write_csv(path, faces, extra_lines=()):
    """faces -> fer2013.csv with the CSV's own class numbers and Usage names."""
    lines = ["emotion,pixels,Usage"]
    for split, items in faces.items():
        lines += [f"{CSV_NUMBER[name]},{' '.join(map(str, face.ravel()))},{CSV_USAGE[split]}" for name, face in items]
    path.write_text("\n".join([*lines, *extra_lines]) + "\n")
    return path


def canonical(images, labels):
    """Sort by label, then pixels: sources may order images differently, the content must match."""
    order = sorted(range(len(labels)), key=lambda i: (labels[i], images[i].tobytes()))
    return images[order], labels[order]


def expected(items):
    """[(class name, face)] -> canonical (images, labels) as a reader should return them."""
    images = np.array([face for _, face in items], dtype=np.uint8)
    labels = np.array([EMOTIONS.index(name) for name, _ in items], dtype=np.int64)
    return canonical(images, labels)


def assert_same_data(data, other):
    assert sorted(data) == sorted(other)
    for split in data:
        for ours, theirs in zip(canonical(*data[split]), canonical(*other[split])):
            np.testing.assert_array_equal(ours, theirs)


@pytest.fixture
def sources(tmp_path, faces):
    """The same faces as image folders, as fer2013.csv and as a cache .npz."""
    folder = write_folders(tmp_path / "fer2013", faces)
    cache = tmp_path / "cache.npz"
    save_cache(cache, load_all(folder)[0])
    return {"folder": folder, "csv": write_csv(tmp_path / "fer2013.csv", faces), "cache": cache}


# --- reading -------------------------------------------------------------------------

def test_split_folders_give_uint8_faces_and_labels_in_emotions_order(sources, faces):
    data, report = load_all(sources["folder"])

    assert sorted(data) == ["train", "validation"]
    for split, items in faces.items():
        images, labels = data[split]
        assert images.dtype == np.uint8 and images.shape == (len(items), 48, 48)
        assert labels.dtype == np.int64 and labels.shape == (len(items),)
        for ours, theirs in zip(canonical(images, labels), expected(items)):
            np.testing.assert_array_equal(ours, theirs)
    assert report.counts["train"] == {name: 2 for name in EMOTIONS}
    assert report.counts["validation"] == {name: 1 for name in EMOTIONS}
    assert report.converted == 0 and report.skipped == []


def test_a_folder_of_class_folders_is_one_split_named_after_it(sources):
    train_only = sources["folder"] / "train"
    data, _ = load_all(train_only)
    assert list(data) == ["train"]
    assert_same_data(data, {"train": load_split(sources["folder"], "train")})


def test_split_names_are_the_lower_cased_folder_names(tmp_path, faces):
    renamed = {"PublicTest": faces["validation"], "val": faces["validation"], "Train": faces["train"]}
    root = write_folders(tmp_path / "fer2013", renamed)
    assert list_splits(root) == ["publictest", "train", "val"]


def test_class_folders_match_case_insensitively(sources, tmp_path, faces):
    shouting = write_folders(tmp_path / "upper", faces, class_folder_name=str.upper)
    capitalised = write_folders(tmp_path / "capitalised", faces, class_folder_name=str.capitalize)
    reference, _ = load_all(sources["folder"])
    assert_same_data(load_all(shouting)[0], reference)
    assert_same_data(load_all(capitalised)[0], reference)


def test_csv_and_folders_give_identical_images_and_labels(sources):
    from_csv, report = load_all(sources["csv"])
    assert_same_data(from_csv, load_all(sources["folder"])[0])
    assert report.counts["validation"] == {name: 1 for name in EMOTIONS}


def test_csv_usage_maps_to_train_validation_test(tmp_path, faces):
    csv_path = write_csv(tmp_path / "fer2013.csv", {**faces, "test": faces["validation"]})
    assert list_splits(csv_path) == ["test", "train", "validation"]


@pytest.mark.parametrize("kind", ["folder", "csv", "cache"])
def test_load_split_gives_the_same_split_from_every_source(sources, faces, kind):
    images, labels = load_split(sources[kind], "validation")
    for ours, theirs in zip(canonical(images, labels), expected(faces["validation"])):
        np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("kind", ["folder", "csv", "cache"])
def test_a_missing_split_is_an_error_listing_the_available_ones(sources, kind):
    with pytest.raises(DataError, match="no split 'test'; available: train, validation"):
        load_split(sources[kind], "test")


def test_load_split_reads_only_its_split(sources):
    (sources["folder"] / "train" / "angry" / "broken.jpg").write_bytes(b"not an image")
    images, _ = load_split(sources["folder"], "validation", strict=True)
    assert len(images) == len(EMOTIONS)


# --- odd and broken input ------------------------------------------------------------

def test_images_that_are_not_48x48_gray_are_converted_and_counted(tmp_path):
    rng = np.random.default_rng(1)
    colour = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    colour_right_size = rng.integers(0, 256, (48, 48, 3), dtype=np.uint8)
    large_gray = rng.integers(0, 256, (100, 80), dtype=np.uint8)
    ordinary = rng.integers(0, 256, (48, 48), dtype=np.uint8)
    for folder in ("happy", "sad", "fear", "angry"):
        (tmp_path / "faces" / folder).mkdir(parents=True)
    cv2.imwrite(str(tmp_path / "faces" / "happy" / "colour.png"), colour)
    cv2.imwrite(str(tmp_path / "faces" / "sad" / "large.png"), large_gray)
    cv2.imwrite(str(tmp_path / "faces" / "angry" / "colour.png"), colour_right_size)
    cv2.imwrite(str(tmp_path / "faces" / "fear" / "ordinary.bmp"), ordinary)
    (tmp_path / "faces" / "fear" / "notes.txt").write_text("not an image, ignored")

    data, report = load_all(tmp_path / "faces")

    images, labels = data["faces"]
    assert report.converted == 3 and report.skipped == []
    by_label = dict(zip(labels.tolist(), images))
    np.testing.assert_array_equal(by_label[EMOTIONS.index("happy")], to_input_size(to_gray(colour)))
    np.testing.assert_array_equal(by_label[EMOTIONS.index("sad")], to_input_size(large_gray))
    np.testing.assert_array_equal(by_label[EMOTIONS.index("angry")], to_gray(colour_right_size))
    np.testing.assert_array_equal(by_label[EMOTIONS.index("fear")], ordinary)


def test_corrupt_files_are_skipped_and_named(sources):
    happy = sources["folder"] / "train" / "happy"
    (happy / "garbage.jpg").write_bytes(np.random.default_rng(2).integers(0, 256, 500, dtype=np.uint8).tobytes())
    (happy / "empty.png").write_bytes(b"")

    data, report = load_all(sources["folder"])

    assert report.counts["train"]["happy"] == 2
    assert len(data["train"][1]) == 2 * len(EMOTIONS)
    assert len(report.skipped) == 2
    assert any("garbage.jpg" in entry for entry in report.skipped)
    assert any("empty.png" in entry and "empty file" in entry for entry in report.skipped)
    with pytest.warns(UserWarning, match="skipped 2"):
        load_split(sources["folder"], "train")


def test_corrupt_files_are_rejected_under_strict(sources):
    (sources["folder"] / "train" / "sad" / "garbage.jpg").write_bytes(b"\xff\xd8 truncated")
    with pytest.raises(DataError, match="garbage.jpg"):
        load_all(sources["folder"], strict=True)


def test_malformed_csv_rows_are_skipped_with_their_line_numbers(tmp_path, faces):
    good_rows = sum(len(items) for items in faces.values())
    first_bad = good_rows + 2   # after the header and the good rows
    csv_path = write_csv(tmp_path / "fer2013.csv", faces, extra_lines=[
        "3,1 2 3,Training",                         # too few pixels
        f"3,{' '.join(['7'] * 2303)} x,Training",   # not a number
        f"3,{' '.join(['300'] * 2304)},Training",   # not a byte
        "3,Training",                               # a column missing
    ])

    data, report = load_all(csv_path)

    assert len(data["train"][1]) == len(faces["train"])
    assert [entry.split(":")[0] for entry in report.skipped] == [
        f"{csv_path} line {line}" for line in range(first_bad, first_bad + 4)]
    with pytest.raises(DataError, match=f"line {first_bad}: 3 pixels"):
        load_all(csv_path, strict=True)


def test_an_unknown_class_folder_is_an_error_naming_it(sources):
    (sources["folder"] / "train" / "contempt").mkdir()
    with pytest.raises(DataError, match="unknown class folder .*contempt"):
        load_all(sources["folder"])


def test_an_unknown_csv_label_is_an_error_naming_it(tmp_path, faces):
    csv_path = write_csv(tmp_path / "fer2013.csv", faces, extra_lines=[f"7,{' '.join(['0'] * 2304)},Training"])
    with pytest.raises(DataError, match="unknown CSV label 7"):
        load_all(csv_path)


def test_unusable_sources_are_one_line_errors(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "notes.txt").write_text("not a data set")
    (tmp_path / "other.csv").write_text("a,b\n1,2\n")
    expected_messages = {
        tmp_path / "absent": "no such file or folder",
        tmp_path / "empty": "no images found",
        tmp_path / "notes.txt": "unknown source type",
        tmp_path / "other.csv": "header lacks emotion, pixels",
    }
    for source, message in expected_messages.items():
        with pytest.raises(DataError, match=message) as raised:
            load_all(source)
        assert "\n" not in str(raised.value)


# --- cache ---------------------------------------------------------------------------

def test_cache_round_trip_loads_without_pickle(sources, tmp_path):
    data, _ = load_all(sources["folder"])
    cache = tmp_path / "out" / "round_trip.npz"
    cache.parent.mkdir()

    save_cache(cache, data)

    assert_same_data(load_cache(cache), data)
    assert [path.name for path in cache.parent.iterdir()] == ["round_trip.npz"]   # no temp file left
    with np.load(cache, allow_pickle=False) as archive:
        assert sorted(archive.files) == ["class_names", "train.images", "train.labels",
                                         "validation.images", "validation.labels"]
        assert tuple(archive["class_names"].tolist()) == EMOTIONS
        assert archive["train.images"].dtype == np.uint8


def test_a_cache_with_another_class_order_is_rejected(tmp_path):
    cache = tmp_path / "alphabet_reversed.npz"
    np.savez(cache, class_names=np.array(EMOTIONS[::-1]),
             **{"train.images": np.zeros((1, 48, 48), np.uint8), "train.labels": np.zeros(1, np.int64)})
    with pytest.raises(DataError, match="class order"):
        load_cache(cache)


def test_a_cache_that_cannot_be_written_is_a_data_error(sources, tmp_path):
    (tmp_path / "a_file").write_text("not a folder")
    with pytest.raises(DataError, match="cannot write"):
        save_cache(tmp_path / "a_file" / "cache.npz", load_all(sources["folder"])[0])


# --- the import command --------------------------------------------------------------

def run_import(*args):
    return subprocess.run([sys.executable, "-m", "data_tools.import_fer2013", *map(str, args)],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)


def test_import_command_writes_the_cache_and_prints_counts(sources, tmp_path):
    cache = tmp_path / "imported.npz"
    result = run_import(sources["csv"], "--out", cache)

    assert result.returncode == 0, result.stderr
    rows = {line.split()[0]: line.split()[1:] for line in result.stdout.splitlines() if line.strip()}
    assert rows["split"] == [*EMOTIONS, "total"]
    assert rows["train"] == ["2"] * len(EMOTIONS) + [str(2 * len(EMOTIONS))]
    assert rows["total"][-1] == str(3 * len(EMOTIONS))
    assert "converted: 0" in result.stdout and "skipped: 0" in result.stdout
    assert_same_data(load_cache(cache), load_all(sources["folder"])[0])


def test_import_command_on_a_missing_path_prints_one_error_line(tmp_path):
    result = run_import(tmp_path / "absent", "--out", tmp_path / "cache.npz")

    assert result.returncode != 0
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "cache.npz").exists()


def test_import_command_under_strict_names_the_corrupt_file(sources, tmp_path):
    (sources["folder"] / "validation" / "fear" / "garbage.jpg").write_bytes(b"garbage")
    result = run_import(sources["folder"], "--out", tmp_path / "cache.npz", "--strict")

    assert result.returncode != 0
    assert result.stderr.startswith("error: ") and "garbage.jpg" in result.stderr
    assert "Traceback" not in result.stderr


def test_skipped_list_shows_the_first_20_then_how_many_more():
    lines = format_skipped([f"file{i}.jpg: empty file" for i in range(23)]).splitlines()
    assert lines[0] == "skipped: 23 unreadable files or rows"
    assert lines[1:21] == [f"  file{i}.jpg: empty file" for i in range(20)]
    assert lines[21:] == ["  ... 3 more"]


# --- the real data set ---------------------------------------------------------------

def test_real_validation_split_matches_the_readme_counts(fer2013_dir):
    images, labels = load_split(fer2013_dir, "validation", strict=True)

    assert images.shape == (3589, 48, 48) and images.dtype == np.uint8
    counts = np.bincount(labels, minlength=len(EMOTIONS))
    assert dict(zip(EMOTIONS, counts.tolist())) == REAL_VALIDATION_COUNTS


# --- hostile sources -------------------------------------------------------------------

def test_hostile_csv_rows_are_skipped_not_crashes(tmp_path, faces):
    csv_path = write_csv(tmp_path / "fer2013.csv", faces, extra_lines=[
        f"3,{' '.join(['1' + '0' * 20] * 2304)},Training",      # a pixel of 10^20: overflows int64
    ])
    data, report = load_all(csv_path)
    assert len(data["train"][1]) == len(faces["train"]) and len(report.skipped) == 1


@pytest.mark.parametrize("damage, message", [
    (lambda text: text.replace(b"Training", b"Trai\xffning", 1), "not UTF-8 text"),
    (lambda text: text + b"3," + b"1 " * 70000 + b",Training\n", "not readable as CSV"),
])
def test_undecodable_csv_files_are_one_line_data_errors(tmp_path, faces, damage, message):
    csv_path = write_csv(tmp_path / "fer2013.csv", faces)
    csv_path.write_bytes(damage(csv_path.read_bytes()))
    with pytest.raises(DataError, match=message) as raised:
        load_all(csv_path)
    assert "\n" not in str(raised.value)


def test_a_csv_with_a_byte_order_mark_reads_like_one_without(tmp_path, faces):
    plain = write_csv(tmp_path / "plain.csv", faces)
    marked = tmp_path / "marked.csv"
    marked.write_bytes(b"\xef\xbb\xbf" + plain.read_bytes())
    assert_same_data(load_all(marked)[0], load_all(plain)[0])


@pytest.mark.parametrize("arrays, message", [
    ({}, "class order none"),
    ({"class_names": np.arange(7)}, "class order 0,1,2"),
])
def test_hostile_caches_are_data_errors(tmp_path, arrays, message):
    path = tmp_path / "cache.npz"
    np.savez(path, **arrays)
    with pytest.raises(DataError, match=message):
        load_cache(path)


def test_an_empty_cache_file_is_a_data_error(tmp_path):
    (tmp_path / "cache.npz").write_bytes(b"")
    with pytest.raises(DataError, match="not a readable cache"):
        load_cache(tmp_path / "cache.npz")


def test_an_image_that_cannot_be_opened_is_skipped(sources, monkeypatch):
    """Permission denied is simulated: the tests may run as root, who reads every file."""
    import data_tools.fer2013 as fer2013
    victim = sorted((sources["folder"] / "train" / "happy").iterdir())[0]
    real_read_image = fer2013.read_image

    def read_image(path, color=True):
        if Path(path) == victim:
            raise PermissionError(13, "Permission denied", str(path))
        return real_read_image(path, color)

    monkeypatch.setattr(fer2013, "read_image", read_image)
    data, report = load_all(sources["folder"])
    assert report.skipped == [f"{victim}: Permission denied"]
