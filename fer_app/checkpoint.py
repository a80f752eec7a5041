"""Training checkpoints: everything needed to continue a run exactly where it stopped.

One .npz, written atomically: the model file (weights + architecture, so a checkpoint
also loads as a model), the optimizer state under "optim/...", the current epoch's
sample order, and a JSON "train_state" with the epoch, the position in it, the running
sums, the history and the state of every random generator (shuffling, augmentation,
dropout).
"""
import json
import numbers

import numpy as np

from minicnn.npzfile import ModelFileError, npz_headers, read_npz

OPTIM_PREFIX = "optim/"
# What a train_state must hold, and the type of each: a checkpoint is checked whole before
# anything is restored from it, so a damaged one is a one-line error, not a half-restored run.
STATE_TYPES = {"options": dict, "epoch": numbers.Integral, "batch": numbers.Integral, "running": dict,
               "history": list, "best_val_acc": numbers.Real, "num_train": numbers.Integral,
               "generators": dict, "dropout_generators": dict}
RUNNING_KEYS = ("loss", "correct", "seen", "seconds")


def dropout_generators(model):
    """{layer index: generator} for the layers that draw random numbers."""
    return {str(i): layer.rng for i, layer in enumerate(model.layers) if hasattr(layer, "rng")}


def save_checkpoint(path, model, optimizer, train_state, generators, epoch_order):
    state = dict(train_state)
    state["generators"] = {name: g.bit_generator.state for name, g in generators.items()}
    state["dropout_generators"] = {i: g.bit_generator.state for i, g in dropout_generators(model).items()}
    extra = {OPTIM_PREFIX + key: value for key, value in optimizer.state_dict().items()}
    extra["train_state"] = np.array(json.dumps(state))
    extra["epoch_order"] = np.asarray(epoch_order if epoch_order is not None else [], dtype=np.int64)
    model.save(path, extra_arrays=extra)


def read_train_state(path):
    """The JSON train_state of a checkpoint, checked to hold every entry of STATE_TYPES; ModelFileError if not."""
    arrays = read_npz(path, ["train_state"])
    if "train_state" not in arrays:
        raise ModelFileError(f"{path}: not a training checkpoint (no train_state)")
    try:
        state = json.loads(str(arrays["train_state"]))
    except (json.JSONDecodeError, RecursionError) as error:
        raise ModelFileError(f"{path}: its train_state is not valid JSON ({error})") from None
    if not isinstance(state, dict):
        raise ModelFileError(f"{path}: its train_state is not a JSON object")
    for key, kind in STATE_TYPES.items():
        value = state.get(key)
        if not isinstance(value, kind) or isinstance(value, bool):
            raise ModelFileError(f"{path}: train_state's '{key}' is {value!r}, not a {kind.__name__}")
    running = state["running"]
    if not all(isinstance(running.get(key), numbers.Real) for key in RUNNING_KEYS):
        raise ModelFileError(f"{path}: train_state's 'running' lacks one of {', '.join(RUNNING_KEYS)}")
    if state["epoch"] < 0 or state["batch"] < 0 or state["num_train"] < 1:
        raise ModelFileError(f"{path}: train_state's epoch, batch or num_train is out of range")
    return state


def load_checkpoint(path, model, optimizer, generators):
    """Restore model, optimizer and generators in place; returns (train_state, epoch_order or None).

    Everything is checked before the run continues: the weights (Sequential.load_weights),
    the optimizer state against the model's parameters, every generator state, and the
    epoch's sample order, which must be a permutation of the training images.
    """
    state = read_train_state(path)
    model.load_weights(path)
    arrays = read_npz(path, ["epoch_order"] + [name for name in _optimizer_names(path)])
    optimizer_state = {k[len(OPTIM_PREFIX):]: v for k, v in arrays.items() if k.startswith(OPTIM_PREFIX)}
    _check_optimizer_state(optimizer_state, model, path)
    optimizer.load_state_dict(optimizer_state)
    for name, generator in generators.items():
        _restore_generator(generator, state["generators"].get(name), f"{path}: generator '{name}'")
    for index, generator in dropout_generators(model).items():
        _restore_generator(generator, state["dropout_generators"].get(index), f"{path}: dropout generator {index}")
    order = arrays.get("epoch_order", np.zeros(0, np.int64))
    if state["batch"] > 0 and not order.size:
        raise ModelFileError(f"{path}: stopped in the middle of an epoch but holds no epoch_order")
    if order.size and (order.ndim != 1 or order.dtype.kind not in "iu"
                       or not np.array_equal(np.sort(order), np.arange(state["num_train"]))):
        raise ModelFileError(f"{path}: its epoch_order is not a permutation of the {state['num_train']} training images")
    return state, (order if order.size else None)


def _optimizer_names(path):
    return [name for name in npz_headers(path) if name.startswith(OPTIM_PREFIX)]


def _check_optimizer_state(flat, model, path):
    for key in ("steps", "lr"):
        value = flat.get(key)
        if value is None or value.shape != () or value.dtype.kind not in "iuf" or not np.isfinite(value):
            raise ModelFileError(f"{path}: the optimizer's '{key}' is missing or not a finite number")
    params = {name: param for name, param, _ in model.named_parameters()}
    for key, value in flat.items():
        if "/" not in key:
            continue
        name = key.rsplit("/", 1)[0]
        if name not in params or value.shape != params[name].shape or value.dtype.kind != "f":
            raise ModelFileError(f"{path}: the optimizer state '{key}' fits no parameter of the model")


def _restore_generator(generator, saved, where):
    try:
        generator.bit_generator.state = saved
    except (TypeError, ValueError, KeyError, AttributeError) as error:
        raise ModelFileError(f"{where} cannot be restored ({type(error).__name__}: {error})") from None
