"""Train a network on FER2013 with minicnn.

    python -m fer_app.train --data ../shared/fer2013 --out runs/report   # the shipped model's recipe
    python -m fer_app.train --out runs/report --resume        # continue an interrupted run (same data)
    python -m fer_app.train --out runs/swa --resume --epochs 40   # lengthen a run (constant or step schedule)
    python -m fer_app.train --arch report --summary           # print the architecture
    python -m fer_app.train --arch vgg_bn --init-from runs/vgg_bn/best.npz --out runs/vgg_bn2   # a warm restart

Each epoch writes to --out, atomically: last.npz (checkpoint), best.npz (the model with
the best validation accuracy so far), history.json and curves.png; with --keep-epochs
also that epoch's model, epochs/epoch_NNN.npz. Ctrl-C (or SIGTERM,
or --max-steps / --time-limit) stops after the current batch with a checkpoint;
--resume then continues exactly: same weights as a run that was never interrupted.

The defaults are the recipe of the shipped model (docs/results.md): SGD with Nesterov
momentum, peak rate 0.02 after a 2-epoch warm-up, cosine decay over 40 epochs,
augmentation on.
"""
import argparse
import sys
from pathlib import Path

import numpy as np

from data_tools.fer2013 import load_split
from data_tools.labels import EMOTIONS
from data_tools.preprocess import INPUT_SHAPE, PREPROCESSING
from fer_app.checkpoint import read_train_state
from fer_app.cli import run
from fer_app.errors import AppError
from fer_app.stopping import StopRequest
from fer_app.train_state import TrainState, init_record
from fer_app.training import Trainer
from fer_app.validators import non_negative_float, positive_float, positive_int, unit_fraction
from minicnn import SGD, Adam, SoftmaxCrossEntropy
from minicnn.models import ARCHITECTURES
from minicnn.schedules import SCHEDULES, learning_rate

# Options that define the run: saved in the checkpoint and taken from it on --resume.
RUN_OPTIONS = ("arch", "epochs", "batch_size", "optimizer", "lr", "momentum", "nesterov", "weight_decay",
               "schedule", "warmup_epochs", "step_epochs", "seed", "augment", "dropout", "train_split", "val_split",
               "limit", "label_smoothing", "init_from", "erase", "keep_epochs")
# Schedules whose rate at a step does not depend on the run's length: --resume may lengthen such a run.
EXTENDABLE_SCHEDULES = ("constant", "step")


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
    parser.add_argument("--erase", type=unit_fraction, default=0.0,
                        help="with --augment: the probability of random erasing, one rectangle of an image "
                             "replaced by noise (default 0)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--init-from", metavar="MODEL",
                        help="start from this model file's weights and BatchNorm statistics (e.g. a finished "
                             "run's best.npz) with a fresh optimizer and schedule: a warm restart")
    parser.add_argument("--keep-epochs", action=argparse.BooleanOptionalAction, default=False,
                        help="also keep every epoch's model, as OUT/epochs/epoch_NNN.npz (for fer_app.average)")
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
        typed = options_typed(argv)
        checkpoint_path = Path(args.out) / "last.npz"
        if not checkpoint_path.exists():
            raise AppError(f"--resume: no checkpoint at {checkpoint_path}")
        saved = read_train_state(checkpoint_path)
        for option in RUN_OPTIONS:
            value = saved["options"].get(option, parser.get_default(option))
            check_saved_option(parser, option, value, checkpoint_path)
            given = getattr(args, option)
            if option in typed and given != value:
                if option == "epochs" and extends(saved["options"], given):
                    continue
                raise AppError(f"--resume continues the saved run, whose --{option.replace('_', '-')} is {value}, "
                               f"not {given}: start a new run (another --out) to change it"
                               + (" (a longer run is possible with --schedule constant or step only)"
                                  if option == "epochs" else ""))
            setattr(args, option, value)
        args.data = args.data or saved.get("data")
        args.saved_state = saved
    if args.erase and not args.augment:
        parser.error("--erase is part of the augmentation: it needs --augment")
    if args.lr is None:
        args.lr = 0.02 if args.optimizer == "sgd" else 0.001
    return args


def options_typed(argv):
    """The options the command line gives, also those given their default value."""
    parser = make_parser()
    for action in parser._actions:
        action.default = argparse.SUPPRESS
    return set(vars(parser.parse_args(argv)))


def extends(saved_options, epochs):
    """Whether --resume --epochs EPOCHS lengthens the saved run to exactly what a run planned
    that long from the start would have been: a later end, under a schedule whose rates do
    not depend on where the run ends (a cosine is laid over the whole run)."""
    return epochs > saved_options["epochs"] and saved_options.get("schedule") in EXTENDABLE_SCHEDULES


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


