"""Atomic file writing: a reader never sees a half-written file."""
import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path


def _default_file_mode():
    """The permissions open() would give a new file: 0o666 less the process umask."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


@contextmanager
def atomic_write(path, mode="wb"):
    """Open a temporary file next to `path`; on success rename it onto `path`, on error delete it.

    The file gets the permissions a plain open() would give it (mkstemp's are owner-only).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, _default_file_mode())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path, obj):
    """obj as indented JSON at path, atomically."""
    with atomic_write(path, "w") as f:
        json.dump(obj, f, indent=1)
