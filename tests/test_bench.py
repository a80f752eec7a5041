"""benchmarks/bench.py: every worker runs in its own process; what each is started with."""
import subprocess

import pytest

from benchmarks import bench
from tests.helpers import blas_threads


def test_other_frameworks_run_without_minicnns_thread_pool_settings(monkeypatch):
    """PyTorch and ONNX Runtime are measured as their users run them: minicnn's passive
    OpenMP wait (minicnn.threads) would slow PyTorch's own OpenMP threads."""
    started = {}

    def fake_run(command, env, **kwargs):
        started[command[3]] = env                        # [python, bench.py, --worker, kind, ...]
        return subprocess.CompletedProcess(command, 0, stdout='{"images_per_s": 1.0}\n', stderr="")

    monkeypatch.setattr(bench.subprocess, "run", fake_run)
    monkeypatch.setenv("OMP_WAIT_POLICY", "PASSIVE")
    monkeypatch.setattr(bench, "environment_before_settings", lambda: {"AS_BEFORE": "1"})
    for kind in ("minicnn", "sgemm", "torch", "onnxruntime"):
        assert bench.run_worker([kind, "numba", "train", "vgg_bn"], threads=2) == {"images_per_s": 1.0}
    assert {kind for kind, env in started.items() if "AS_BEFORE" in env} == {"torch", "onnxruntime"}
    assert started["minicnn"]["OMP_WAIT_POLICY"] == "PASSIVE"
    assert all(env["OMP_NUM_THREADS"] == "2" and env["NUMBA_NUM_THREADS"] == "2" for env in started.values())


def test_machine_description_names_the_cpu_and_its_widest_vectors(tmp_path):
    """The ratios depend on the CPU's vector width (TensorFlow's against minicnn's moved 2.4x
    between an AVX-512 and an AVX2 machine), so the tables say which ran."""
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\ncpu family\t: 26\nmodel\t\t: 2\nmodel name\t: AMD EPYC\n"
                       "flags\t\t: fpu sse avx avx2 avx512f avx512vl\n")
    assert "AMD EPYC (family 26 model 2), AVX-512," in bench.machine_description(cpuinfo)
    first_core = cpuinfo.read_text().replace(" avx512f avx512vl", "")
    cpuinfo.write_text(first_core + "\n" + first_core.replace("processor\t: 0", "processor\t: 1"))
    assert ", AVX2," in bench.machine_description(cpuinfo)            # each core's block, read once
    assert "cores" in bench.machine_description(tmp_path / "missing")


@pytest.mark.skipif(max(blas_threads()) < 2, reason="BLAS runs on one thread here: no other way to choose")
def test_the_training_loop_figure_covers_a_whole_cycle_after_the_first_trial():
    """bench.training_loop_speed times the steps as fer_app trains: here one-thread steps
    take a third of the time, so after the first trial the loop runs on one thread, but
    for the trial of every thread in its cycle."""
    import time

    from minicnn.thread_choice import PROBE_STEPS, RECENT, WARM_UP
    calls = []

    def step():
        one = blas_threads() == {1}
        calls.append(one)
        time.sleep(0.002 if one else 0.006)
    result = bench.training_loop_speed(step)
    cycle = bench.LOOP_PROBE_EVERY + PROBE_STEPS
    assert len(calls) == WARM_UP + RECENT + PROBE_STEPS + cycle
    assert result["share_on_one_thread"] == bench.LOOP_PROBE_EVERY / cycle
    assert 0 < result["images_per_s"] < bench.BATCH / 0.002
