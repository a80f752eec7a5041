"""Reading .npz files without trusting them.

An .npz file is a zip archive of .npy members, each a small header (dtype, shape) and
the array's bytes. np.load would take a member's header at its word: a 1 KB file can
claim a (10^6, 10^6) array and have NumPy try to allocate it. Here every member's header
is read first and checked against the bytes the member really holds, object arrays
(which only pickle can read) are refused, and only the members asked for are read.
Every problem is a ModelFileError with a one-line message.
"""
import zipfile

import numpy as np

# No array this project writes comes near it (the largest, the report network's first
# dense layer, is 4 MB); a member above it is refused before it is read.
MAX_ARRAY_BYTES = 1 << 30


class ModelFileError(ValueError):
    """A model file is missing, unreadable, or does not fit the model (one-line message)."""


def npz_headers(path, names=None):
    """{name: (shape, dtype)} of the members called `names` (every member when None; absent
    names are skipped), from their headers alone, each checked against the member's size."""
    with _archive(path) as archive:
        return {name: _checked_header(archive, info, path) for name, info in _wanted(archive, names).items()}


def read_npz(path, names=None):
    """{name: array} of the members called `names` (every member when None; absent names are skipped)."""
    with _archive(path) as archive:
        arrays = {}
        for name, info in _wanted(archive, names).items():
            _checked_header(archive, info, path)
            try:
                with archive.open(info) as member:
                    arrays[name] = np.lib.format.read_array(member, allow_pickle=False)
            except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
                raise ModelFileError(f"{path}: member '{name}' cannot be read ({_first_line(error)})") from None
        return arrays


class _archive:
    """zipfile.ZipFile(path) whose opening errors are ModelFileErrors."""

    def __init__(self, path):
        self.path = path

    def __enter__(self):
        try:
            self.zip = zipfile.ZipFile(self.path)
        except FileNotFoundError:
            raise ModelFileError(f"{self.path}: no such file") from None
        except IsADirectoryError:
            raise ModelFileError(f"{self.path}: a folder, not an .npz file") from None
        except (OSError, zipfile.BadZipFile, ValueError, EOFError) as error:
            raise ModelFileError(f"{self.path}: not a readable .npz file ({_first_line(error)})") from None
        return self.zip

    def __exit__(self, *exc):
        self.zip.close()


def _wanted(archive, names):
    members = {info.filename[:-len(".npy")]: info for info in archive.infolist() if info.filename.endswith(".npy")}
    return members if names is None else {name: members[name] for name in names if name in members}


def _checked_header(archive, info, path):
    name = info.filename[:-len(".npy")]
    if info.file_size > MAX_ARRAY_BYTES:
        raise ModelFileError(f"{path}: member '{name}' holds {info.file_size:,} bytes, more than the "
                             f"{MAX_ARRAY_BYTES:,} a model array may have")
    try:
        with archive.open(info) as member:
            version = np.lib.format.read_magic(member)
            read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) \
                else np.lib.format.read_array_header_2_0
            shape, _, dtype = read_header(member)
            header_bytes = member.tell()
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, SyntaxError) as error:
        raise ModelFileError(f"{path}: member '{name}' has no valid .npy header ({_first_line(error)})") from None
    if dtype.hasobject:
        raise ModelFileError(f"{path}: member '{name}' holds Python objects, which only unpickling could read; "
                             f"model files hold numbers and text only")
    declared = int(np.prod(shape, dtype=np.float64)) * dtype.itemsize
    if declared != info.file_size - header_bytes:
        raise ModelFileError(f"{path}: member '{name}' claims shape {shape} of {dtype} ({declared:,} bytes) "
                             f"but holds {info.file_size - header_bytes:,} bytes")
    return tuple(shape), dtype


def _first_line(error):
    return (str(error).splitlines() or [type(error).__name__])[0]
