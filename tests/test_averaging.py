"""Weight averaging: minicnn.averaging, train --keep-epochs, fer_app.average and shipping its model."""
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from data_tools.fer2013 import load_split, save_cache
from data_tools.labels import EMOTIONS
from data_tools.preprocess import normalize
from fer_app import ship
from fer_app.errors import AppError
from fer_app.evaluation import evaluate_split
from fer_app.model_store import sha256_of
from minicnn import BatchNorm1D, BatchNorm2D, Conv2D, Dense, Flatten, ReLU, Sequential
from minicnn.averaging import average_weights, recompute_batchnorm_statistics
from tests.test_ship import shipped_pair  # noqa: F401  (a fixture)
from tests.test_training import run_module, train_args


def test_average_weights_is_the_mean_in_each_arrays_dtype():
    rng = np.random.default_rng(0)
    sets = [{"0.W": rng.normal(size=(3, 4)).astype(np.float32), "1.b": rng.normal(size=5)} for _ in range(3)]
    averaged = average_weights(sets)
    np.testing.assert_allclose(averaged["0.W"], (sets[0]["0.W"] + sets[1]["0.W"] + sets[2]["0.W"]) / 3, rtol=1e-6)
    np.testing.assert_allclose(averaged["1.b"], np.mean([s["1.b"] for s in sets], axis=0), rtol=1e-12)
    assert averaged["0.W"].dtype == np.float32 and averaged["1.b"].dtype == np.float64
    np.testing.assert_array_equal(average_weights([sets[0]])["0.W"], sets[0]["0.W"])


@pytest.mark.parametrize("other", [{"0.W": np.zeros((3, 4))}, {"0.W": np.zeros((4, 3)), "1.b": np.zeros(5)}])
def test_average_weights_refuses_sets_that_differ_in_names_or_shapes(other):
    with pytest.raises(ValueError):
        average_weights([{"0.W": np.zeros((3, 4)), "1.b": np.zeros(5)}, other])
    with pytest.raises(ValueError, match="nothing"):
        average_weights([])


def small_batchnorm_net():
    rng = np.random.default_rng(1)
    return Sequential([Conv2D(1, 3, 3, rng=rng, padding="same", init="he_normal"), BatchNorm2D(3), ReLU(),
                       Flatten(), Dense(3 * 6 * 6, 4, rng=rng), BatchNorm1D(4)])


def batch_statistics(values, axes):
    return values.mean(axis=axes), values.var(axis=axes, ddof=1)


def test_recomputed_statistics_are_the_mean_of_each_batchs_statistics():
    model = small_batchnorm_net()
    for layer in (model.layers[1], model.layers[5]):      # whatever they held must not matter
        layer.state["running_mean"][...] = 7.0
        layer.state["running_var"][...] = 9.0
    params_before = {name: value.copy() for name, value, _ in model.named_parameters()}
    rng = np.random.default_rng(2)
    batches = [rng.normal(size=(n, 1, 6, 6)).astype(np.float32) for n in (5, 8, 3)]

    # Each BatchNorm's statistics in a training-mode pass, batch by batch, computed by hand.
    conv_stats, dense_stats = [], []
    for x in batches:
        conv_out = model.layers[0].forward(x, training=True)
        conv_stats.append(batch_statistics(conv_out.astype(np.float64), (0, 2, 3)))
        mean, var = conv_stats[-1]
        normalised = (conv_out - mean[None, :, None, None]) / np.sqrt(var[None, :, None, None] * (conv_out.size / 3 - 1)
                                                                      / (conv_out.size / 3) + 1e-5)
        hidden = model.layers[4].forward(np.maximum(normalised, 0).reshape(len(x), -1).astype(np.float32))
        dense_stats.append(batch_statistics(hidden.astype(np.float64), 0))

    assert recompute_batchnorm_statistics(model, iter(batches)) == 16
    for layer, stats in ((model.layers[1], conv_stats), (model.layers[5], dense_stats)):
        np.testing.assert_allclose(layer.state["running_mean"], np.mean([m for m, _ in stats], axis=0), atol=1e-5)
        np.testing.assert_allclose(layer.state["running_var"], np.mean([v for _, v in stats], axis=0), rtol=1e-4)
        assert layer.momentum == 0.1
    for name, value, _ in model.named_parameters():
        np.testing.assert_array_equal(value, params_before[name])


def test_recomputing_on_no_batches_is_an_error():
    with pytest.raises(ValueError, match="no batches"):
        recompute_batchnorm_statistics(small_batchnorm_net(), [])


@pytest.fixture(scope="module")
def kept_run(tmp_path_factory):
    """(cache, run folder) of a 3-epoch vgg_bn run that kept every epoch's model."""
    folder = tmp_path_factory.mktemp("averaging")
    rng = np.random.default_rng(0)

    def split(count):
        labels = rng.integers(0, len(EMOTIONS), count)
        return (rng.integers(0, 60, (count, 48, 48)) + labels[:, None, None] * 25).astype(np.uint8), labels

    cache = folder / "cache.npz"
    save_cache(cache, {"train": split(80), "validation": split(30)})
    result = run_module("fer_app.train", *train_args(cache, folder / "run", "--keep-epochs", "--epochs", 3,
                                                     arch="vgg_bn"))
    assert result.returncode == 0, result.stderr
    return cache, folder / "run"


@pytest.fixture
def run_copy(kept_run, tmp_path):
    return Path(shutil.copytree(kept_run[1], tmp_path / "run"))


