"""Make a training run's best model a shipped model of the app, with the record of how it was made.

    python -m fer_app.ship --run runs/vgg_bn --data ../shared/fer2013 --name vgg_bn
    python -m fer_app.ship --run runs/swa --averaged --data ../shared/fer2013   # fer_app.average's model

Copies RUN/best.npz (with --averaged RUN/averaged.npz) to fer_app/weights/<stem>.npz (the
stem of shipped model NAME, see fer_app.model_store.SHIPPED_MODELS) and writes <stem>.json beside it: the model's SHA-256 (checked whenever the app loads it), the training command,
commit, options, per-epoch history and time, and the model's accuracy, per-class figures
and confusion matrix on the validation split, measured here, now, on those bytes: as the
app classifies (each face averaged with its mirror image, fer_app.predict), and the
accuracy and loss of single views, the measure training chose the epoch by.

Everything is checked before anything is replaced: the model is loaded and evaluated
from a temporary copy, and the shipped pair (model, record) is only then swapped in, the
record right after the model; a failure at any point leaves the shipped pair as it was.
"""
import argparse
import json
import os
import tempfile
from pathlib import Path

from data_tools.fer2013 import load_split
from fer_app.cli import run
from fer_app.errors import AppError
from fer_app.evaluation import evaluate_split
from fer_app.metrics import classification_report, format_report
from fer_app.model_store import (DEFAULT_MODEL, SHIPPED_MODELS, load_inference_model, sha256_of,
                                 shipped_paths)
from fer_app.predict import MIRROR_AVERAGE
from minicnn import Sequential
from minicnn.io import atomic_write


def shipped_record(name=DEFAULT_MODEL):
    """The record of the shipped model called `name` (see main)."""
    return json.loads(shipped_paths(name)[1].read_text())


def top_confusions(report, count=6):
    """The `count` largest off-diagonal cells as (true class, predicted class, share of the true class)."""
    names, matrix = report["classes"], report["confusion_matrix"]
    cells = [(matrix[t][p] / max(sum(matrix[t]), 1), names[t], names[p])
             for t in range(len(names)) for p in range(len(names)) if t != p]
    return [(true, predicted, share) for share, true, predicted in sorted(cells, reverse=True)[:count]]


def comparison_markdown(names):
    """A Markdown table of the shipped models called `names`, side by side, from their records."""
    lines = ["| model | parameters | validation accuracy, as the app classifies | single views | macro F1 | "
             "epochs | training time |", "|---|---|---|---|---|---|---|"]
    for name in names:
        record = shipped_record(name)
        training, evaluation = record["training"], record["evaluation"]
        lines.append(f"| `{name}` | {record['params']:,} | **{evaluation['accuracy']:.1%}** | "
                     f"{record['single_view']['accuracy']:.1%} | {evaluation['macro_f1']:.3f} | "
                     f"{' + '.join(str(stage['epochs_completed']) for stage in all_stages(training))} | "
                     f"{sum(stage['train_hours'] for stage in all_stages(training)):.2f} h |")
    return "\n".join(lines)


def record_markdown(record):
    """The record as Markdown: how the model was made, then its per-class figures and confusions."""
    training, evaluation = record["training"], record["evaluation"]
    lines = [f"- command: `{training['command']}`",
             "- code: " + ("; ".join(f"`{c['commit']}`{' (uncommitted changes)' if c['dirty'] else ''} "
                                      f"from epoch {c['from_epoch']}, batch {c['from_batch']}" for c in training["code"])
                           or "not recorded by this run (see the note)"),
             f"- seed: {training['options']['seed']}",
             f"- epochs: {training['epochs_completed']} trained of {training['epochs_planned']} planned; "
             f"shipped: {shipped_epochs(training)}; training time {training['train_hours']} h",
             f"- validation ({evaluation['split']}, {evaluation['images']} images never trained on), "
             f"{'each face averaged with its mirror image, as the app does' if evaluation['mirror'] else 'single views'}: "
             f"**accuracy {evaluation['accuracy']:.1%}**, macro F1 {evaluation['macro_f1']:.3f}, "
             f"loss {evaluation['loss']:.3f}; single views (how training chose the epoch): "
             f"accuracy {record['single_view']['accuracy']:.1%}, loss {record['single_view']['loss']:.3f}"]
    for stage in all_stages(training)[:-1]:
        lines.append(f"- warm restart (`--init-from`) from epoch {stage['best_epoch']} of an earlier run: "
                     f"`{stage['command']}`, seed {stage['options']['seed']}, {stage['epochs_completed']} epochs, "
                     f"{stage['train_hours']} h")
    if record.get("note"):
        lines.append(f"- note: {record['note']}")
    lines += ["", "| class | precision | recall | F1 | images |", "|---|---|---|---|---|"]
    for name, row in evaluation["per_class"].items():
        lines.append(f"| {name} | {row['precision']:.3f} | {row['recall']:.3f} | {row['f1']:.3f} | {row['support']} |")
    lines += ["", "Most frequent confusions (share of the true class):", ""]
    lines += [f"- {true} taken for {predicted}: {share:.0%}" for true, predicted, share in top_confusions(evaluation)]
    return "\n".join(lines)


