"""The app's user-fixable errors: bad settings, missing files or devices, unusable models.

Modules raise these with a one-line message; the command line (fer_app.cli) prints that
line and exits 2, and fer_app.batch records it as the failed row of one video. Anything
else is a bug and keeps its traceback.
"""
from data_tools.errors import DataError
from minicnn import BackendError, ModelFileError


class AppError(Exception):
    """A problem with the user's input or environment, reported as one line."""


USER_ERRORS = (AppError, DataError, ModelFileError, BackendError, OSError)
