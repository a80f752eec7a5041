"""The training and evaluation commands: learning on real faces, exact resume, honest figures."""
import json
import signal
import subprocess
import sys

import numpy as np
import pytest

from data_tools.fer2013 import load_split, save_cache
from data_tools.labels import EMOTIONS
from fer_app.metrics import classification_report, confusion_matrix
from fer_app.model_store import sha256_of
from fer_app.train_state import TrainState
from minicnn import Sequential
from minicnn.model import read_npz


def run_module(module, *args, timeout=600):
    return subprocess.run([sys.executable, "-m", module, *map(str, args)], capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture
def synthetic_cache(tmp_path):
    """A tiny FER-shaped data set whose classes differ in brightness, saved as an import cache."""
    rng = np.random.default_rng(0)

    def split(count):
        labels = rng.integers(0, len(EMOTIONS), count)
        images = rng.integers(0, 60, (count, 48, 48)) + labels[:, None, None] * 25
        return images.astype(np.uint8), labels

    path = tmp_path / "cache.npz"
    save_cache(path, {"train": split(96), "validation": split(40)})
    return path


def train_args(cache, out, *extra, arch="small"):
    return ["--data", cache, "--arch", arch, "--epochs", 2, "--batch-size", 16, "--out", out, *extra]


# arch -> arrays of its model file: small has W, b of 4 layers; vgg_bn W, b of 9 layers
# and gamma, beta, running_mean, running_var of 8 BatchNorms.
SAVED_ARRAYS = {"small": 8, "vgg_bn": 2 * 9 + 4 * 8}


@pytest.mark.parametrize("arch, extra", [("small", ()), ("small", ("--erase", 0.5)), ("vgg_bn", ())])
def test_resume_gives_the_same_weights_as_an_uninterrupted_run(synthetic_cache, tmp_path, arch, extra):
    straight = run_module("fer_app.train", *train_args(synthetic_cache, tmp_path / "straight", *extra, arch=arch))
    assert straight.returncode == 0, straight.stderr
    first = run_module("fer_app.train", *train_args(synthetic_cache, tmp_path / "split", "--max-steps", 9, *extra,
                                                    arch=arch))
    assert first.returncode == 0, first.stderr
    assert "stopped (--max-steps 9) at epoch 2, batch 3" in first.stdout
    resumed = run_module("fer_app.train", "--data", synthetic_cache, "--out", tmp_path / "split", "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert "resumed from" in resumed.stdout

    a, b = read_npz(tmp_path / "straight" / "last.npz"), read_npz(tmp_path / "split" / "last.npz")
    weight_names = [k for k in a if k[0].isdigit() and "/" not in k]
    assert len(weight_names) == SAVED_ARRAYS[arch]
    for name in weight_names:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)
    assert json.loads(str(a["config"]))["meta"] == json.loads(str(b["config"]))["meta"]   # the best epoch too
    history_a = json.loads((tmp_path / "straight" / "history.json").read_text())["history"]
    history_b = json.loads((tmp_path / "split" / "history.json").read_text())["history"]
    for epoch_a, epoch_b in zip(history_a, history_b):
        for key in ("train_loss", "train_acc", "val_loss", "val_acc", "lr"):
            assert epoch_a[key] == epoch_b[key], key
    for name in ("best.npz", "curves.png", "best_report.json"):
        assert (tmp_path / "split" / name).is_file()
    assert not list((tmp_path / "split").glob("*.tmp"))


def test_ctrl_c_saves_a_checkpoint_and_resume_continues(synthetic_cache, tmp_path):
    out = tmp_path / "run"
    args = ["--data", synthetic_cache, "--arch", "small", "--epochs", 40, "--batch-size", 16, "--out", out]
    process = subprocess.Popen([sys.executable, "-m", "fer_app.train", *map(str, args)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen = ""
    while "batch/s" not in seen and "s/batch" not in seen:   # tqdm has shown a training step
        char = process.stderr.read(1)
        assert char, f"training ended early: {seen[-500:]}"
        seen += char
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 0, stderr
    assert "stopped (SIGINT)" in stdout and "--resume" in stdout
    state = json.loads(str(read_npz(out / "last.npz")["train_state"]))
    assert 1 <= state["epoch"] * 6 + state["batch"] < 40 * 6   # stopped part-way
    resumed = run_module("fer_app.train", "--out", out, "--resume")   # data and options from the checkpoint
    assert resumed.returncode == 0, resumed.stderr
    history = json.loads((out / "history.json").read_text())["history"]
    assert [epoch["epoch"] for epoch in history] == list(range(1, 41))


def test_resume_refuses_other_options_and_other_data(synthetic_cache, tmp_path):
    first = run_module("fer_app.train", *train_args(synthetic_cache, tmp_path / "run", "--max-steps", 3))
    assert first.returncode == 0, first.stderr
    changed = run_module("fer_app.train", "--out", tmp_path / "run", "--resume", "--epochs", 5)
    assert changed.returncode == 2
    assert "--epochs is 2, not 5" in changed.stderr and len(changed.stderr.strip().splitlines()) == 1
    default_value = run_module("fer_app.train", "--out", tmp_path / "run", "--resume", "--batch-size", 64)
    assert default_value.returncode == 2 and "--batch-size is 16, not 64" in default_value.stderr   # 64: the default
    rng = np.random.default_rng(1)
    other = tmp_path / "other.npz"
    save_cache(other, {"train": (rng.integers(0, 255, (50, 48, 48)).astype(np.uint8), rng.integers(0, 7, 50)),
                       "validation": (rng.integers(0, 255, (10, 48, 48)).astype(np.uint8), rng.integers(0, 7, 10))})
    wrong_data = run_module("fer_app.train", "--out", tmp_path / "run", "--resume", "--data", other)
    assert wrong_data.returncode == 2 and "trained on 96 images" in wrong_data.stderr


def test_resume_lengthens_a_constant_rate_run_exactly(synthetic_cache, tmp_path):
    constant = ("--schedule", "constant", "--lr", 0.01, "--warmup-epochs", 0.5)
    straight = run_module("fer_app.train", *train_args(synthetic_cache, tmp_path / "straight", *constant),
                          "--epochs", 3)
    assert straight.returncode == 0, straight.stderr
    short = run_module("fer_app.train", *train_args(synthetic_cache, tmp_path / "short", *constant))
    assert short.returncode == 0, short.stderr
    longer = run_module("fer_app.train", "--out", tmp_path / "short", "--resume", "--epochs", 3)
    assert longer.returncode == 0, longer.stderr

    a, b = read_npz(tmp_path / "straight" / "last.npz"), read_npz(tmp_path / "short" / "last.npz")
    for name in (k for k in a if k[0].isdigit()):
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)
    history = json.loads((tmp_path / "short" / "history.json").read_text())
    assert history["options"]["epochs"] == 3 and len(history["history"]) == 3
    shorter = run_module("fer_app.train", "--out", tmp_path / "short", "--resume", "--epochs", 2)
    assert shorter.returncode == 2 and "--epochs is 3, not 2" in shorter.stderr


def test_resume_does_not_lengthen_a_cosine_run(synthetic_cache, tmp_path):
    first = run_module("fer_app.train", *train_args(synthetic_cache, tmp_path / "run"))
    assert first.returncode == 0, first.stderr
    longer = run_module("fer_app.train", "--out", tmp_path / "run", "--resume", "--epochs", 3)
    assert longer.returncode == 2 and "with --schedule constant or step only" in longer.stderr
    assert len(longer.stderr.strip().splitlines()) == 1


def test_step_schedule_trains(synthetic_cache, tmp_path):
    result = run_module("fer_app.train", *train_args(synthetic_cache, tmp_path / "step", "--schedule", "step",
                                                     "--lr", 0.01, "--warmup-epochs", 0, "--step-epochs", 1))
    assert result.returncode == 0, result.stderr
    history = json.loads((tmp_path / "step" / "history.json").read_text())["history"]
    assert [epoch["lr"] for epoch in history] == pytest.approx([0.01, 0.001])


def test_init_from_starts_where_the_model_file_left_off(synthetic_cache, tmp_path):
    first = run_module("fer_app.train", *train_args(synthetic_cache, tmp_path / "first"))
    assert first.returncode == 0, first.stderr
    model_file = tmp_path / "first" / "best.npz"
    first_record = json.loads((tmp_path / "first" / "history.json").read_text())
    # A rate too small to move the weights: the restart's first validation is the file's.
    restart = run_module("fer_app.train", *train_args(synthetic_cache, tmp_path / "restart", "--init-from", model_file,
                                                      "--lr", "1e-12", "--warmup-epochs", 0))
    assert restart.returncode == 0, restart.stderr
    record = json.loads((tmp_path / "restart" / "history.json").read_text())
    assert record["history"][0]["val_acc"] == first_record["best_val_acc"]
    assert record["init"]["sha256"] == sha256_of(model_file)
    assert record["init"]["meta"]["epoch"] == first_record["best_epoch"]


def test_init_from_a_model_of_another_architecture_is_one_line(synthetic_cache, tmp_path):
    first = run_module("fer_app.train", *train_args(synthetic_cache, tmp_path / "first", "--epochs", 1))
    assert first.returncode == 0, first.stderr
    result = run_module("fer_app.train", *train_args(synthetic_cache, tmp_path / "other", "--arch", "report",
                                                     "--init-from", tmp_path / "first" / "best.npz"))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert ("another network: the file's 11 layers differ from the model's 16 from layer 2 on "
            "(file: MaxPool2D, model: Conv2D)") in result.stderr


def test_nan_loss_stops_with_a_clear_message(synthetic_cache, tmp_path):
    result = run_module("fer_app.train", *train_args(synthetic_cache, tmp_path / "nan", "--lr", "1e30",
                                                     "--warmup-epochs", 0, "--optimizer", "sgd"))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("error: loss became")


def test_training_needs_data_and_a_checkpoint_to_resume(tmp_path):
    from minicnn.models import small_cnn
    small_cnn().save(tmp_path / "model" / "last.npz")   # a model file, not a checkpoint
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "last.npz").write_bytes(b"junk")
    for args in (["--arch", "small"], ["--resume", "--out", tmp_path],
                 ["--resume", "--out", tmp_path / "model"], ["--resume", "--out", tmp_path / "junk"]):
        result = run_module("fer_app.train", *args)
        assert result.returncode == 2 and "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("option, value", [("--batch-size", 0), ("--dropout", 1), ("--epochs", -1), ("--lr", "nan"),
                                           ("--lr", 0), ("--momentum", 1.5), ("--weight-decay", "inf"),
                                           ("--label-smoothing", -0.1), ("--time-limit", "-5"), ("--erase", 1)])
