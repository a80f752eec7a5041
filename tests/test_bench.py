"""benchmarks/bench.py: every worker runs in its own process; what each is started with."""
import subprocess

from benchmarks import bench


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
