"""Read FER2013 in the layouts people download -> uint8 faces and labels in EMOTIONS order.

Sources (load_all and load_split tell them apart by what the path is):

- a folder of split folders  <root>/<split>/<class>/*.jpg  (train/, validation/, test/, ...)
- a folder of class folders  <root>/<class>/*.jpg          (one split, named after <root>)
- the original fer2013.csv   emotion,pixels,Usage          (Usage -> split, see CSV_SPLITS)
- a cache .npz written by save_cache (python -m data_tools.import_fer2013 makes one)

Every source gives the same ``data``: a dict split name -> (images, labels), images uint8
(N, 48, 48), labels int64 (N,) indexing data_tools.labels.EMOTIONS. Split names are the
lower-cased folder names, kept as they are ("val" stays "val"). Class folders match
EMOTIONS case-insensitively; entries whose names start with "." or "_" (.git, __MACOSX)
are ignored, as are files that are not images.
"""
import csv
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from data_tools.errors import DataError
from data_tools.labels import EMOTIONS
from data_tools.preprocess import IMAGE_EXTENSIONS, INPUT_SIZE, read_image, to_gray, to_input_size
from minicnn.io import atomic_write
from minicnn.npzfile import ModelFileError, read_npz

# fer2013.csv numbers the classes in its own order; the label we store is the position
# of the class's name in EMOTIONS.
CSV_CLASS_NUMBERS = {0: "angry", 1: "disgust", 2: "fear", 3: "happy", 4: "sad", 5: "surprise", 6: "neutral"}
_CSV_NUMBER_TO_LABEL = {number: EMOTIONS.index(name) for number, name in CSV_CLASS_NUMBERS.items()}

# The image-folder data set's validation/ is the CSV's PublicTest, so they share a name.
CSV_SPLITS = {"Training": "train", "PublicTest": "validation", "PrivateTest": "test"}

_PIXELS_PER_IMAGE = INPUT_SIZE * INPUT_SIZE


class _Unusable(DataError):
    """One file or CSV row that cannot be used; the import skips it unless strict."""


@dataclass
class ImportReport:
    """What reading a source found.

    counts:    split -> {class name: number of images}, every class of EMOTIONS listed
    converted: images not stored as 48x48 gray, converted with data_tools.preprocess
    skipped:   "name: reason" for every unreadable file or malformed CSV row left out
    """
    source: str
    counts: dict
    converted: int = 0
    skipped: list = field(default_factory=list)


def load_all(source, strict=False):
    """Folder, fer2013.csv or cache .npz -> (data, ImportReport), data = {split: (images, labels)}.

    Unreadable files and malformed CSV rows are skipped and listed in the report, or
    raise DataError when strict is true.
    """
    data, report = _read(source, strict)
    if not any(len(labels) for _, labels in data.values()):
        raise DataError(f"no images found in {source}")
    return data, report


def load_split(source, split, strict=False):
    """Folder, fer2013.csv or cache .npz -> (images uint8 (N, 48, 48), labels int64 (N,)) of one split.

    Reads only that split where the layout allows it. Skipped files are counted in a
    warning; python -m data_tools.import_fer2013 lists them.
    """
    data, report = _read(source, strict, only_split=split)
    if split not in data:
        available = list_splits(source)
        if not available:
            raise DataError(f"no images found in {source}")
        raise DataError(f"{source} has no split {split!r}; available: {', '.join(available)}")
    images, labels = data[split]
    if len(labels) == 0:
        raise DataError(f"no images found in split {split!r} of {source}")
    if report.skipped:
        warnings.warn(f"{source}: skipped {len(report.skipped)} unreadable files or rows of split {split!r}",
                      stacklevel=2)
    return images, labels


def list_splits(source):
    """Folder, fer2013.csv or cache .npz -> sorted split names it holds (cheap: decodes no image)."""
    path = _existing(source)
    if path.is_dir():
        return sorted(_split_folders(path))
    if path.suffix.lower() == ".csv":
        return sorted({split for _, split, _ in _csv_rows(path) if split is not None})
    return sorted(load_cache(path))


def save_cache(path, data):
    """Write data {split: (images (N, 48, 48), labels (N,))} to ONE .npz, atomically.

    Keys: "class_names" (EMOTIONS, so a loader can check the order), and per split
    "<split>.images" uint8 (N, 48, 48) and "<split>.labels" int64 (N,). Uncompressed,
    so training starts without a decompression pause.
    """
    path = Path(path)
    arrays = {"class_names": np.array(EMOTIONS)}
    for split, (images, labels) in data.items():
        arrays[f"{split}.images"] = np.asarray(images, dtype=np.uint8)
        arrays[f"{split}.labels"] = np.asarray(labels, dtype=np.int64)
    # Atomic: readers never see half a file, and an interrupted import leaves the previous cache intact.
    try:
        with atomic_write(path) as file:
            np.savez(file, **arrays)
    except OSError as error:
        raise DataError(f"cannot write {path}: {error.strerror or error}") from error