def test_bad_training_options_are_usage_errors(option, value):
    result = run_module("fer_app.train", "--data", "x.npz", option, value)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"argument {option}" in result.stderr


def test_erasing_without_augmentation_is_a_usage_error():
    result = run_module("fer_app.train", "--data", "x.npz", "--no-augment", "--erase", 0.5)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "--erase is part of the augmentation" in result.stderr


def test_classification_report_against_a_hand_computed_matrix():
    y_true = [0, 0, 0, 1, 1, 2, 2, 2, 2, 3]
    y_pred = [0, 0, 1, 1, 2, 2, 2, 0, 2, 0]
    matrix = confusion_matrix(y_true, y_pred, num_classes=4)
    np.testing.assert_array_equal(matrix, [[2, 1, 0, 0], [0, 1, 1, 0], [1, 0, 3, 0], [1, 0, 0, 0]])
    report = classification_report(matrix, class_names=["a", "b", "c", "d"])
    assert report["accuracy"] == pytest.approx(6 / 10)
    assert report["per_class"]["a"] == pytest.approx({"precision": 2 / 4, "recall": 2 / 3, "f1": 4 / 7, "support": 3})
    assert report["per_class"]["c"]["precision"] == pytest.approx(3 / 4)
    assert report["per_class"]["c"]["recall"] == pytest.approx(3 / 4)
    assert report["per_class"]["d"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}
    assert report["macro_f1"] == pytest.approx((4 / 7 + 0.5 + 0.75 + 0) / 4)


