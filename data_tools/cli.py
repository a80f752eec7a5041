"""What every command-line entry point shares: bad input ends in one line, not a traceback.

This is the only layer that knows about exit codes; the modules below it raise
exceptions (data_tools.errors, fer_app.errors) and leave the ending to run().
"""
import signal
import sys

from data_tools.errors import DataError, error_line


class Terminated(BaseException):
    """SIGTERM arrived: raised where the program is, so that its cleanup runs.

    A BaseException, like KeyboardInterrupt: the signal may land inside a library's
    `except Exception` (tqdm's monitor thread start is one), which must not swallow it."""


def _raise_terminated(signum, frame):
    raise Terminated


# The exceptions a signal raises, and how the command ends on each.
SIGNAL_ENDINGS = ((KeyboardInterrupt, "interrupted", 130), (Terminated, "terminated", 143))


def _signal_ending(error):
    """(message, exit code) if a signal's exception is behind `error`, else None.

    The signal may land while a library is being imported: Python wraps an exception
    raised during a class's creation (in __set_name__, e.g. a dataclass field) in a
    RuntimeError, the signal's exception as its cause. Seen: SIGTERM during the first
    import of threadpoolctl, when a video had just started."""
    while error is not None:
        for kind, message, code in SIGNAL_ENDINGS:
            if isinstance(error, kind):
                return message, code
        error = error.__cause__
    return None


def run(main, argv=None, user_errors=(DataError, OSError)):
    """Call main(argv); user_errors print 'error: ...' on stderr and exit 2, Ctrl-C exits 130.

    SIGTERM (kill, a scheduler's time limit) is turned into an exception, so that
    half-written outputs are removed on the way out, as on Ctrl-C, and exits 143;
    Python's default would end the process on the spot and leave them behind.
    """
    previous_handler = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        code = main(argv)
    except user_errors as error:
        print(f"error: {error_line(error)}", file=sys.stderr)
        code = 2
    except BaseException as error:
        ending = _signal_ending(error)
        if ending is None:
            raise
        message, code = ending
        print(message, file=sys.stderr)
    finally:
        signal.signal(signal.SIGTERM, previous_handler)
    sys.exit(code or 0)