def load_cache(path):
    """Cache .npz written by save_cache -> data {split: (images uint8 (N, 48, 48), labels int64 (N,))}."""
    try:
        arrays = read_npz(path)
    except ModelFileError as error:
        raise DataError(f"not a readable cache: {error}") from None
    class_names = arrays.pop("class_names", None)
    if class_names is None or tuple(map(str, class_names.reshape(-1).tolist())) != EMOTIONS:
        found = "none" if class_names is None else ",".join(map(str, class_names.reshape(-1).tolist()))
        raise DataError(f"{path}: class order {found} differs from EMOTIONS {','.join(EMOTIONS)}; "
                        f"re-import it with python -m data_tools.import_fer2013")
    splits = sorted({key.rsplit(".", 1)[0] for key in arrays})
    data = {}
    for split in splits:
        images, labels = arrays.get(f"{split}.images"), arrays.get(f"{split}.labels")
        if images is None or labels is None:
            raise DataError(f"{path}: split {split!r} lacks its images or labels array")
        _check_split_arrays(path, split, images, labels)
        data[split] = images, labels.astype(np.int64)
    return data


def _check_split_arrays(path, split, images, labels):
    """DataError unless images are uint8 (N, 48, 48) and labels (N,) integers indexing EMOTIONS."""
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (INPUT_SIZE, INPUT_SIZE):
        raise DataError(f"{path}: {split}.images has shape {images.shape} and dtype {images.dtype}, "
                        f"expected (N, {INPUT_SIZE}, {INPUT_SIZE}) uint8")
    if labels.shape != (len(images),) or not np.issubdtype(labels.dtype, np.integer):
        raise DataError(f"{path}: {split}.labels has shape {labels.shape} and dtype {labels.dtype}, "
                        f"expected ({len(images)},) integers")
    if len(labels) and (labels.min() < 0 or labels.max() >= len(EMOTIONS)):
        raise DataError(f"{path}: {split}.labels holds values outside 0..{len(EMOTIONS) - 1}")


def _existing(source):
    """Path of an existing folder, .csv or .npz; DataError otherwise."""
    path = Path(source)
    if not path.exists():
        raise DataError(f"no such file or folder: {path}")
    if not path.is_dir() and path.suffix.lower() not in (".csv", ".npz"):
        raise DataError(f"{path}: unknown source type, expected a folder, a .csv or a cache .npz")
    return path


def _read(source, strict, only_split=None):
    """Any source -> (data, ImportReport), of every split or only of only_split."""
    path = _existing(source)
    if path.is_dir():
        return _read_folders(path, strict, only_split)
    if path.suffix.lower() == ".csv":
        return _read_csv(path, strict, only_split)
    data = load_cache(path)
    if only_split is not None:
        data = {split: arrays for split, arrays in data.items() if split == only_split}
    return data, _report(path, data)


def _report(source, data, converted=0, skipped=()):
    counts = {split: dict(zip(EMOTIONS, np.bincount(labels, minlength=len(EMOTIONS)).tolist()))
              for split, (_, labels) in data.items()}
    return ImportReport(str(source), counts, converted, list(skipped))


def _skip_or_raise(error, strict, skipped):
    """Strict imports stop at the first unusable file or row; others list it and go on."""
    if strict:
        raise error
    skipped.append(str(error))


# --- image folders -------------------------------------------------------------------

def _visible_subfolders(folder):
    return sorted(entry for entry in folder.iterdir()
                  if entry.is_dir() and not entry.name.startswith((".", "_")))


def _class_label(name):
    """Folder name -> index in EMOTIONS (case-insensitive), or None if it names no class."""
    lowered = name.lower()
    return EMOTIONS.index(lowered) if lowered in EMOTIONS else None


def _split_folders(root):
    """Folder -> {split name: folder of class folders}, for both folder layouts."""
    subfolders = _visible_subfolders(root)
    if any(_class_label(folder.name) is not None for folder in subfolders):
        return {root.resolve().name.lower() or "all": root}
    return {folder.name.lower(): folder for folder in subfolders}


def _labelled_files(split_folder):
    """Folder of class folders -> [(image path, label)], sorted by label then name."""
    files = []
    for class_folder in _visible_subfolders(split_folder):
        label = _class_label(class_folder.name)
        if label is None:
            raise DataError(f"unknown class folder {class_folder}: expected one of {', '.join(EMOTIONS)}")
        files += [(path, label) for path in class_folder.iterdir()
                  if path.is_file() and path.suffix.lower() in IMAGE_EXTENSIONS]
    return sorted(files, key=lambda item: (item[1], item[0].name))


def _read_image(path):
    """Image file -> (gray uint8 (48, 48), whether it had to be converted); _Unusable if unreadable."""
    try:
        # As stored: a gray 48x48 face (the data set's own format) needs no conversion.
        image = read_image(path, color=False)
    except DataError as error:
        raise _Unusable(str(error)) from None
    except OSError as error:      # unreadable: permission denied, vanished, a device error
        raise _Unusable(f"{path}: {error.strerror or error}") from None
    if image.shape == (INPUT_SIZE, INPUT_SIZE):
        return image, False
    return to_input_size(to_gray(image)), True