@pytest.mark.parametrize("mirror", [True, False])
def test_evaluate_command_reports_what_the_model_predicts(synthetic_cache, tmp_path, mirror):
    run = run_module("fer_app.train", *train_args(synthetic_cache, tmp_path / "run"))
    assert run.returncode == 0, run.stderr
    model_path = tmp_path / "run" / "best.npz"
    result = run_module("fer_app.evaluate", "--data", synthetic_cache, "--split", "validation",
                        "--model", model_path, "--out", tmp_path / "eval", *([] if mirror else ["--no-mirror"]))
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "eval" / "report.json").read_text())
    images, labels = load_split(synthetic_cache, "validation")
    from data_tools.preprocess import normalize
    model, faces = Sequential.load(model_path), normalize(images)
    probabilities = model.predict_proba(faces)
    if mirror:
        probabilities = (probabilities + model.predict_proba(faces[..., ::-1].copy())) / 2
    predicted = probabilities.argmax(axis=1)
    expected = np.zeros((7, 7), dtype=int)
    for t, p in zip(labels, predicted):
        expected[t, p] += 1
    assert report["mirror"] == mirror
    assert report["confusion_matrix"] == expected.tolist()
    assert report["accuracy"] == pytest.approx(np.mean(predicted == labels))
    assert report["loss"] == pytest.approx(-np.mean(np.log(probabilities[np.arange(len(labels)), labels])), rel=1e-4)
    assert (tmp_path / "eval" / "confusion.png").stat().st_size > 1000
    assert "confusion matrix" in result.stdout


