"""What every command-line entry point shares: bad input ends in one line, not a traceback."""
import signal
import sys

from data_tools.fer2013 import DataError
from minicnn import BackendError, ModelFileError


class AppError(Exception):
    """A problem with the user's input or environment, reported as one line."""


USER_ERRORS = (AppError, DataError, ModelFileError, BackendError, OSError)


def error_line(error):
    """An exception as the one line a user sees: its message's first line (or its type, if it has none)."""
    return str(error).splitlines()[0] if str(error) else type(error).__name__


class Terminated(Exception):
    """SIGTERM arrived: raised where the program is, so that its cleanup runs."""


def _raise_terminated(signum, frame):
    raise Terminated


def run(main, argv=None):
    """Call main(argv); user errors print 'error: ...' on stderr and exit 2, Ctrl-C exits 130.

    SIGTERM (kill, a scheduler's time limit) is turned into an exception, so that
    half-written outputs are removed on the way out, as on Ctrl-C, and exits 143;
    Python's default would end the process on the spot and leave them behind.
    """
    previous_handler = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        code = main(argv)
    except USER_ERRORS as error:
        print(f"error: {error_line(error)}", file=sys.stderr)
        code = 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        code = 130
    except Terminated:
        print("terminated", file=sys.stderr)
        code = 143
    finally:
        signal.signal(signal.SIGTERM, previous_handler)
    sys.exit(code or 0)