def _read_folders(root, strict, only_split):
    data, converted, skipped = {}, 0, []
    for split, split_folder in _split_folders(root).items():
        if only_split is not None and split != only_split:
            continue
        files = _labelled_files(split_folder)
        images = np.empty((len(files), INPUT_SIZE, INPUT_SIZE), dtype=np.uint8)
        labels = np.empty(len(files), dtype=np.int64)
        count = 0
        for path, label in tqdm(files, desc=f"reading {split}", unit="img", disable=None):
            try:
                image, was_converted = _read_image(path)
            except _Unusable as error:
                _skip_or_raise(error, strict, skipped)
                continue
            images[count], labels[count] = image, label
            converted += was_converted
            count += 1
        data[split] = images[:count], labels[:count]
    return data, _report(root, data, converted, skipped)


# --- fer2013.csv ---------------------------------------------------------------------

def _csv_rows(path):
    """fer2013.csv -> (line number, split, {column: text}) per data row; blank lines are left out.

    The split comes from the Usage column, or is the file's name when there is none
    (Kaggle's train.csv has only emotion,pixels). A row with the wrong number of columns
    comes as (line number, None, None).
    """
    # utf-8-sig: a byte-order mark, as spreadsheet programs write, is not part of the first column's name.
    with open(path, newline="", encoding="utf-8-sig") as file:
        reader = csv.reader(file)
        try:
            yield from _rows_of(reader, path)
        except UnicodeDecodeError as error:
            raise DataError(f"{path} line {reader.line_num + 1}: not UTF-8 text ({error.reason})") from None
        except csv.Error as error:
            raise DataError(f"{path} line {reader.line_num}: not readable as CSV ({error})") from None


def _rows_of(reader, path):
    header = [name.strip() for name in next(reader, [])]
    missing = [name for name in ("emotion", "pixels") if name not in header]
    if missing:
        raise DataError(f"{path}: not a FER2013 csv, its header lacks {', '.join(missing)} "
                        f"(expected emotion,pixels,Usage)")
    for row in reader:
        if not row:
            continue
        if len(row) != len(header):
            yield reader.line_num, None, None
            continue
        fields = dict(zip(header, row))
        split = path.stem.lower()
        if "Usage" in fields:
            usage = fields["Usage"].strip()
            if usage not in CSV_SPLITS:
                raise DataError(f"{path} line {reader.line_num}: unknown Usage {usage!r}, "
                                f"expected one of {', '.join(CSV_SPLITS)}")
            split = CSV_SPLITS[usage]
        yield reader.line_num, split, fields


def _parse_csv_row(where, fields):
    """CSV row {column: text} -> (image uint8 (48, 48), label); _Unusable if malformed."""
    try:
        number = int(fields["emotion"])
    except ValueError:
        raise _Unusable(f"{where}: emotion {fields['emotion']!r} is not a number") from None
    if number not in _CSV_NUMBER_TO_LABEL:
        # Not a damaged row but a different numbering: skipping it would quietly lose a class.
        raise DataError(f"{where}: unknown CSV label {number}, expected 0..{len(CSV_CLASS_NUMBERS) - 1}")
    try:
        pixels = np.array(fields["pixels"].split(), dtype=np.int64)
    except (ValueError, OverflowError):
        raise _Unusable(f"{where}: pixels are not all whole numbers") from None
    if pixels.size != _PIXELS_PER_IMAGE:
        raise _Unusable(f"{where}: {pixels.size} pixels, expected {_PIXELS_PER_IMAGE}")
    if pixels.min() < 0 or pixels.max() > 255:
        raise _Unusable(f"{where}: pixel values outside 0..255")
    return pixels.astype(np.uint8).reshape(INPUT_SIZE, INPUT_SIZE), _CSV_NUMBER_TO_LABEL[number]


def _read_csv(path, strict, only_split):
    images, labels, skipped = {}, {}, []
    for line, split, fields in tqdm(_csv_rows(path), desc=f"reading {path.name}", unit="row", disable=None):
        if only_split is not None and split not in (only_split, None):
            continue
        if fields is None:
            _skip_or_raise(_Unusable(f"{path} line {line}: wrong number of columns"), strict, skipped)
            continue
        # Listed before parsing, so a split whose rows are all malformed still shows, empty.
        split_images, split_labels = images.setdefault(split, []), labels.setdefault(split, [])
        try:
            image, label = _parse_csv_row(f"{path} line {line}", fields)
        except _Unusable as error:
            _skip_or_raise(error, strict, skipped)
            continue
        split_images.append(image)
        split_labels.append(label)
    data = {split: (np.array(images[split], dtype=np.uint8).reshape(-1, INPUT_SIZE, INPUT_SIZE),
                    np.array(labels[split], dtype=np.int64))
            for split in sorted(images)}
    return data, _report(path, data, skipped=skipped)