@pytest.mark.slow
def test_short_training_on_real_faces_beats_chance(fer2013_dir, tmp_path):
    result = run_module("fer_app.train", "--data", fer2013_dir, "--arch", "small", "--epochs", 3, "--limit", 6000,
                        "--optimizer", "adam", "--lr", "2e-3", "--weight-decay", 0, "--no-augment",
                        "--out", tmp_path / "real", timeout=1200)
    assert result.returncode == 0, result.stderr
    history = json.loads((tmp_path / "real" / "history.json").read_text())
    best = max(epoch["val_acc"] for epoch in history["history"])
    # The most frequent class (happy) is 24.9% of the validation split; guessing is 14%.
    assert best > 0.33, history["history"]


def damaged_checkpoints():
    """name -> a function that damages (arrays, train_state) of a good checkpoint in place."""
    def state(change):
        return lambda arrays, saved: change(saved)

    def set_option(option, value):
        return state(lambda saved: saved["options"].__setitem__(option, value))

    def array(name, value):
        return lambda arrays, saved: arrays.__setitem__(name, value)

    return {
        "train_state not JSON": lambda arrays, saved: arrays.__setitem__("train_state", np.array("{oops")),
        "train_state a list": lambda arrays, saved: arrays.__setitem__("train_state", np.array("[1, 2]")),
        "no options": state(lambda saved: saved.pop("options")),
        "no generators": state(lambda saved: saved.pop("generators")),
        "a bad generator state": state(lambda saved: saved["generators"].__setitem__("shuffle", {"state": 1})),
        "running without seen": state(lambda saved: saved["running"].pop("seen")),
        "negative epoch": state(lambda saved: saved.__setitem__("epoch", -3)),
        "unknown arch": set_option("arch", "transformer"),
        "batch size 0": set_option("batch_size", 0),
        "lr a string": set_option("lr", "fast"),
        "augment a number": set_option("augment", 3),
        "erase a string": set_option("erase", "often"),
        "no epoch order": lambda arrays, saved: arrays.pop("epoch_order"),
        "short epoch order": lambda arrays, saved: arrays.__setitem__("epoch_order", arrays["epoch_order"][:10]),
        "epoch order out of range": lambda arrays, saved: arrays.__setitem__(
            "epoch_order", arrays["epoch_order"] + 1000),
        "optimizer steps a string": array("optim/steps", np.array("many")),
        "optimizer state of the wrong shape": array("optim/0.W/velocity", np.zeros((3, 3), np.float32)),
        "optimizer state for no parameter": array("optim/99.W/velocity", np.zeros(3, np.float32)),
    }


DAMAGES = damaged_checkpoints()


