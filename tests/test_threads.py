"""minicnn.threads: the thread-pool settings minicnn makes when imported, and the
environment as it was before them, which other software started from minicnn gets."""
import json
import os
import subprocess
import sys
from pathlib import Path

from minicnn.threads import POOL_SETTINGS

ROOT = Path(__file__).resolve().parents[1]


def test_a_users_setting_wins_and_the_environment_before_is_kept():
    code = ("import json, os; import minicnn.threads as threads; before = threads.environment_before_settings(); "
            "print(json.dumps([os.environ.get(name) for name in threads.POOL_SETTINGS] "
            "+ [before.get(name) for name in threads.POOL_SETTINGS]))")
    environment = {name: value for name, value in os.environ.items() if name not in POOL_SETTINGS}
    environment |= {"OMP_WAIT_POLICY": "ACTIVE", "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-c", code], env=environment, capture_output=True, text=True, check=True)
    assert list(POOL_SETTINGS) == ["OMP_WAIT_POLICY", "OPENBLAS_THREAD_TIMEOUT"]
    # In the process: the user's ACTIVE, minicnn's 4. Before: ACTIVE, and no timeout at all.
    assert json.loads(result.stdout) == ["ACTIVE", "4", "ACTIVE", None]
