"""Which kernels run: the plain NumPy references or their numba-compiled twins.

The choice is global and made by `set_backend("numba" | "numpy" | "auto")` or, at
import time, by the environment variable MINICNN_BACKEND (default "auto"). "auto" takes
numba when it imports and falls back to NumPy otherwise, so the package works where numba
is absent; asking for "numba" explicitly where it is absent is an error.

The layers call their kernels as `active_kernels().im2col(...)`: the kernel set of the
active backend, the module minicnn.kernels.numpy_set or minicnn.kernels.numba_set.
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


def _kernel_set(name):
    """The module holding backend `name`'s kernels; numba's is imported only once it is chosen."""
    if name == "numba":
        from minicnn.kernels import numba_set
        return numba_set
    from minicnn.kernels import numpy_set
    return numpy_set


_active = None
_active_kernels = None


def set_backend(name):
    """Select the kernels used by every layer from now on; returns the resolved name."""
    global _active, _active_kernels
    resolved = _resolve(name)
    _active_kernels = _kernel_set(resolved)
    _active = resolved
    return _active


def get_backend():
    """The name of the active backend: "numba" or "numpy"."""
    if _active is None:
        set_backend(os.environ.get("MINICNN_BACKEND", "auto").strip().lower() or "auto")
    return _active


def active_kernels():
    """The active backend's kernel set: minicnn.kernels.numpy_set or numba_set, which offer the same names."""
    if _active_kernels is None:
        get_backend()
    return _active_kernels


@contextmanager
def using_backend(name):
    """with using_backend("numpy"): ...  runs the block with that backend, then restores the one before."""
    previous = get_backend()
    set_backend(name)
    try:
        yield get_backend()
    finally:
        set_backend(previous)
