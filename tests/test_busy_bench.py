"""benchmarks/busy_core.py: the bounded busy loop, and idle against busy turned into ratios and verdicts."""
import time

import pytest

from benchmarks import busy_core


def process_cpu_seconds_of_children():
    import resource
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime


def test_the_busy_loop_spins_while_inside_and_is_stopped_after():
    before = process_cpu_seconds_of_children()
    with busy_core.one_core_busy():
        time.sleep(1.0)
    # Its CPU time counts here only once it has been stopped and waited for, which the
    # block's end does: without the kill, that wait would last BUSY_LOOP_LIMIT_S.
    assert process_cpu_seconds_of_children() - before > 0.3


@pytest.fixture
def fake_worker(monkeypatch):
    """run_worker stand-in: idle and busy figures per kind, the busy ones while the loop runs."""
    state = {"busy": False}

    class Spinning:
        def __enter__(self):
            state["busy"] = True

        def __exit__(self, *exc):
            state["busy"] = False

    monkeypatch.setattr(busy_core, "one_core_busy", Spinning)

    def run_worker(worker, threads):
        busy = state["busy"]
        if worker == ["video"]:
            return {"fps": 20.0 if busy else 40.0}
        if worker[2] == "infer":
            return {"latency_ms_b1": 9.0 if busy else 4.0, "images_per_s_b256": 100.0}
        return {"images_per_s": 40.0 if busy else 100.0}
    return run_worker


def test_ratios_and_verdicts_follow_the_targets(fake_worker):
    figures = busy_core.collect_busy(fake_worker, ["report"], threads=2, rounds=2)
    by_label = {figure["label"].split(",")[0]: figure for figure in figures}
    video, train = by_label["video pipeline (frames/s)"], by_label["report training step"]
    assert video["ratio"] == 0.5 and video["meets"]                 # exactly the bound
    assert train["ratio"] == 0.4 and not train["meets"]
    latencies = [figure for figure in figures if "latency" in figure["label"]]
    assert len(latencies) == 2                                     # one thread and all threads
    assert all(figure["ratio"] == 2.25 and not figure["meets"] for figure in latencies)
    table = busy_core.busy_table(figures)
    assert table.count("\n") == len(figures) + 1 and "| 0.40 |" in table


def test_a_failed_measurement_is_reported_not_averaged(fake_worker):
    def failing(worker, threads):
        return {"error": "numba missing"} if worker[0] == "minicnn" else fake_worker(worker, threads)
    figures = busy_core.collect_busy(failing, ["report"], threads=2, rounds=1)
    assert [figure.get("error") for figure in figures] == [None] + ["numba missing"] * 4
    assert "failed: numba missing" in busy_core.busy_table(figures)
