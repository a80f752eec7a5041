"""Train a network on FER2013 with minicnn.

    python -m fer_app.train --data ../shared/fer2013 --out runs/report   # the shipped model's recipe
    python -m fer_app.train --out runs/report --resume        # continue an interrupted run (same data)
    python -m fer_app.train --arch report --summary           # print the architecture
    python -m fer_app.train --arch vgg_bn --init-from runs/vgg_bn/best.npz --out runs/vgg_bn2   # a warm restart

Each epoch writes to --out, atomically: last.npz (checkpoint), best.npz (the model with
the best validation accuracy so far), history.json and curves.png. Ctrl-C (or SIGTERM,
or --max-steps / --time-limit) stops after the current batch with a checkpoint;
--resume then continues exactly: same weights as a run that was never interrupted.

The defaults are the recipe of the shipped model (docs/results.md): SGD with Nesterov
momentum, peak rate 0.02 after a 2-epoch warm-up, cosine decay over 40 epochs,
augmentation on.
"""
import argparse
import math
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from data_tools.augment import Augmenter
from data_tools.fer2013 import load_split
from fer_app import plots
from fer_app.checkpoint import load_checkpoint, read_train_state, save_checkpoint
from fer_app.cli import AppError, run
from fer_app.evaluation import evaluate_split
from fer_app.labels import EMOTIONS
from fer_app.metrics import classification_report
from fer_app.model_store import sha256_of
from fer_app.preprocess import INPUT_SHAPE, PREPROCESSING, normalize
from fer_app.validators import non_negative_float, positive_float, positive_int, unit_fraction
from minicnn import SGD, Adam, Sequential, SoftmaxCrossEntropy
from minicnn.io import write_json
from minicnn.models import ARCHITECTURES
from minicnn.schedules import SCHEDULES, learning_rate

# Options that define the run: saved in the checkpoint and taken from it on --resume.
RUN_OPTIONS = ("arch", "epochs", "batch_size", "optimizer", "lr", "momentum", "nesterov", "weight_decay",
               "schedule", "warmup_epochs", "step_epochs", "seed", "augment", "dropout", "train_split", "val_split",
               "limit", "label_smoothing", "init_from")


