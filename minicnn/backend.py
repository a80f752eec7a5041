"""Which kernels run: the plain NumPy references or their numba-compiled twins.

The choice is global and made by `set_backend("numba" | "numpy" | "auto")` or, at
import time, by the environment variable MINICNN_BACKEND (default "auto"). "auto" takes
numba when it imports and falls back to NumPy otherwise, so the package works where numba
is absent; asking for "numba" explicitly where it is absent is an error.
"""
import importlib
import os
from contextlib import contextmanager

BACKENDS = ("auto", "numba", "numpy")


class BackendError(RuntimeError):
    """The requested backend is unknown or cannot run here."""


def numba_available():
    """True when numba imports (it is an optional accelerator)."""
    try:
        importlib.import_module("numba")
    except ImportError:
        return False
    return True


def _resolve(name):
    if name not in BACKENDS:
        raise BackendError(f"unknown backend {name!r}: choose one of {', '.join(BACKENDS)}")
    if name == "auto":
        return "numba" if numba_available() else "numpy"
    if name == "numba" and not numba_available():
        raise BackendError("backend 'numba' was requested but numba is not installed (pip install numba), "
                           "or use the 'numpy' backend")
    return name


_active = None


def set_backend(name):
    """Select the kernels used by every layer from now on; returns the resolved name."""
    global _active
    _active = _resolve(name)
    return _active


def get_backend():
    """The name of the active backend: "numba" or "numpy"."""
    if _active is None:
        set_backend(os.environ.get("MINICNN_BACKEND", "auto").strip().lower() or "auto")
    return _active


@contextmanager
def using_backend(name):
    """with using_backend("numpy"): ...  runs the block with that backend, then restores the one before."""
    previous = get_backend()
    set_backend(name)
    try:
        yield get_backend()
    finally:
        set_backend(previous)
