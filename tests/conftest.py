"""Fixtures shared by the test modules."""
import os
from pathlib import Path

import pytest

# The data set lives beside the repository (../shared/fer2013), never inside it.
DEFAULT_FER2013_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "fer2013"


@pytest.fixture(scope="session")
def fer2013_dir():
    """Path of the real FER2013 image folders (env FER2013_DIR overrides); skips the test if absent."""
    path = Path(os.environ.get("FER2013_DIR", DEFAULT_FER2013_DIR))
    if not path.is_dir():
        pytest.skip(f"FER2013 not found at {path} (set FER2013_DIR to its folder)")
    return path


def _available_backends():
    import minicnn
    return ["numpy", "numba"] if minicnn.numba_available() else ["numpy"]


@pytest.fixture(params=_available_backends())
def backend(request):
    """Run the test once per available kernel backend, restoring the previous one after."""
    import minicnn
    previous = minicnn.get_backend()
    minicnn.set_backend(request.param)
    yield request.param
    minicnn.set_backend(previous)