def make_parser():
    parser = argparse.ArgumentParser(prog="python -m fer_app.train", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", help="FER2013 as image folders, fer2013.csv or an imported cache .npz")
    parser.add_argument("--train-split", default="train")
    parser.add_argument("--val-split", default="validation")
    parser.add_argument("--arch", default="report", choices=sorted(ARCHITECTURES))
    parser.add_argument("--summary", action="store_true", help="print the architecture table and exit")
    parser.add_argument("--epochs", type=positive_int, default=40)
    parser.add_argument("--batch-size", type=positive_int, default=64)
    parser.add_argument("--optimizer", choices=("sgd", "adam"), default="sgd")
    parser.add_argument("--lr", type=positive_float, default=None,
                        help="peak learning rate (default: sgd 0.02, adam 0.001)")
    parser.add_argument("--momentum", type=unit_fraction, default=0.9, help="SGD momentum")
    parser.add_argument("--nesterov", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--weight-decay", type=non_negative_float, default=5e-4)
    parser.add_argument("--schedule", choices=SCHEDULES, default="cosine")
    parser.add_argument("--warmup-epochs", type=non_negative_float, default=2.0)
    parser.add_argument("--step-epochs", type=non_negative_float, default=10.0,
                        help="with --schedule step: divide the rate by 10 every this many epochs")
    parser.add_argument("--dropout", type=unit_fraction, default=0.4)
    parser.add_argument("--label-smoothing", type=unit_fraction, default=0.0,
                        help="train towards (1 - s) * one-hot + s / classes instead of one-hot")
    parser.add_argument("--augment", action=argparse.BooleanOptionalAction, default=True,
                        help="random flips, shifts, rotations and zoom (default on)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--init-from", metavar="MODEL",
                        help="start from this model file's weights and BatchNorm statistics (e.g. a finished "
                             "run's best.npz) with a fresh optimizer and schedule: a warm restart")
    parser.add_argument("--limit", type=positive_int, default=None, help="train on a random subset of this many images")
    parser.add_argument("--out", default="runs/train", help="output folder")
    parser.add_argument("--resume", action="store_true",
                        help="continue from OUT/last.npz, with the run options and data saved there")
    parser.add_argument("--max-steps", type=positive_int, default=None,
                        help="stop with a checkpoint after this many optimizer steps in all")
    parser.add_argument("--time-limit", type=positive_float, default=None,
                        help="stop with a checkpoint after this many minutes of this invocation")
    return parser


def parse_args(argv):
    """The options, with --resume's run options taken from the checkpoint (one given anew must agree)."""
    parser = make_parser()
    args = parser.parse_args(argv)
    args.saved_state = None
    if args.resume:
        checkpoint_path = Path(args.out) / "last.npz"
        if not checkpoint_path.exists():
            raise AppError(f"--resume: no checkpoint at {checkpoint_path}")
        saved = read_train_state(checkpoint_path)
        for option in RUN_OPTIONS:
            value = saved["options"].get(option, parser.get_default(option))
            check_saved_option(parser, option, value, checkpoint_path)
            given = getattr(args, option)
            if given != parser.get_default(option) and given != value:
                raise AppError(f"--resume continues the saved run, whose --{option.replace('_', '-')} is {value}, "
                               f"not {given}: start a new run (another --out) to change it")
            setattr(args, option, value)
        args.data = args.data or saved.get("data")
        args.saved_state = saved
    if args.lr is None:
        args.lr = 0.02 if args.optimizer == "sgd" else 0.001
    return args


def check_saved_option(parser, option, value, checkpoint_path):
    """A run option read from a checkpoint must be one the command line could have given."""
    action = next(a for a in parser._actions if a.dest == option)
    try:
        if isinstance(action, argparse.BooleanOptionalAction):
            valid = isinstance(value, bool)
        elif value is None:
            valid = action.default is None
        else:
            valid = not isinstance(value, (bool, dict, list)) and (action.type is None or
                                                                   action.type(str(value)) == value)
        valid = valid and (action.choices is None or value in action.choices)
    except (argparse.ArgumentTypeError, TypeError, ValueError):
        valid = False
    if not valid:
        raise AppError(f"{checkpoint_path}: its saved --{option.replace('_', '-')} {value!r} is not a valid value: "
                       f"the checkpoint is damaged; start a new run")


def make_optimizer(args, model):
    """The optimizer the options name; weight decay leaves the model's no_weight_decay() parameters alone."""
    decay = dict(weight_decay=args.weight_decay, no_decay=model.no_weight_decay())
    if args.optimizer == "sgd":
        return SGD(args.lr, momentum=args.momentum, nesterov=args.nesterov and args.momentum > 0, **decay)
    return Adam(args.lr, **decay)


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


class StopRequest:
    """Turns the first Ctrl-C / SIGTERM into a request to stop after the current batch."""

    def __init__(self):
        self.reason = None

    def __enter__(self):
        self._previous = {s: signal.signal(s, self._handle) for s in (signal.SIGINT, signal.SIGTERM)}
        return self

    def _handle(self, signum, frame):
        if self.reason is not None:   # asked twice: stop now
            raise KeyboardInterrupt
        self.reason = signal.Signals(signum).name
        tqdm.write(f"{self.reason}: stopping after this batch and saving a checkpoint (again to abort)")

    def __exit__(self, *exc):
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)


def main(argv=None):
    args = parse_args(argv)
    out = Path(args.out)
    checkpoint_path = out / "last.npz"
    model = ARCHITECTURES[args.arch](seed=args.seed, dropout=args.dropout)
    if args.summary:
        model.summary(INPUT_SHAPE)
        return 0
    if not args.data:
        raise AppError("--data is required: a FER2013 folder, fer2013.csv or cache .npz")
    model.meta = {"classes": list(EMOTIONS), "input_shape": list(INPUT_SHAPE), "preprocessing": PREPROCESSING,
                  "arch": args.arch}

    train_images, train_labels = load_split(args.data, args.train_split)
    val_images, val_labels = load_split(args.data, args.val_split)
    if args.limit:
        subset = np.random.default_rng([args.seed, 0]).permutation(len(train_images))[:args.limit]
        train_images, train_labels = train_images[subset], train_labels[subset]
    num_train = len(train_images)
    steps_per_epoch = math.ceil(num_train / args.batch_size)
    total_steps = args.epochs * steps_per_epoch
    warmup_steps = int(args.warmup_epochs * steps_per_epoch)
    step_every = max(1, int(args.step_epochs * steps_per_epoch))

    if args.init_from and args.saved_state is None:
        model.load_weights(args.init_from)
    optimizer = make_optimizer(args, model)
    generators = {"shuffle": np.random.default_rng([args.seed, 1]), "augment": np.random.default_rng([args.seed, 2])}
    augment = Augmenter(generators["augment"]) if args.augment else None
    state = {"options": {o: getattr(args, o) for o in RUN_OPTIONS}, "data": str(args.data),
             "num_train": num_train, "epoch": 0, "batch": 0,
             "running": {"loss": 0.0, "correct": 0, "seen": 0, "seconds": 0.0},
             "history": [], "best_val_acc": -1.0,
             "command": ["python", "-m", "fer_app.train", *(sys.argv[1:] if argv is None else argv)],
             "code": [], "init": init_record(args.init_from)}
    epoch_order = None
    if args.saved_state is not None:
        if args.saved_state.get("num_train", num_train) != num_train:
            raise AppError(f"--resume: the run trained on {args.saved_state['num_train']} images, "
                           f"{args.data} holds {num_train}: resume with the run's own data")
        state, epoch_order = load_checkpoint(checkpoint_path, model, optimizer, generators)
        if "best_epoch" in state:       # the epoch best.npz holds, which model files record
            model.meta["epoch"] = state["best_epoch"]
        print(f"resumed from {checkpoint_path}: epoch {state['epoch'] + 1}, batch {state['batch']}")
    # A run may be resumed by newer code: record which code ran from where.
    state.setdefault("code", []).append(code_version() | {"from_epoch": state["epoch"] + 1, "from_batch": state["batch"]})
    out.mkdir(parents=True, exist_ok=True)
    print(f"training {args.arch} on {num_train} images, validating on {len(val_images)}; "
          f"{args.epochs} epochs of {steps_per_epoch} steps; {args.optimizer} lr {args.lr} {args.schedule}")

    loss_fn = SoftmaxCrossEntropy(args.label_smoothing)
    started = time.monotonic()
    with StopRequest() as stop:
        while state["epoch"] < args.epochs:
            epoch = state["epoch"]
            if epoch_order is None:
                epoch_order = generators["shuffle"].permutation(num_train)
            running = state["running"]
            bar = tqdm(range(state["batch"], steps_per_epoch), initial=state["batch"], total=steps_per_epoch,
                       desc=f"epoch {epoch + 1}/{args.epochs}", unit="batch", dynamic_ncols=True)
            for batch in bar:
                batch_start = time.perf_counter()
                step = epoch * steps_per_epoch + batch
                optimizer.lr = learning_rate(args.schedule, args.lr, step, total_steps, warmup_steps,
                                             step_every=step_every)
                index = epoch_order[batch * args.batch_size:(batch + 1) * args.batch_size]
                x, y = normalize(train_images[index]), train_labels[index]
                if augment is not None:
                    x = augment(x)
                logits = model.forward(x, training=True)
                loss, dlogits = loss_fn(logits, y)
                if not np.isfinite(loss):
                    raise AppError(f"loss became {loss} at epoch {epoch + 1}, batch {batch + 1} (lr {optimizer.lr:.3g}): "
                                   f"training diverged; lower --lr. The last checkpoint ({checkpoint_path}) is intact")
                model.backward(dlogits)
                optimizer.step(model.named_parameters())
                running["loss"] += loss * len(y)
                running["correct"] += int((logits.argmax(axis=1) == y).sum())
                running["seen"] += len(y)
                seconds = time.perf_counter() - batch_start
                running["seconds"] += seconds
                state["batch"] = batch + 1
                bar.set_postfix(loss=f"{running['loss'] / running['seen']:.3f}",
                                acc=f"{running['correct'] / running['seen']:.3f}",
                                img_s=f"{len(y) / seconds:.0f}", lr=f"{optimizer.lr:.2g}")
                elapsed_minutes = (time.monotonic() - started) / 60
                if stop.reason is None and args.max_steps is not None and step + 1 >= args.max_steps:
                    stop.reason = f"--max-steps {args.max_steps}"
                if stop.reason is None and args.time_limit is not None and elapsed_minutes >= args.time_limit:
                    stop.reason = f"--time-limit {args.time_limit} min"
                if stop.reason is not None and state["batch"] < steps_per_epoch:
                    bar.close()
                    save_checkpoint(checkpoint_path, model, optimizer, state, generators, epoch_order)
                    print(f"stopped ({stop.reason}) at epoch {epoch + 1}, batch {state['batch']}: "
                          f"checkpoint {checkpoint_path}; continue with --resume")
                    return 0
            bar.close()

            val_loss, val_acc, matrix = evaluate_split(model, val_images, val_labels)
            record = {"epoch": epoch + 1, "lr": optimizer.lr,
                      "train_loss": running["loss"] / running["seen"], "train_acc": running["correct"] / running["seen"],
                      "val_loss": val_loss, "val_acc": val_acc, "train_seconds": running["seconds"],
                      "train_images_per_s": running["seen"] / running["seconds"]}
            state["history"].append(record)
            state.update(epoch=epoch + 1, batch=0, running={"loss": 0.0, "correct": 0, "seen": 0, "seconds": 0.0})
            epoch_order = None
            improved = val_acc > state["best_val_acc"]
            if improved:
                state["best_val_acc"] = val_acc
                state["best_epoch"] = epoch + 1
                model.meta["epoch"] = epoch + 1
                model.save(out / "best.npz")
                write_json(out / "best_report.json", classification_report(matrix))
            save_checkpoint(checkpoint_path, model, optimizer, state, generators, epoch_order)
            write_json(out / "history.json", {k: state[k] for k in ("options", "command", "code", "init", "history",
                                                                      "best_val_acc") if k in state}
                       | {"best_epoch": state.get("best_epoch")})
            plots.training_curves(state["history"], out / "curves.png")
            print(f"epoch {epoch + 1}: train loss {record['train_loss']:.4f} acc {record['train_acc']:.4f} | "
                  f"val loss {val_loss:.4f} acc {val_acc:.4f}{'  (best)' if improved else ''} | "
                  f"{record['train_images_per_s']:.0f} img/s", flush=True)
            if stop.reason is not None:
                print(f"stopped ({stop.reason}) after epoch {epoch + 1}: continue with --resume")
                return 0
    print(f"done: best validation accuracy {state['best_val_acc']:.4f} at epoch {state['best_epoch']}; "
          f"model {out / 'best.npz'}")
    return 0


if __name__ == "__main__":
    run(main)
