"""What every command-line entry point shares: bad input ends in one line, not a traceback."""
import sys

from data_tools.fer2013 import DataError
from minicnn import BackendError, ModelFileError


class AppError(Exception):
    """A problem with the user's input or environment, reported as one line."""


USER_ERRORS = (AppError, DataError, ModelFileError, BackendError, OSError)


def run(main, argv=None):
    """Call main(argv); user errors print 'error: ...' on stderr and exit 2, Ctrl-C exits 130."""
    try:
        code = main(argv)
    except USER_ERRORS as error:
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        print(f"error: {message}", file=sys.stderr)
        code = 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        code = 130
    sys.exit(code or 0)
