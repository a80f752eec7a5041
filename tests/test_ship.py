"""fer_app.ship: the shipped pair (model, record) is replaced only by a verified model, both together."""
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from data_tools.fer2013 import save_cache
from fer_app import ship
from fer_app.errors import USER_ERRORS
from fer_app.model_store import load_shipped_model, sha256_of
from minicnn import Dense, Flatten, Sequential
from tests.test_training import run_module, train_args


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """(cache, run folder) of a short finished training run, made once for the module."""
    folder = tmp_path_factory.mktemp("ship")
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 7, 96)
    cache = folder / "cache.npz"
    save_cache(cache, {"train": ((rng.integers(0, 60, (96, 48, 48)) + labels[:, None, None] * 25).astype(np.uint8),
                                 labels),
                       "validation": (rng.integers(0, 255, (40, 48, 48)).astype(np.uint8), rng.integers(0, 7, 40))})
    result = run_module("fer_app.train", *train_args(cache, folder / "run"))
    assert result.returncode == 0, result.stderr
    return cache, folder / "run"


@pytest.fixture
def synthetic_cache(finished_run):
    return finished_run[0]


@pytest.fixture
def trained_run(finished_run, tmp_path):
    """A copy of the finished run that a test may damage."""
    return Path(shutil.copytree(finished_run[1], tmp_path / "run"))


@pytest.fixture
def shipped_pair(tmp_path, monkeypatch, tiny_model_path):
    """A shipped pair in a temporary weights folder, which fer_app.ship will write to."""
    model_path, record_path = tmp_path / "weights" / "m.npz", tmp_path / "weights" / "m.json"
    model_path.parent.mkdir()
    model_path.write_bytes(tiny_model_path.read_bytes())
    record_path.write_text(json.dumps({"sha256": sha256_of(model_path)}))
    monkeypatch.setattr(ship, "shipped_paths", lambda name: (model_path, record_path))
    return model_path, record_path


def contents(pair):
    return [path.read_bytes() for path in pair]


def test_shipping_a_run_writes_a_verified_pair(trained_run, synthetic_cache, shipped_pair):
    assert ship.main(["--run", str(trained_run), "--data", str(synthetic_cache)]) == 0
    model_path, record_path = shipped_pair
    assert model_path.read_bytes() == (trained_run / "best.npz").read_bytes()
    record = json.loads(record_path.read_text())
    assert record["sha256"] == sha256_of(model_path)
    assert record["arch"] == "small" and record["evaluation"]["images"] == 40
    assert load_shipped_model(model_path, record_path).meta["arch"] == "small"
    assert not list(model_path.parent.glob("*.new")) and not list(model_path.parent.glob("*.tmp"))


def five_class_model(path):
    Sequential([Flatten(), Dense(48 * 48, 5)], meta={"classes": ["a", "b", "c", "d", "e"],
                                                     "input_shape": [1, 48, 48]}).save(path)


@pytest.mark.parametrize("damage", ["five_classes", "bad_split", "empty_history", "history_not_json"])
def test_a_failed_ship_leaves_the_shipped_pair_as_it_was(trained_run, synthetic_cache, shipped_pair, damage):
    before = contents(shipped_pair)
    args = ["--run", str(trained_run), "--data", str(synthetic_cache)]
    if damage == "five_classes":
        five_class_model(trained_run / "best.npz")
    elif damage == "bad_split":
        args += ["--split", "nope"]
    elif damage == "empty_history":
        (trained_run / "history.json").write_text("{}")
    else:
        (trained_run / "history.json").write_bytes(b"\xff\xfe not json")
    with pytest.raises(USER_ERRORS):
        ship.main(args)
    assert contents(shipped_pair) == before
    assert load_shipped_model(*shipped_pair) is not None
    assert not list(shipped_pair[0].parent.glob("*.new"))


def test_a_failed_record_rename_puts_the_previous_model_back(shipped_pair, monkeypatch, tmp_path):
    before = contents(shipped_pair)
    real_replace = ship.os.replace

    def failing_replace(source, target):
        if str(target).endswith(".json"):
            raise OSError("disk full")
        real_replace(source, target)

    monkeypatch.setattr(ship.os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk full"):
        ship.replace_pair(b"new model bytes", {"sha256": "x"}, *shipped_pair)
    assert contents(shipped_pair) == before
    assert np.all([path.exists() for path in shipped_pair])


@pytest.fixture
def warm_restart(trained_run, synthetic_cache, tmp_path):
    """A one-epoch run started (--init-from) from the trained run's best model."""
    restart = tmp_path / "restart"
    result = run_module("fer_app.train", *train_args(synthetic_cache, restart, "--epochs", 1,
                                                     "--init-from", trained_run / "best.npz"))
    assert result.returncode == 0, result.stderr
    return restart


def test_a_warm_restart_ships_with_the_record_of_the_run_it_began_from(trained_run, warm_restart, synthetic_cache,
                                                                       shipped_pair):
    assert ship.main(["--run", str(warm_restart), "--data", str(synthetic_cache)]) == 0
    record = json.loads(shipped_pair[1].read_text())
    first_run = json.loads((trained_run / "history.json").read_text())
    began_from = record["training"]["started_from"]
    assert began_from["sha256"] == sha256_of(trained_run / "best.npz")
    assert began_from["history"] == first_run["history"]
    assert [stage["epochs_completed"] for stage in ship.all_stages(record["training"])] == [2, 1]
    assert f"warm restart (`--init-from`) from epoch {first_run['best_epoch']}" in ship.record_markdown(record)


def test_a_warm_restart_from_a_model_of_unknown_making_is_not_shipped(trained_run, warm_restart, synthetic_cache,
                                                                      shipped_pair):
    before = contents(shipped_pair)
    (trained_run / "history.json").unlink()
    with pytest.raises(USER_ERRORS, match="its making cannot be recorded"):
        ship.main(["--run", str(warm_restart), "--data", str(synthetic_cache)])
    assert contents(shipped_pair) == before


def test_the_whole_history_joins_the_stages_where_the_restart_began():
    first = {"history": [{"epoch": e, "val_acc": e / 10} for e in (1, 2, 3)], "best_epoch": 2}
    restart = {"history": [{"epoch": e, "val_acc": 0.5 + e / 100} for e in (1, 2)], "started_from": first}
    joined = ship.whole_history(restart)
    assert [epoch["epoch"] for epoch in joined] == [1, 2, 3, 4]
    assert [epoch["val_acc"] for epoch in joined] == [0.1, 0.2, 0.51, 0.52]
    assert ship.whole_history(first) == first["history"]


def test_an_averaged_models_span_is_numbered_like_the_whole_history():
    first = {"history": [{"epoch": e} for e in (1, 2, 3)], "best_epoch": 2}
    averaging = {"history": [{"epoch": e} for e in (1, 2, 3, 4)], "started_from": first,
                 "averaged": {"epochs": [{"epoch": 2}, {"epoch": 3}, {"epoch": 4}]}}
    assert ship.averaged_span({"training": averaging, "single_view": {"accuracy": 0.7}}) == (4, 6, 0.7)
    assert ship.averaged_span({"training": first, "single_view": {"accuracy": 0.6}}) is None
