"""minicnn.thread_choice: every thread or one, by timing both now and then.

A fake clock gives each step the duration the test decides for the way it runs on, so the
choices are exact; one test runs real steps to check the one-thread way really is one thread.
"""
import pytest

from minicnn.backend import get_backend
from minicnn.thread_choice import PROBE_STEPS, RECENT, WARM_UP, ThreadChoice
from tests.helpers import blas_threads


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def run_steps(choice, clock, count, seconds, items=64):
    """The way ("all" or "one") each of `count` steps ran on; a step on a way takes seconds(index, way)."""
    ways = []
    for index in range(count):
        way = choice.threads
        with choice.step(items):
            clock.now += seconds(index, way)
        ways.append(way)
    return ways


def steady(all_seconds, one_seconds):
    return lambda index, way: all_seconds if way == "all" else one_seconds


def test_idle_cores_keep_every_thread_and_try_one_every_probe_every_steps():
    clock = FakeClock()
    choice = ThreadChoice(probe_every=10, clock=clock)
    ways = run_steps(choice, clock, 50, steady(1.0, 1.75))
    first_trial = WARM_UP + RECENT
    expected = (["all"] * first_trial + ["one"] * PROBE_STEPS
                + (["all"] * 10 + ["one"] * PROBE_STEPS) * 4)
    assert ways == expected[:50]
    assert not choice.one


def test_a_taken_core_moves_the_run_to_one_thread_and_trials_of_every_thread_go_on():
    clock = FakeClock()
    choice = ThreadChoice(probe_every=10, clock=clock)
    ways = run_steps(choice, clock, 40, steady(2.2, 1.6))
    first_trial = WARM_UP + RECENT
    assert ways[:first_trial] == ["all"] * first_trial
    assert ways[first_trial:first_trial + PROBE_STEPS] == ["one"] * PROBE_STEPS
    after = ways[first_trial + PROBE_STEPS:]
    assert after[:10] == ["one"] * 10 and after[10:10 + PROBE_STEPS] == ["all"] * PROBE_STEPS
    assert choice.one


def test_the_run_goes_back_to_every_thread_when_the_core_is_free_again():
    clock = FakeClock()
    choice = ThreadChoice(probe_every=10, clock=clock)

    def busy_then_idle(index, way):
        if index < 20:
            return 2.2 if way == "all" else 1.6
        return 1.0 if way == "all" else 1.75
    ways = run_steps(choice, clock, 60, busy_then_idle)
    assert (WARM_UP, RECENT, PROBE_STEPS) == (2, 5, 2)   # the sequence below counts with these
    expected = (["all"] * 7 + ["one"] * 2          # the first trial: one thread wins
                + ["one"] * 10 + ["all"] * 2       # a trial across the change, half busy: no clear win
                + ["one"] * 10 + ["all"] * 2       # the current way's median now idle: every thread wins
                + (["all"] * 10 + ["one"] * 2) * 2 + ["all"] * 3)
    assert ways == expected and not choice.one


def test_a_trial_only_a_little_faster_does_not_switch():
    clock = FakeClock()
    choice = ThreadChoice(probe_every=10, clock=clock)
    ways = run_steps(choice, clock, 40, steady(1.0, 0.95))
    assert ways.count("one") == 3 * PROBE_STEPS and not choice.one


def test_steps_of_other_sizes_compare_per_item():
    clock = FakeClock()
    choice = ThreadChoice(probe_every=10, clock=clock)
    # Twice the items in twice the time on one thread: no faster, no switch.
    for index in range(30):
        one = choice.threads == "one"
        with choice.step(128 if one else 64):
            clock.now += 2.0 if one else 1.0
    assert not choice.one


def test_a_step_that_fails_is_not_timed_and_leaves_the_thread_counts_as_they_were():
    clock = FakeClock()
    choice = ThreadChoice(probe_every=10, clock=clock)
    run_steps(choice, clock, WARM_UP + RECENT, steady(1.0, 1.75))
    assert choice.threads == "one"                      # the next step is a trial
    blas_before = blas_threads()
    with pytest.raises(ZeroDivisionError):
        with choice.step(64):
            clock.now += 1000.0
            1 / 0
    assert blas_threads() == blas_before
    assert choice.threads == "one"                      # the trial still to run: the failed step counted for nothing
    run_steps(choice, clock, PROBE_STEPS, steady(1.0, 1.75))
    assert choice.threads == "all" and not choice.one


def test_a_one_thread_step_runs_blas_and_numba_on_one_thread():
    clock = FakeClock()
    choice = ThreadChoice(probe_every=10, clock=clock)
    run_steps(choice, clock, WARM_UP + RECENT, steady(2.2, 1.6))
    seen = []
    for _ in range(PROBE_STEPS + 1):
        with choice.step(64):
            counts = blas_threads()
            if get_backend() == "numba":
                import numba
                counts |= {numba.get_num_threads()}
            seen.append(counts)
            clock.now += 1.6
    assert choice.one
    assert seen == [{1}] * (PROBE_STEPS + 1)
