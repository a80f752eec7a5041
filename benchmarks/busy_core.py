"""bench.py --busy: the app's and the library's speed when another process keeps one core busy.

A user's machine is rarely idle: a browser, a compile, a second run. Each figure is measured
twice in one run, idle and with a bounded busy loop (a separate process spinning on one
core, stopped after the measurement), taking turns round after round, and printed side by
side with the ratio and the target:

    video pipeline    fer_app.video on the 640x480 benchmark clip    busy >= 50% of idle
    batch-1 latency   each network, BatchNorm folded, on one thread  busy <= 2x idle
                      (as the app runs it: fer_app.stages) and on all
    training step     batch 64, numba, every thread                  busy >= 50% of idle
    training loop     the same steps as fer_app.training runs them:  busy >= 50% of idle
                      every thread or one, by timing both
                      (minicnn.thread_choice; bench.training_loop_speed)
"""
import statistics
import subprocess
import sys
from contextlib import contextmanager

# Seconds after which the busy loop stops by itself, should this process die without stopping it.
BUSY_LOOP_LIMIT_S = 900
# kind -> (bound on busy / idle, in words)
TARGETS = {"video": (0.5, "at least 50% of idle"), "latency": (2.0, "at most 2x idle"),
           "train": (0.5, "at least 50% of idle")}


@contextmanager
def one_core_busy():
    """Within: one more process spins on a core (pure Python, no threads), for BUSY_LOOP_LIMIT_S at most."""
    spinner = subprocess.Popen([sys.executable, "-c", "import time\nend = time.monotonic() + "
                                f"{BUSY_LOOP_LIMIT_S}\nwhile time.monotonic() < end:\n    pass"])
    try:
        yield
    finally:
        spinner.kill()
        spinner.wait()


def measurements(archs, threads):
    """[(kind, worker arguments, threads, label)]: the video pipeline, then each network's latency and training."""
    rows = [("video", ["video"], threads, "video pipeline (frames/s)")]
    for arch in archs:
        # Both thread counts: the app classifies on one (fer_app.stages), this shows why.
        rows += [("latency", ["minicnn", "numba", "infer", arch], count,
                  f"{arch} batch-1 latency, BatchNorm folded where it has one, {count} thread{'s' * (count > 1)} (ms)")
                 for count in sorted({1, threads})]
        rows.append(("train", ["minicnn", "numba", "train", arch], threads,
                     f"{arch} training step, batch 64, {threads} threads (images/s)"))
        rows.append(("train", ["minicnn", "numba", "train_loop", arch], threads,
                     f"{arch} training as fer_app trains, batch 64, threads chosen by timing (images/s)"))
    return rows


def collect_busy(run_worker, archs, threads, rounds):
    """[{"label", "idle", "busy", "ratio", "target", "meets"} or {"label", "error"}]: medians over rounds
    of idle and busy turns, one entry per measurement."""
    figures = []
    for kind, worker, worker_threads, label in measurements(archs, threads):
        bound, target = TARGETS[kind]
        idle, busy = [], []
        for round_number in range(rounds):
            print(f"one core busy, round {round_number + 1}/{rounds}: {label} ...", file=sys.stderr, flush=True)
            idle.append(run_worker(worker, worker_threads))
            with one_core_busy():
                busy.append(run_worker(worker, worker_threads))
        errors = [r["error"] for r in idle + busy if "error" in r]
        if errors:
            figures.append({"label": label, "error": errors[0]})
            continue
        key = figure_key(kind, idle[0])
        idle_value = statistics.median(r[key] for r in idle)
        busy_value = statistics.median(r[key] for r in busy)
        ratio = busy_value / idle_value
        figures.append({"label": label, "idle": idle_value, "busy": busy_value, "ratio": ratio, "target": target,
                        "meets": ratio <= bound if kind == "latency" else ratio >= bound})
    return figures


def figure_key(kind, result):
    """The key of a worker's result that the table shows: the folded latency where the network has BatchNorm."""
    if kind == "latency":
        return "latency_ms_b1_folded" if "latency_ms_b1_folded" in result else "latency_ms_b1"
    return "fps" if kind == "video" else "images_per_s"


def busy_table(figures):
    lines = ["| measure | idle | one core busy | busy / idle | target | met |", "|---|---|---|---|---|---|"]
    for figure in figures:
        if "error" in figure:
            lines.append(f"| {figure['label']} | failed: {figure['error']} | | | | |")
            continue
        lines.append(f"| {figure['label']} | {figure['idle']:.2f} | {figure['busy']:.2f} | {figure['ratio']:.2f} "
                     f"| {figure['target']} | {'yes' if figure['meets'] else 'no'} |")
    return "\n".join(lines)