def test_keep_epochs_keeps_every_epochs_model(kept_run):
    _, run = kept_run
    kept = sorted(path.name for path in (run / "epochs").iterdir())
    assert kept == ["epoch_001.npz", "epoch_002.npz", "epoch_003.npz"]
    last, third = Sequential.load(run / "last.npz"), Sequential.load(run / "epochs" / "epoch_003.npz")
    for name, value in last.weights().items():
        np.testing.assert_array_equal(third.weights()[name], value, err_msg=name)
    assert third.meta["epoch"] == 3
    best_epoch = json.loads((run / "history.json").read_text())["best_epoch"]
    assert Sequential.load(run / "best.npz").meta["epoch"] == best_epoch == last.meta["epoch"]


def test_average_writes_the_mean_weights_with_statistics_measured_anew(kept_run, run_copy):
    cache, _ = kept_run
    result = run_module("fer_app.average", "--run", run_copy, "--data", cache, "--from-epoch", 2)
    assert result.returncode == 0, result.stderr
    averaged = Sequential.load(run_copy / "averaged.npz")
    epochs = [Sequential.load(run_copy / "epochs" / f"epoch_00{n}.npz") for n in (2, 3)]
    for name, value, _ in averaged.named_parameters():
        expected = (epochs[0].weights()[name].astype(np.float64) + epochs[1].weights()[name]) / 2
        np.testing.assert_allclose(value, expected, rtol=1e-6, atol=1e-7, err_msg=name)

    # The statistics are those of the averaged weights on the training images, not the epochs' average.
    images, labels = load_split(cache, "train")
    expected_model = Sequential.load(run_copy / "averaged.npz")
    recompute_batchnorm_statistics(expected_model, (normalize(images[i:i + 16]) for i in range(0, len(images), 16)))
    for name, value in averaged.named_state():
        np.testing.assert_allclose(value, dict(expected_model.named_state())[name], rtol=1e-5, atol=1e-6)
        mean_of_epochs = (epochs[0].weights()[name].astype(np.float64) + epochs[1].weights()[name]) / 2
        assert not np.allclose(value, mean_of_epochs, rtol=1e-3), name
    assert averaged.meta["averaged_epochs"] == [2, 3] and "epoch" not in averaged.meta

    record = json.loads((run_copy / "averaged.json").read_text())
    assert record["sha256"] == sha256_of(run_copy / "averaged.npz")
    assert [entry["epoch"] for entry in record["epochs"]] == [2, 3]
    assert record["epochs"][0]["sha256"] == sha256_of(run_copy / "epochs" / "epoch_002.npz")
    assert record["batchnorm_statistics"]["images"] == len(labels) == 80
    val_images, val_labels = load_split(cache, "validation")
    _, accuracy, _ = evaluate_split(averaged, val_images, val_labels)
    assert record["validation"]["accuracy"] == accuracy
    assert f"accuracy {accuracy:.4f}" in result.stdout


def test_average_errors_are_one_line(kept_run, run_copy):
    cache, _ = kept_run
    checks = [(("--from-epoch", 2, "--to-epoch", 5), "no model kept for epoch 4, 5"),
              (("--from-epoch", 3, "--to-epoch", 2), "--from-epoch 3 is after --to-epoch 2")]
    for extra, message in checks:
        result = run_module("fer_app.average", "--run", run_copy, "--data", cache, *extra)
        assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr
    small = run_copy / "epochs" / "epoch_001.npz"
    Sequential([Flatten(), Dense(48 * 48, 7)]).save(small)
    result = run_module("fer_app.average", "--run", run_copy, "--data", cache)
    assert result.returncode == 2 and "another network" in result.stderr
    shutil.rmtree(run_copy / "epochs")
    result = run_module("fer_app.average", "--run", run_copy, "--data", cache)
    assert result.returncode == 2 and "train with --keep-epochs" in result.stderr
    assert not (run_copy / "averaged.npz").exists()


def test_shipping_the_average_records_how_it_was_made(kept_run, run_copy, shipped_pair):  # noqa: F811
    cache, _ = kept_run
    model_path, record_path = shipped_pair
    before = [path.read_bytes() for path in shipped_pair]
    with pytest.raises(AppError, match="run fer_app.average first"):
        ship.main(["--run", str(run_copy), "--data", str(cache), "--averaged"])
    assert run_module("fer_app.average", "--run", run_copy, "--data", cache).returncode == 0

    record = json.loads((run_copy / "averaged.json").read_text())
    (run_copy / "averaged.json").write_text(json.dumps(record | {"sha256": "0" * 64}))
    with pytest.raises(AppError, match="describes another model"):
        ship.main(["--run", str(run_copy), "--data", str(cache), "--averaged"])
    assert [path.read_bytes() for path in shipped_pair] == before

    (run_copy / "averaged.json").write_text(json.dumps(record))
    assert ship.main(["--run", str(run_copy), "--data", str(cache), "--averaged"]) == 0
    assert model_path.read_bytes() == (run_copy / "averaged.npz").read_bytes()
    shipped = json.loads(record_path.read_text())
    assert shipped["training"]["averaged"]["epochs"] == record["epochs"]
    assert shipped["training"]["best_epoch"] == 3
    assert "the average of the weights of epochs 1-3 (3 models" in ship.record_markdown(shipped)


def test_the_curves_mark_the_averaged_epochs(tmp_path):
    from fer_app.plots import training_curves
    history = [{"epoch": e, "train_loss": 1.0, "val_loss": 1.1, "train_acc": 0.5, "val_acc": 0.4 + e / 100,
                "lr": 0.01} for e in range(1, 6)]
    training_curves(history, tmp_path / "plain.png")
    training_curves(history, tmp_path / "marked.png", averaged=(2, 5, 0.5))
    assert (tmp_path / "marked.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "marked.png").read_bytes() != (tmp_path / "plain.png").read_bytes()
