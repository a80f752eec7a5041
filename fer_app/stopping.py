"""Ending a run early, but only between batches: Ctrl-C, SIGTERM, --max-steps and --time-limit."""
import signal
import time

from tqdm import tqdm


class StopRequest:
    """Context manager: turns the first Ctrl-C / SIGTERM into a request to stop after the current batch.

    check() adds the step and time limits; reason says why the run is to stop (None: it is not).
    """

    def __init__(self, max_steps=None, time_limit_minutes=None):
        self.max_steps = max_steps
        self.time_limit_minutes = time_limit_minutes
        self.reason = None

    def __enter__(self):
        self._started = time.monotonic()
        self._previous = {s: signal.signal(s, self._handle) for s in (signal.SIGINT, signal.SIGTERM)}
        return self

    def _handle(self, signum, frame):
        if self.reason is not None:   # asked twice: stop now
            raise KeyboardInterrupt
        self.reason = signal.Signals(signum).name
        tqdm.write(f"{self.reason}: stopping after this batch and saving a checkpoint (again to abort)")

    def __exit__(self, *exc):
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)

    def check(self, steps):
        """Whether to stop, now that the run has made `steps` optimizer steps in all."""
        if self.reason is None and self.max_steps is not None and steps >= self.max_steps:
            self.reason = f"--max-steps {self.max_steps}"
        minutes = (time.monotonic() - self._started) / 60
        if self.reason is None and self.time_limit_minutes is not None and minutes >= self.time_limit_minutes:
            self.reason = f"--time-limit {self.time_limit_minutes} min"
        return self.reason is not None
