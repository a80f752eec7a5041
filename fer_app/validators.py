"""argparse types for numeric options: each refuses what the program could not use (NaN,
infinity, out of range) with a message argparse turns into a usage error."""
import argparse
import math


def _number(text, kind):
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if kind is float and not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text}")
    return value


def positive_int(text):
    value = _number(text, int)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {value}")
    return value


def positive_float(text):
    value = _number(text, float)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be greater than 0, got {text}")
    return value


def non_negative_float(text):
    value = _number(text, float)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text}")
    return value


def unit_fraction(text):
    """A number in [0, 1): a rate of dropout, momentum, label smoothing."""
    value = _number(text, float)
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"must be in [0, 1), got {text}")
    return value


# OpenCV reads a camera index above this as a backend code plus an index; negative ones crash some backends.
MAX_CAMERA_INDEX = 99


def camera_index(text):
    value = _number(text, int)
    if not 0 <= value <= MAX_CAMERA_INDEX:
        raise argparse.ArgumentTypeError(f"must be a camera number from 0 to {MAX_CAMERA_INDEX}, got {value}")
    return value


def in_range(low, high, kind=float, low_included=True, high_included=True):
    """An argparse type for numbers of `kind` between low and high (each bound included or not)."""
    def parse(text):
        value = _number(text, kind)
        above = value >= low if low_included else value > low
        below = value <= high if high_included else value < high
        if not (above and below):
            interval = f"{'[' if low_included else '('}{low:g}, {high:g}{']' if high_included else ')'}"
            raise argparse.ArgumentTypeError(f"must be in {interval}, got {text}")
        return value
    return parse
