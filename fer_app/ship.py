"""Make a training run's best model the app's shipped model, with the record of how it was made.

    python -m fer_app.ship --run runs/report --data ../shared/fer2013

Copies RUN/best.npz to fer_app/weights/report_cnn.npz and writes report_cnn.json beside
it: the model's SHA-256 (checked whenever the app loads it), the training command,
commit, options, per-epoch history and time, and the model's accuracy, per-class figures
and confusion matrix on the validation split, measured here, now, on those bytes: as the
app classifies (each face averaged with its mirror image, fer_app.predict), and the
accuracy and loss of single views, the measure training chose the epoch by.
"""
import argparse
import json
from pathlib import Path

from data_tools.fer2013 import load_split
from fer_app.cli import AppError, run
from fer_app.evaluate import evaluate_split
from fer_app.metrics import classification_report, format_report
from fer_app.model_store import SHIPPED_MODEL, SHIPPED_RECORD, load_model, sha256_of
from fer_app.predict import MIRROR_AVERAGE
from minicnn.io import atomic_write


def shipped_record():
    """The shipped model's record (see main)."""
    return json.loads(SHIPPED_RECORD.read_text())


def top_confusions(report, count=6):
    """The `count` largest off-diagonal cells as (true class, predicted class, share of the true class)."""
    names, matrix = report["classes"], report["confusion_matrix"]
    cells = [(matrix[t][p] / max(sum(matrix[t]), 1), names[t], names[p])
             for t in range(len(names)) for p in range(len(names)) if t != p]
    return [(true, predicted, share) for share, true, predicted in sorted(cells, reverse=True)[:count]]


def record_markdown(record):
    """The record as Markdown: how the model was made, then its per-class figures and confusions."""
    training, evaluation = record["training"], record["evaluation"]
    lines = [f"- command: `{training['command']}`",
             "- code: " + ("; ".join(f"`{c['commit']}`{' (uncommitted changes)' if c['dirty'] else ''} "
                                      f"from epoch {c['from_epoch']}, batch {c['from_batch']}" for c in training["code"])
                           or "not recorded by this run (see the note)"),
             f"- seed: {training['options']['seed']}",
             f"- epochs: {training['epochs_completed']} trained of {training['epochs_planned']} planned; "
             f"shipped: epoch {training['best_epoch']} (best validation accuracy); "
             f"training time {training['train_hours']} h",
             f"- validation ({evaluation['split']}, {evaluation['images']} images never trained on), "
             f"{'each face averaged with its mirror image, as the app does' if evaluation['mirror'] else 'single views'}: "
             f"**accuracy {evaluation['accuracy']:.1%}**, macro F1 {evaluation['macro_f1']:.3f}, "
             f"loss {evaluation['loss']:.3f}; single views (how training chose the epoch): "
             f"accuracy {record['single_view']['accuracy']:.1%}, loss {record['single_view']['loss']:.3f}"]
    if record.get("note"):
        lines.append(f"- note: {record['note']}")
    lines += ["", "| class | precision | recall | F1 | images |", "|---|---|---|---|---|"]
    for name, row in evaluation["per_class"].items():
        lines.append(f"| {name} | {row['precision']:.3f} | {row['recall']:.3f} | {row['f1']:.3f} | {row['support']} |")
    lines += ["", "Most frequent confusions (share of the true class):", ""]
    lines += [f"- {true} taken for {predicted}: {share:.0%}" for true, predicted, share in top_confusions(evaluation)]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m fer_app.ship", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", required=True, help="output folder of fer_app.train")
    parser.add_argument("--data", required=True, help="FER2013 folder, CSV or cache holding the validation split")
    parser.add_argument("--split", default="validation")
    parser.add_argument("--note", default="", help="anything a reader of the record should know")
    args = parser.parse_args(argv)

    run_dir = Path(args.run)
    best, history_path = run_dir / "best.npz", run_dir / "history.json"
    if not best.is_file() or not history_path.is_file():
        raise AppError(f"{run_dir}: no best.npz and history.json: not a finished epoch of fer_app.train")
    history = json.loads(history_path.read_text())

    # One read of best.npz: the bytes shipped are the bytes evaluated, even while the run
    # goes on and may replace best.npz.
    model_bytes = best.read_bytes()
    with atomic_write(SHIPPED_MODEL) as f:
        f.write(model_bytes)
    model = load_model(SHIPPED_MODEL)
    images, labels = load_split(args.data, args.split)
    loss, _, matrix = evaluate_split(model, images, labels, mirror=MIRROR_AVERAGE, progress=True)
    report = classification_report(matrix) | {"loss": loss, "split": args.split, "images": len(labels),
                                              "mirror": MIRROR_AVERAGE}
    single_loss, single_accuracy, _ = evaluate_split(model, images, labels, mirror=False)
    epochs = history["history"]
    record = {
        "sha256": sha256_of(SHIPPED_MODEL),
        "arch": history["options"]["arch"],
        "params": model.num_params(),
        "training": {
            "command": " ".join(str(part) for part in history["command"]),
            "code": history.get("code", []),
            "options": history["options"],
            "epochs_planned": history["options"]["epochs"],
            "epochs_completed": len(epochs),
            "best_epoch": model.meta.get("epoch", history["best_epoch"]),
            "train_hours": round(sum(e["train_seconds"] for e in epochs) / 3600, 2),
            "history": epochs,
        },
        "evaluation": report,
        "single_view": {"accuracy": single_accuracy, "loss": single_loss},
        "note": args.note,
    }
    with atomic_write(SHIPPED_RECORD, "w") as f:
        json.dump(record, f, indent=1)
    print(format_report(report))
    print(f"shipped {SHIPPED_MODEL} (epoch {record['training']['best_epoch']} of {len(epochs)} trained) "
          f"and {SHIPPED_RECORD}")
    return 0


if __name__ == "__main__":
    run(main)
