"""Atomic file writing: a reader never sees a half-written file."""
import json
import os
import secrets
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_write(path, mode="wb"):
    """Open a temporary file next to `path`; on success rename it onto `path`, on error delete it.

    The temporary file is created with mode 0o666, which the process umask trims, so the
    file ends with the permissions a plain open() would give it.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_json(path, obj):
    """obj as indented JSON at path, atomically."""
    with atomic_write(path, "w") as f:
        json.dump(obj, f, indent=1)
