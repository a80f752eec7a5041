"""The report network's speed in Keras/TensorFlow against minicnn's, taking turns in one run.

TensorFlow is too heavy for the project's extras, so it runs from a virtual environment
of its own, which this script is given:

    python -m venv ../tfvenv && ../tfvenv/bin/pip install tensorflow-cpu
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/tensorflow_by_hand.py --tf-python ../tfvenv/bin/python

Measured, with the same batch and threads: the training step (forward, backward, Adam;
batch 64; Keras' compiled step, `train_on_batch`, which runs a tf.function), batch-1
latency and batch-256 throughput (a compiled call of the model). The Keras network is
the report's own: channels last, 'valid' 5x5 and 3x3 convolutions, the same layer sizes
(1,375,175 parameters, checked). minicnn's figures come from bench.py's workers.
The TensorFlow side imports only TensorFlow and NumPy: it runs in that other environment.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.timing import median_seconds  # noqa: E402

BATCH = 64
REPORT_PARAMETERS = 1_375_175


def worker_tensorflow(threads):
    """Runs in the TensorFlow environment: {"images_per_s", "latency_ms_b1", "images_per_s_b256", "version"}."""
    import numpy as np
    import tensorflow as tf
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    layers = tf.keras.layers
    model = tf.keras.Sequential([
        tf.keras.Input((48, 48, 1)),
        layers.Conv2D(64, 5, activation="relu"), layers.Conv2D(64, 5, activation="relu"),
        layers.MaxPooling2D(2), layers.Dropout(0.4),
        layers.Conv2D(128, 3, activation="relu"), layers.Conv2D(128, 3, activation="relu"),
        layers.MaxPooling2D(2), layers.Dropout(0.4),
        layers.Flatten(), layers.Dense(128, activation="relu"), layers.Dense(7),
    ])
    assert model.count_params() == REPORT_PARAMETERS, model.count_params()
    model.compile(optimizer=tf.keras.optimizers.Adam(1e-3),
                  loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    rng = np.random.default_rng(0)
    x, y = rng.random((BATCH, 48, 48, 1), dtype=np.float32), rng.integers(0, 7, BATCH)
    step_seconds = median_seconds(lambda: model.train_on_batch(x, y), repeats=5)
    predict = tf.function(lambda images: tf.nn.softmax(model(images, training=False)))
    x1, x256 = tf.constant(x[:1]), tf.constant(rng.random((256, 48, 48, 1), dtype=np.float32))
    latency = median_seconds(lambda: predict(x1).numpy(), repeats=50, min_seconds=1.0)
    batch_seconds = median_seconds(lambda: predict(x256).numpy(), repeats=3)
    return {"images_per_s": BATCH / step_seconds, "latency_ms_b1": latency * 1000,
            "images_per_s_b256": 256 / batch_seconds, "version": tf.__version__}


def run_tensorflow(tf_python, threads):
    from minicnn.threads import environment_before_settings   # here: the worker side has no minicnn
    env = dict(environment_before_settings(), OMP_NUM_THREADS=str(threads), TF_CPP_MIN_LOG_LEVEL="2")
    result = subprocess.run([tf_python, __file__, "--worker", "--threads", str(threads)],
                            capture_output=True, text=True, env=env)
    if result.returncode != 0:
        return {"error": (result.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(result.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tf-python", help="the python of an environment with TensorFlow")
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker_tensorflow(args.threads)))
        return 0
    if not args.tf_python:
        parser.error("--tf-python is required: the python of an environment with TensorFlow")
    if subprocess.run([args.tf_python, "-c", "import tensorflow"], capture_output=True).returncode != 0:
        print(f"failed: {args.tf_python} cannot import tensorflow", file=sys.stderr)
        return 1
    from benchmarks.bench import machine_description, run_worker
    runs = {"minicnn train": [], "minicnn infer": [], "tensorflow": []}
    for round_number in range(args.rounds):
        print(f"round {round_number + 1}/{args.rounds} ...", file=sys.stderr, flush=True)
        runs["minicnn train"].append(run_worker(["minicnn", "numba", "train", "report"], args.threads))
        runs["minicnn infer"].append(run_worker(["minicnn", "numba", "infer", "report"], args.threads))
        runs["tensorflow"].append(run_tensorflow(args.tf_python, args.threads))
    errors = [r["error"] for results in runs.values() for r in results if "error" in r]
    if errors:
        print(f"failed: {errors[0]}", file=sys.stderr)
        return 1

    def median(name, key):
        return statistics.median(r[key] for r in runs[name])

    rows = [("training step, batch 64 (images/s)", median("minicnn train", "images_per_s"),
             median("tensorflow", "images_per_s"), False),
            ("inference latency, batch 1 (ms)", median("minicnn infer", "latency_ms_b1"),
             median("tensorflow", "latency_ms_b1"), True),
            ("inference, batch 256 (images/s)", median("minicnn infer", "images_per_s_b256"),
             median("tensorflow", "images_per_s_b256"), False)]
    print(f"report network, {args.threads} threads, medians of {args.rounds} rounds taking turns; "
          f"TensorFlow {runs['tensorflow'][0]['version']}; {machine_description()}\n")
    print("| measure | minicnn numba | Keras/TensorFlow | minicnn / TensorFlow (speed) |\n|---|---|---|---|")
    for label, ours, theirs, lower_is_better in rows:
        speed_ratio = theirs / ours if lower_is_better else ours / theirs
        print(f"| {label} | {ours:.2f} | {theirs:.2f} | {speed_ratio:.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