@pytest.fixture(scope="module")
def stopped_run(tmp_path_factory):
    """A run stopped mid-epoch with a checkpoint (module-wide: each test copies it)."""
    folder = tmp_path_factory.mktemp("stopped")
    rng = np.random.default_rng(0)
    labels = rng.integers(0, len(EMOTIONS), 96)
    cache = folder / "cache.npz"
    save_cache(cache, {"train": ((rng.integers(0, 60, (96, 48, 48)) + labels[:, None, None] * 25).astype(np.uint8),
                                 labels),
                       "validation": (rng.integers(0, 255, (20, 48, 48)).astype(np.uint8), rng.integers(0, 7, 20))})
    result = run_module("fer_app.train", *train_args(cache, folder / "run", "--max-steps", 9))
    assert result.returncode == 0, result.stderr
    return cache, folder / "run"


@pytest.mark.parametrize("damage", DAMAGES)
def test_resume_from_a_damaged_checkpoint_is_one_line(stopped_run, tmp_path, damage):
    cache, run = stopped_run
    arrays = read_npz(run / "last.npz")
    original = arrays["train_state"]
    saved = json.loads(str(original))
    DAMAGES[damage](arrays, saved)
    if arrays["train_state"] is original:       # the damage was to the parsed state: write it back
        arrays["train_state"] = np.array(json.dumps(saved))
    (tmp_path / "run").mkdir()
    np.savez(tmp_path / "run" / "last.npz", **arrays)
    before = (tmp_path / "run" / "last.npz").read_bytes()
    result = run_module("fer_app.train", "--data", cache, "--out", tmp_path / "run", "--resume")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert (tmp_path / "run" / "last.npz").read_bytes() == before


def test_train_state_writes_back_the_checkpoint_json_it_read(stopped_run):
    """Checkpoints keep their layout key for key, so runs stopped by older code resume."""
    _, run = stopped_run
    saved = json.loads(str(read_npz(run / "last.npz")["train_state"]))
    restored = TrainState.from_dict(saved).to_dict()
    assert json.dumps(restored) == json.dumps({key: value for key, value in saved.items()
                                               if key not in ("generators", "dropout_generators")})


def test_a_checkpoint_from_before_erasing_resumes_without_it(stopped_run, tmp_path):
    cache, run = stopped_run
    arrays = read_npz(run / "last.npz")
    saved = json.loads(str(arrays["train_state"]))
    assert saved["options"].pop("erase") == 0.0
    arrays["train_state"] = np.array(json.dumps(saved))
    (tmp_path / "run").mkdir()
    np.savez(tmp_path / "run" / "last.npz", **arrays)
    result = run_module("fer_app.train", "--data", cache, "--out", tmp_path / "run", "--resume")
    assert result.returncode == 0, result.stderr
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert history["options"]["erase"] == 0.0


def test_training_steps_move_to_one_thread_when_one_thread_is_faster(synthetic_cache, tmp_path):
    """Trainer.train_step runs through its ThreadChoice: with a clock on which one-thread
    steps are the faster, the steps after the first trial run the model on one BLAS thread."""
    from fer_app.train import make_trainer, new_state, parse_args
    from minicnn.thread_choice import PROBE_STEPS, RECENT, WARM_UP, ThreadChoice
    from tests.helpers import blas_threads

    argv = [str(arg) for arg in train_args(synthetic_cache, tmp_path / "run")]
    trainer = make_trainer(parse_args(argv))
    state = new_state(parse_args(argv), trainer, argv)
    state.epoch_order = np.arange(trainer.num_train)
    clock = {"now": 0.0}
    trainer.thread_choice = choice = ThreadChoice(clock=lambda: clock["now"])
    seen, forward = [], trainer.model.forward

    def timed_forward(x, training=False):
        seen.append(blas_threads())
        clock["now"] += 1.0 if choice.threads == "one" else 3.0
        return forward(x, training)
    trainer.model.forward = timed_forward
    for _ in range(WARM_UP + RECENT + PROBE_STEPS + 2):
        state.batch %= trainer.steps_per_epoch
        trainer.train_step(state)
    assert choice.one
    assert seen[:WARM_UP + RECENT] == [blas_threads()] * (WARM_UP + RECENT)
    assert seen[WARM_UP + RECENT:] == [{1}] * (PROBE_STEPS + 2)
