"""The errors a user can fix, and the one line each is shown as.

A DataError is data that cannot be used: an image file that does not decode, a FER2013
source in an unknown layout. Its message is one line, the line a command prints before
it exits (see data_tools.cli); any other exception is a bug and keeps its traceback.
"""


class DataError(Exception):
    """Data that cannot be read or used (an image, a FER2013 source); the message is one line."""


def error_line(error):
    """An exception as the one line a user sees: its message's first line (or its type, if it has none)."""
    return str(error).splitlines()[0] if str(error) else type(error).__name__