def shipped_epochs(training):
    """Which of the run's epochs the shipped model is, in words."""
    averaged = training.get("averaged")
    if averaged:
        epochs = [entry["epoch"] for entry in averaged["epochs"]]
        statistics = averaged["batchnorm_statistics"]
        return (f"the average of the weights of epochs {min(epochs)}-{max(epochs)} ({len(epochs)} models, "
                f"fer_app.average), BatchNorm statistics measured anew on {statistics['images']} "
                f"{statistics['split']} images")
    return f"epoch {training['best_epoch']} (best validation accuracy)"


def averaged_paths(run_dir):
    """(model, record) fer_app.average writes the average of a run's epochs to."""
    return Path(run_dir) / "averaged.npz", Path(run_dir) / "averaged.json"


def read_averaged_record(path, model_sha256):
    """fer_app.average's record of the model whose bytes hash to model_sha256."""
    try:
        record = json.loads(Path(path).read_text())
        described = record["sha256"]
        [entry["epoch"] for entry in record["epochs"]]
        record["batchnorm_statistics"]["images"], record["batchnorm_statistics"]["split"]
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as error:
        raise AppError(f"{path}: not a record of fer_app.average ({type(error).__name__}: {error})") from None
    if described != model_sha256:
        raise AppError(f"{path} describes another model than the one beside it: run fer_app.average again")
    return record


def read_history(path):
    """The run's history.json, checked to hold what the record needs."""
    try:
        history = json.loads(Path(path).read_text())
        options, epochs = history["options"], history["history"]
        if not (isinstance(options, dict) and isinstance(epochs, list) and epochs):
            raise TypeError("no options or no epochs")
        sum(float(epoch["train_seconds"]) for epoch in epochs)
        options["arch"], options["epochs"], options["seed"]
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, ValueError) as error:
        raise AppError(f"{path}: not a history.json of fer_app.train ({type(error).__name__}: {error})") from None
    return history


def training_record(history, best_epoch):
    """How a run's model was made, from its history.json: command, code, options, epochs, time;
    for a warm restart (train --init-from), "started_from" holds the same of the model it began with."""
    epochs = history["history"]
    return {
        "command": " ".join(str(part) for part in history.get("command", [])),
        "code": history.get("code", []),
        "options": history["options"],
        "epochs_planned": history["options"]["epochs"],
        "epochs_completed": len(epochs),
        "best_epoch": best_epoch,
        "train_hours": round(sum(e["train_seconds"] for e in epochs) / 3600, 2),
        "history": epochs,
        "started_from": started_from(history.get("init")),
    }


def started_from(init):
    """The training record of the model a warm restart began with, found by its SHA-256: the run
    beside the file (its best.npz and history.json), else a shipped model's record; None for a
    run from scratch. A restart from a model of unknown making cannot be shipped: its record
    would be incomplete."""
    if not init:
        return None
    run_dir = Path(init["path"]).parent
    if (run_dir / "history.json").is_file() and (run_dir / "best.npz").is_file() \
            and sha256_of(run_dir / "best.npz") == init["sha256"]:
        history = read_history(run_dir / "history.json")
        return {"sha256": init["sha256"], **training_record(history, init["meta"].get("epoch"))}
    for name in SHIPPED_MODELS:
        record = shipped_record(name)
        if record["sha256"] == init["sha256"]:
            return {"sha256": init["sha256"], **record["training"]}
    raise AppError(f"the run started from {init['path']} (SHA-256 {init['sha256'][:16]}...), which is neither "
                   f"beside its run's history.json nor a shipped model: its making cannot be recorded")


def all_stages(training):
    """A training record and the ones it started from, earliest first."""
    stages = [training]
    while stages[0].get("started_from"):
        stages.insert(0, stages[0]["started_from"])
    return stages


