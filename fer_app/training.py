"""The training loop: epochs of mini-batch steps, each epoch ending with validation, the best model and a checkpoint.

    while state.epoch < trainer.epochs:
        if not trainer.train_one_epoch(state, stop):   # stopped part-way
            trainer.save_checkpoint(state)
            ...
        trainer.end_of_epoch(state)

A Trainer holds what a run trains with, a TrainState (fer_app.train_state) how far it has
got. Every file it writes to its folder is written atomically: last.npz (the checkpoint),
best.npz (the model with the best validation accuracy so far), best_report.json (that
model's classification report), history.json and curves.png, and with keep_epochs
every epoch's model, epochs/epoch_NNN.npz (what fer_app.average averages).
"""
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
from tqdm import tqdm

from data_tools.augment import Augmenter
from data_tools.preprocess import normalize
from fer_app import plots
from fer_app.checkpoint import load_checkpoint, save_checkpoint
from fer_app.errors import AppError
from fer_app.evaluation import evaluate_split
from fer_app.metrics import classification_report
from fer_app.train_state import TrainState
from minicnn import Sequential, SoftmaxCrossEntropy
from minicnn.io import write_json
from minicnn.thread_choice import ThreadChoice


@dataclass
class Trainer:
    """What a run trains with: the model, its optimizer and loss, the data, the batch size and schedule."""
    model: Sequential
    optimizer: object               # minicnn.SGD or Adam
    loss_fn: SoftmaxCrossEntropy
    schedule: Callable[[int, int], float]   # (step, steps per epoch) -> the learning rate of that optimizer step
    train_images: np.ndarray
    train_labels: np.ndarray
    val_images: np.ndarray
    val_labels: np.ndarray
    batch_size: int
    epochs: int
    seed: int
    augment: bool
    out: Path
    erase: float = 0.0              # random-erasing probability, with augment on
    keep_epochs: bool = False       # keep every epoch's model, not only the best

    def __post_init__(self):
        # The random streams besides the model's own (dropout): checkpoints save them all.
        self.generators = {"shuffle": np.random.default_rng([self.seed, 1]),
                           "augment": np.random.default_rng([self.seed, 2])}
        self.augmenter = Augmenter(self.generators["augment"], erase_prob=self.erase) if self.augment else None
        # Every thread while the cores are free, one when another process takes a core.
        self.thread_choice = ThreadChoice()

    @property
    def num_train(self):
        return len(self.train_labels)

    @property
    def steps_per_epoch(self):
        return math.ceil(self.num_train / self.batch_size)

    @property
    def checkpoint_path(self):
        return self.out / "last.npz"

    def steps_done(self, state):
        """The optimizer steps the run has made: also the 0-based number of its next step."""
        return state.epoch * self.steps_per_epoch + state.batch

    def resume(self):
        """The state of the run checkpointed in the folder, with model, optimizer and generators restored from it."""
        saved, epoch_order = load_checkpoint(self.checkpoint_path, self.model, self.optimizer, self.generators)
        state = TrainState.from_dict(saved, epoch_order)
        if state.best_epoch is not None:    # model files record the epoch best.npz holds
            self.model.meta["epoch"] = state.best_epoch
        return state

    def train_one_epoch(self, state, stop):
        """Train the rest of the state's epoch; False if stop (a StopRequest) ended it part-way."""
        if state.epoch_order is None:
            state.epoch_order = self.generators["shuffle"].permutation(self.num_train)
        with tqdm(total=self.steps_per_epoch, initial=state.batch, desc=f"epoch {state.epoch + 1}/{self.epochs}",
                  unit="batch", dynamic_ncols=True) as bar:
            while state.batch < self.steps_per_epoch:
                images_per_s = self.train_step(state)
                running = state.running
                bar.set_postfix(loss=f"{running.mean_loss:.3f}", acc=f"{running.accuracy:.3f}",
                                img_s=f"{images_per_s:.0f}", lr=f"{self.optimizer.lr:.2g}",
                                threads=self.thread_choice.threads, refresh=False)
                bar.update()
                if stop.check(self.steps_done(state)) and state.batch < self.steps_per_epoch:
                    return False
        return True

    def train_step(self, state):
        """One optimizer step on the state's next batch; returns the images per second it trained."""
        started = time.perf_counter()
        self.optimizer.lr = self.schedule(self.steps_done(state), self.steps_per_epoch)
        x, y = self.batch(state)
        with self.thread_choice.step(len(y)):
            logits = self.model.forward(x, training=True)
            loss, dlogits = self.loss_fn(logits, y)
            if not np.isfinite(loss):
                raise AppError(f"loss became {loss} at epoch {state.epoch + 1}, batch {state.batch + 1} "
                               f"(lr {self.optimizer.lr:.3g}): training diverged; lower --lr. "
                               f"The last checkpoint ({self.checkpoint_path}) is intact")
            self.model.backward(dlogits, input_gradient=False)
            self.optimizer.step(self.model.named_parameters())
        seconds = time.perf_counter() - started
        state.running.add(loss, int((logits.argmax(axis=1) == y).sum()), len(y), seconds)
        state.batch += 1
        return len(y) / seconds

    def batch(self, state):
        """The training batch the state is at: (images normalized and, with augmentation, augmented; labels)."""
        index = state.epoch_order[state.batch * self.batch_size:(state.batch + 1) * self.batch_size]
        x = normalize(self.train_images[index])
        return (x if self.augmenter is None else self.augmenter(x)), self.train_labels[index]

    def end_of_epoch(self, state):
        """Validate, record the epoch, keep the model if it is the best so far, and write the run's files."""
        val_loss, val_acc, matrix = evaluate_split(self.model, self.val_images, self.val_labels)
        running = state.running
        record = {"epoch": state.epoch + 1, "lr": self.optimizer.lr,
                  "train_loss": running.mean_loss, "train_acc": running.accuracy,
                  "val_loss": val_loss, "val_acc": val_acc, "train_seconds": running.seconds,
                  "train_images_per_s": running.images_per_s}
        improved = state.finish_epoch(record)
        if self.keep_epochs:
            self.save_epoch_model(state.epoch)
        if improved:
            self.model.meta["epoch"] = state.epoch
            self.model.save(self.out / "best.npz")
            write_json(self.out / "best_report.json", classification_report(matrix))
        self.save_checkpoint(state)
        write_json(self.out / "history.json", state.run_record())
        plots.training_curves(state.history, self.out / "curves.png")
        print(f"epoch {state.epoch}: train loss {record['train_loss']:.4f} acc {record['train_acc']:.4f} | "
              f"val loss {val_loss:.4f} acc {val_acc:.4f}{'  (best)' if improved else ''} | "
              f"{record['train_images_per_s']:.0f} img/s", flush=True)

    def epoch_model_path(self, epoch):
        return self.out / "epochs" / f"epoch_{epoch:03d}.npz"

    def save_epoch_model(self, epoch):
        """This epoch's model as a model file; the model's meta keeps naming the epoch best.npz holds."""
        best_epoch = self.model.meta.get("epoch")
        self.model.meta["epoch"] = epoch
        self.epoch_model_path(epoch).parent.mkdir(exist_ok=True)
        self.model.save(self.epoch_model_path(epoch))
        self.model.meta["epoch"] = best_epoch

    def save_checkpoint(self, state):
        save_checkpoint(self.checkpoint_path, self.model, self.optimizer, state.to_dict(), self.generators,
                        state.epoch_order)
