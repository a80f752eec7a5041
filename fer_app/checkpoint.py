"""Training checkpoints: everything needed to continue a run exactly where it stopped.

One .npz, written atomically: the model file (weights + architecture, so a checkpoint
also loads as a model), the optimizer state under "optim/...", the current epoch's
sample order, and a JSON "train_state" with the epoch, the position in it, the running
sums, the history and the state of every random generator (shuffling, augmentation,
dropout).
"""
import json

import numpy as np

from minicnn.model import ModelFileError, read_npz

OPTIM_PREFIX = "optim/"


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
    """The JSON train_state of a checkpoint; ModelFileError if the file is not one."""
    arrays = read_npz(path)
    if "train_state" not in arrays:
        raise ModelFileError(f"{path}: not a training checkpoint (no train_state)")
    return json.loads(str(arrays["train_state"]))


def load_checkpoint(path, model, optimizer, generators):
    """Restore model, optimizer and generators in place; returns (train_state, epoch_order or None)."""
    state = read_train_state(path)
    arrays = read_npz(path)
    model.load_weights(path)
    optimizer.load_state_dict({k[len(OPTIM_PREFIX):]: v for k, v in arrays.items() if k.startswith(OPTIM_PREFIX)})
    for name, generator in generators.items():
        generator.bit_generator.state = state["generators"][name]
    for index, generator in dropout_generators(model).items():
        generator.bit_generator.state = state["dropout_generators"][index]
    order = arrays["epoch_order"]
    return state, (order if order.size else None)
