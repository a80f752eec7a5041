"""The layout's rules, read from the source: imports go one way, and OpenCV loads in one place.

    minicnn (the library) <- data_tools (FER2013 data, preprocessing) <- fer_app (the app)

A module may import from its own package and the ones to its left, never to its right;
minicnn never imports OpenCV; every other module takes cv2 from data_tools.opencv, which
sets OpenCV's image-size limit before OpenCV loads.
"""
import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("minicnn", "data_tools", "fer_app")   # each may import only those before it


def imported_modules(path):
    """Every module name a file imports, at any depth (function-level imports included)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            yield node.module


def package_files(package):
    return sorted((REPO / package).rglob("*.py"))


@pytest.mark.parametrize("package", PACKAGES)
def test_imports_go_one_way(package):
    allowed = PACKAGES[:PACKAGES.index(package) + 1]
    forbidden = set(PACKAGES) - set(allowed)
    wrong = [f"{path.relative_to(REPO)} imports {name}"
             for path in package_files(package) for name in imported_modules(path)
             if name.split(".")[0] in forbidden]
    assert not wrong, wrong


def test_opencv_is_loaded_only_through_data_tools_opencv():
    direct = [f"{path.relative_to(REPO)}"
              for package in PACKAGES for path in package_files(package)
              if path != REPO / "data_tools" / "opencv.py" and "cv2" in imported_modules(path)]
    assert not direct, f"import cv2 through data_tools.opencv, not directly: {direct}"
    library = [f"{path.relative_to(REPO)}" for path in package_files("minicnn")
               if "data_tools.opencv" in imported_modules(path)]
    assert not library, f"minicnn must not use OpenCV: {library}"


def test_only_entry_points_know_argparse():
    """argparse belongs to the command line: modules with a `python -m` entry point and
    the shared option groups (fer_app.options, fer_app.validators)."""
    shared_option_modules = {"options.py", "validators.py"}
    wrong = [f"{path.relative_to(REPO)}" for package in PACKAGES for path in package_files(package)
             if "argparse" in imported_modules(path) and path.name not in shared_option_modules
             and "__main__" not in path.read_text(encoding="utf-8")]
    assert not wrong, wrong
