"""benchmarks/tensorflow_by_hand.py: its Keras twin is sized like report_cnn, and it needs TensorFlow's python."""
import subprocess
import sys
from pathlib import Path

from benchmarks import tensorflow_by_hand
from minicnn.models import report_cnn

SCRIPT = Path(tensorflow_by_hand.__file__)


def test_the_keras_twin_is_checked_against_the_report_networks_size():
    model = report_cnn()
    assert tensorflow_by_hand.REPORT_PARAMETERS == model.num_params()


def test_without_a_tensorflow_python_it_is_a_usage_error():
    result = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True)
    assert result.returncode == 2 and "--tf-python is required" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_python_without_tensorflow_fails_in_one_line():
    result = subprocess.run([sys.executable, str(SCRIPT), "--tf-python", sys.executable],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 1 and "cannot import tensorflow" in result.stderr
