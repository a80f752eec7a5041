"""A training run's progress and provenance: what a checkpoint's JSON "train_state" holds.

TrainState.to_dict gives the layout checkpoints have always had, key for key (fer_app.checkpoint
checks it on reading), so a run stopped by older code resumes; from_dict reads it back.
"""
import subprocess
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np

from fer_app.checkpoint import RUNNING_KEYS
from fer_app.model_store import sha256_of
from minicnn import Sequential


@dataclass
class Running:
    """Sums over the batches of the epoch so far: its mean loss, accuracy and speed."""
    loss: float = 0.0
    correct: int = 0
    seen: int = 0
    seconds: float = 0.0

    def add(self, mean_loss, correct, seen, seconds):
        self.loss += mean_loss * seen
        self.correct += correct
        self.seen += seen
        self.seconds += seconds

    @property
    def mean_loss(self):
        return self.loss / self.seen

    @property
    def accuracy(self):
        return self.correct / self.seen

    @property
    def images_per_s(self):
        return self.seen / self.seconds


@dataclass(kw_only=True)
class TrainState:
    """Where a run is (epoch, batch, running sums, history, best model) and how it was made."""
    options: dict                 # the run options (fer_app.train.RUN_OPTIONS), which --resume takes
    data: str | None = None       # --data, which --resume reads again unless given another
    num_train: int                # training images: --resume checks the data still has as many
    epoch: int = 0                # epochs finished
    batch: int = 0                # batches of the current epoch finished
    running: Running = field(default_factory=Running)
    history: list = field(default_factory=list)   # one record per finished epoch
    best_val_acc: float = -1.0
    command: list = field(default_factory=list)   # the command line that started the run
    code: list = field(default_factory=list)      # the code that ran, from where: one entry per (re)start
    init: dict | None = None      # the model file a warm restart (--init-from) started from
    best_epoch: int | None = None                 # the epoch best.npz holds; None before the first
    # The current epoch's order of training images; None until it is drawn. Checkpoints
    # keep it as an array beside the JSON, so it is no part of to_dict.
    epoch_order: np.ndarray | None = None

    def to_dict(self):
        saved = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "epoch_order"}
        saved["running"] = asdict(self.running)
        if self.best_epoch is None:
            del saved["best_epoch"]
        return saved

    @classmethod
    def from_dict(cls, saved, epoch_order=None):
        """saved: a train_state as fer_app.checkpoint.read_train_state checked it; its other entries are ignored."""
        names = {f.name for f in fields(cls)} - {"running", "epoch_order"}
        return cls(**{name: value for name, value in saved.items() if name in names},
                   running=Running(**{key: saved["running"][key] for key in RUNNING_KEYS}), epoch_order=epoch_order)

    def record_code(self):
        """Note which code continues the run, and from where: a run may be resumed by newer code."""
        self.code.append(code_version() | {"from_epoch": self.epoch + 1, "from_batch": self.batch})

    def finish_epoch(self, record):
        """Close the epoch with its history record; True if its validation accuracy is the best so far."""
        self.history.append(record)
        self.epoch += 1
        self.batch = 0
        self.running = Running()
        self.epoch_order = None
        improved = record["val_acc"] > self.best_val_acc
        if improved:
            self.best_val_acc, self.best_epoch = record["val_acc"], self.epoch
        return improved

    def run_record(self):
        """What history.json holds: how the run was made and how each epoch went."""
        return {"options": self.options, "command": self.command, "code": self.code, "init": self.init,
                "history": self.history, "best_val_acc": self.best_val_acc, "best_epoch": self.best_epoch}


def code_version():
    """{"commit": git HEAD of this code or None, "dirty": whether it had uncommitted changes}."""
    def git(*args):
        return subprocess.run(["git", *args], capture_output=True, text=True, check=True,
                              cwd=Path(__file__).resolve().parent).stdout.strip()
    try:
        return {"commit": git("rev-parse", "HEAD"), "dirty": bool(git("status", "--porcelain", "--untracked-files=no"))}
    except (OSError, subprocess.CalledProcessError):
        return {"commit": None, "dirty": None}


def init_record(path):
    """What a warm restart started from: the file, its SHA-256 and its meta (arch, epoch...); None without one."""
    if not path:
        return None
    return {"path": str(path), "sha256": sha256_of(path), "meta": Sequential.load(path).meta}