def whole_history(training):
    """The per-epoch history of every stage of a training record as one run: each earlier stage
    up to the epoch whose model the next began from, then the next; epochs numbered on from 1."""
    *earlier, last = all_stages(training)
    epochs = [epoch for stage in earlier for epoch in stage["history"][:stage["best_epoch"]]] + last["history"]
    return [epoch | {"epoch": number} for number, epoch in enumerate(epochs, start=1)]


def averaged_span(record):
    """For a shipped average of a run's epochs (fer_app.average): (first, last, accuracy), its
    epochs numbered as in whole_history and its single-view validation accuracy, the measure
    the curves plot; None for a model that is one epoch."""
    training = record["training"]
    if not training.get("averaged"):
        return None
    epochs = [entry["epoch"] for entry in training["averaged"]["epochs"]]
    earlier = len(whole_history(training)) - len(training["history"])
    return earlier + min(epochs), earlier + max(epochs), record["single_view"]["accuracy"]


def replace_pair(model_bytes, record, model_path, record_path):
    """Write both files under temporary names, then rename them into place, the record right after the model.

    Should the second rename fail, the previous model is put back, so the pair stays consistent.
    """
    previous_model = model_path.read_bytes() if model_path.exists() else None
    with atomic_write(model_path.with_name(model_path.name + ".new")) as f:
        f.write(model_bytes)
    with atomic_write(record_path.with_name(record_path.name + ".new"), "w") as f:
        json.dump(record, f, indent=1)
    os.replace(model_path.with_name(model_path.name + ".new"), model_path)
    try:
        os.replace(record_path.with_name(record_path.name + ".new"), record_path)
    except BaseException:
        if previous_model is not None:
            with atomic_write(model_path) as f:
                f.write(previous_model)
        raise


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m fer_app.ship", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", required=True, help="output folder of fer_app.train")
    parser.add_argument("--data", required=True, help="FER2013 folder, CSV or cache holding the validation split")
    parser.add_argument("--split", default="validation")
    parser.add_argument("--name", choices=sorted(SHIPPED_MODELS), default=DEFAULT_MODEL,
                        help=f"which shipped model to replace (default {DEFAULT_MODEL})")
    parser.add_argument("--averaged", action="store_true",
                        help="ship RUN/averaged.npz, the average of the run's epochs (fer_app.average), not best.npz")
    parser.add_argument("--note", default="", help="anything a reader of the record should know")
    args = parser.parse_args(argv)

    run_dir = Path(args.run)
    averaged_model, averaged_record = averaged_paths(run_dir)
    model_file = averaged_model if args.averaged else run_dir / "best.npz"
    history_path = run_dir / "history.json"
    if not model_file.is_file() or not history_path.is_file():
        raise AppError(f"{run_dir}: no {model_file.name} and history.json: "
                       + ("run fer_app.average first" if args.averaged else "not a finished epoch of fer_app.train"))
    history = read_history(history_path)
    model_path, record_path = shipped_paths(args.name)

    # One read of the model: the bytes shipped are the bytes evaluated, even while the run
    # goes on and may replace best.npz.
    model_bytes = model_file.read_bytes()
    with tempfile.TemporaryDirectory() as scratch:
        candidate = Path(scratch) / "candidate.npz"
        candidate.write_bytes(model_bytes)
        model = load_inference_model(candidate)
        params = Sequential.load(candidate).num_params()     # as trained, before folding
        sha256 = sha256_of(candidate)
    images, labels = load_split(args.data, args.split)
    loss, _, matrix = evaluate_split(model, images, labels, mirror=MIRROR_AVERAGE, progress=True)
    report = classification_report(matrix) | {"loss": loss, "split": args.split, "images": len(labels),
                                              "mirror": MIRROR_AVERAGE}
    single_loss, single_accuracy, _ = evaluate_split(model, images, labels, mirror=False)
    training = training_record(history, model.meta.get("epoch", history.get("best_epoch")))
    if args.averaged:
        training["averaged"] = read_averaged_record(averaged_record, sha256)
        training["best_epoch"] = max(entry["epoch"] for entry in training["averaged"]["epochs"])
    record = {
        "sha256": sha256,
        "arch": history["options"]["arch"],
        "params": params,
        "training": training,
        "evaluation": report,
        "single_view": {"accuracy": single_accuracy, "loss": single_loss},
        "note": args.note,
    }
    replace_pair(model_bytes, record, model_path, record_path)
    print(format_report(report))
    print(f"shipped {model_path} ({shipped_epochs(training)}; {training['epochs_completed']} epochs trained) "
          f"and {record_path}")
    return 0


if __name__ == "__main__":
    run(main)