def make_model(args):
    """The options' network, its meta what the app needs to use it."""
    model = ARCHITECTURES[args.arch](seed=args.seed, dropout=args.dropout)
    model.meta = {"classes": list(EMOTIONS), "input_shape": list(INPUT_SHAPE), "preprocessing": PREPROCESSING,
                  "arch": args.arch}
    return model


def make_trainer(args):
    """The model, data, optimizer, loss and schedule the options describe."""
    if not args.data:
        raise AppError("--data is required: a FER2013 folder, fer2013.csv or cache .npz")
    model = make_model(args)
    train_images, train_labels = load_training_images(args.data, args.train_split, args.limit, args.seed)
    val_images, val_labels = load_split(args.data, args.val_split)
    if args.init_from and not args.resume:
        model.load_weights(args.init_from)
    return Trainer(model=model, optimizer=make_optimizer(args, model),
                   loss_fn=SoftmaxCrossEntropy(args.label_smoothing), schedule=make_schedule(args),
                   train_images=train_images, train_labels=train_labels, val_images=val_images, val_labels=val_labels,
                   batch_size=args.batch_size, epochs=args.epochs, seed=args.seed, augment=args.augment,
                   erase=args.erase, keep_epochs=args.keep_epochs, out=Path(args.out))


def load_training_images(data, split, limit, seed):
    """The images and labels a run trains on: the split, or with --limit a random subset of it fixed by the seed."""
    images, labels = load_split(data, split)
    if limit:
        subset = np.random.default_rng([seed, 0]).permutation(len(images))[:limit]
        images, labels = images[subset], labels[subset]
    return images, labels


def make_optimizer(args, model):
    """The optimizer the options name; weight decay leaves the model's no_weight_decay() parameters alone."""
    decay = dict(weight_decay=args.weight_decay, no_decay=model.no_weight_decay())
    if args.optimizer == "sgd":
        return SGD(args.lr, momentum=args.momentum, nesterov=args.nesterov and args.momentum > 0, **decay)
    return Adam(args.lr, **decay)


def make_schedule(args):
    """(step, steps per epoch) -> the learning rate of that optimizer step, as the options set it."""
    def rate(step, steps_per_epoch):
        return learning_rate(args.schedule, args.lr, step, args.epochs * steps_per_epoch,
                             int(args.warmup_epochs * steps_per_epoch),
                             step_every=max(1, int(args.step_epochs * steps_per_epoch)))
    return rate


def new_state(args, trainer, argv):
    """A new run's state: its options, data and command line, and the model file a warm restart starts from."""
    return TrainState(options={option: getattr(args, option) for option in RUN_OPTIONS}, data=str(args.data),
                      num_train=trainer.num_train,
                      command=["python", "-m", "fer_app.train", *(sys.argv[1:] if argv is None else argv)],
                      init=init_record(args.init_from))


def resume(trainer, args):
    """The state checkpointed in --out, with model, optimizer and generators restored: the run continues exactly."""
    if args.saved_state["num_train"] != trainer.num_train:
        raise AppError(f"--resume: the run trained on {args.saved_state['num_train']} images, "
                       f"{args.data} holds {trainer.num_train}: resume with the run's own data")
    state = trainer.resume()
    # A run checkpointed by older code lacks options added since: its record shows the defaults it ran with.
    state.options = {option: getattr(args, option) for option in RUN_OPTIONS}
    print(f"resumed from {trainer.checkpoint_path}: epoch {state.epoch + 1}, batch {state.batch}")
    return state


def main(argv=None):
    args = parse_args(argv)
    if args.summary:
        make_model(args).summary(INPUT_SHAPE)
        return 0
    trainer = make_trainer(args)
    state = resume(trainer, args) if args.resume else new_state(args, trainer, argv)
    state.record_code()
    trainer.out.mkdir(parents=True, exist_ok=True)
    print(f"training {args.arch} on {trainer.num_train} images, validating on {len(trainer.val_labels)}; "
          f"{args.epochs} epochs of {trainer.steps_per_epoch} steps; {args.optimizer} lr {args.lr} {args.schedule}")
    with StopRequest(args.max_steps, args.time_limit) as stop:
        while state.epoch < trainer.epochs:
            if not trainer.train_one_epoch(state, stop):
                trainer.save_checkpoint(state)
                print(f"stopped ({stop.reason}) at epoch {state.epoch + 1}, batch {state.batch}: "
                      f"checkpoint {trainer.checkpoint_path}; continue with --resume")
                return 0
            trainer.end_of_epoch(state)
            if stop.reason is not None:
                print(f"stopped ({stop.reason}) after epoch {state.epoch}: continue with --resume")
                return 0
    print(f"done: best validation accuracy {state.best_val_acc:.4f} at epoch {state.best_epoch}; "
          f"model {trainer.out / 'best.npz'}")
    return 0


if __name__ == "__main__":
    run(main)
