"""Every thread or one: chosen while a run trains, by timing both now and then.

A training step splits each call over all the threads, which pays while every core is
free. When another process takes a core, each split call waits for its share on the
shared core, and the same step on two threads fell below its speed on one. Measured on
the report network (2 cores, batch 64), one core kept busy by a spinning process, the two
ways taking turns in one process (three rounds, images/s): two threads 102 idle, 47 busy;
one thread 59 idle, 64 busy. Which way wins can change while a run trains (another job starts or ends),
so a ThreadChoice keeps trying: every `probe_every` steps it runs `probe_steps` steps the
other way, and switches if they were clearly faster (by SWITCH_MARGIN) than the median of
the last RECENT steps the current way. A trial costs little: by the figures above, idle,
two one-thread steps (1.7 times as long) every 100 add about 1.5% to the run's time.

    choice = ThreadChoice()
    for x, y in batches:
        with choice.step(len(x)):      # a step on every thread, or within minicnn.threads.one_thread
            ...                        # forward, backward, optimizer step
"""
import statistics
import time
from collections import deque
from contextlib import contextmanager, nullcontext

from minicnn.threads import one_thread

PROBE_EVERY = 100        # steps the current way between two trials of the other
PROBE_STEPS = 2          # steps in a trial
RECENT = 5               # the current way's speed: the median of its last RECENT steps
WARM_UP = 2              # first steps not timed: compilation and first touches of memory
SWITCH_MARGIN = 0.9      # switch when a trial's time per item is below this share of the current way's


class ThreadChoice:
    """Runs each step on every thread or on one (minicnn.threads.one_thread), whichever the
    latest timings say is faster. `clock` is a seconds counter (a test passes its own)."""

    def __init__(self, probe_every=PROBE_EVERY, probe_steps=PROBE_STEPS, clock=time.perf_counter):
        self.probe_every, self.probe_steps, self._clock = probe_every, probe_steps, clock
        self.one = False                 # whether the current way is one thread
        self._recent = deque(maxlen=RECENT)   # seconds per item of the current way's last steps
        self._trial = []                 # seconds per item of the trial under way
        self._warm_up_left = WARM_UP
        self._since_trial = probe_every  # the first trial comes as soon as the current way has RECENT steps

    @property
    def threads(self):
        """The way the next step runs, "all" (every thread) or "one"; inside a step, that step's own."""
        return "one" if self.one != self._in_trial() else "all"

    def _in_trial(self):
        return bool(self._trial) or (self._warm_up_left == 0 and len(self._recent) == RECENT
                                     and self._since_trial >= self.probe_every)

    @contextmanager
    def step(self, items=1):
        """Within: one step, on the way this choice picks; `items` (the batch size) makes
        steps of different sizes comparable."""
        trial = self._in_trial()
        with one_thread() if self.one != trial else nullcontext():
            start = self._clock()
            yield
            seconds_per_item = (self._clock() - start) / items
        if self._warm_up_left:
            self._warm_up_left -= 1
        elif trial:
            self._end_of_trial_step(seconds_per_item)
        else:
            self._recent.append(seconds_per_item)
            self._since_trial += 1

    def _end_of_trial_step(self, seconds_per_item):
        self._trial.append(seconds_per_item)
        if len(self._trial) < self.probe_steps:
            return
        if statistics.median(self._trial) < SWITCH_MARGIN * statistics.median(self._recent):
            self.one = not self.one
            self._recent = deque(self._trial, maxlen=RECENT)
        self._trial, self._since_trial = [], 0
