"""Make a training run's best model the app's shipped model, with the record of how it was made.

    python -m fer_app.ship --run runs/report --data ../shared/fer2013

Copies RUN/best.npz to fer_app/weights/report_cnn.npz and writes report_cnn.json beside
it: the model's SHA-256 (checked whenever the app loads it), the training command,
commit, options, per-epoch history and time, and the model's accuracy, per-class figures
and confusion matrix on the validation split, measured here, now, on those bytes.
"""
import argparse
import json
import shutil
from pathlib import Path

from data_tools.fer2013 import load_split
from fer_app import plots
from fer_app.cli import AppError, run
from fer_app.evaluate import evaluate_split
from fer_app.labels import EMOTIONS
from fer_app.metrics import classification_report, format_report
from fer_app.model_store import SHIPPED_MODEL, SHIPPED_RECORD, load_model, sha256_of
from minicnn.io import atomic_write


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

    model = load_model(best)
    images, labels = load_split(args.data, args.split)
    loss, _, matrix = evaluate_split(model, images, labels, progress=True)
    report = classification_report(matrix) | {"loss": loss, "split": args.split, "images": len(labels)}
    epochs = history["history"]
    with atomic_write(SHIPPED_MODEL) as f, open(best, "rb") as source:
        shutil.copyfileobj(source, f)
    record = {
        "sha256": sha256_of(SHIPPED_MODEL),
        "arch": history["options"]["arch"],
        "params": model.num_params(),
        "training": {
            "command": " ".join(str(part) for part in history["command"]),
            "commit": history["commit"],
            "options": history["options"],
            "epochs_planned": history["options"]["epochs"],
            "epochs_completed": len(epochs),
            "best_epoch": history["best_epoch"],
            "train_hours": round(sum(e["train_seconds"] for e in epochs) / 3600, 2),
            "history": epochs,
        },
        "evaluation": report,
        "note": args.note,
    }
    with atomic_write(SHIPPED_RECORD, "w") as f:
        json.dump(record, f, indent=1)
    plots.confusion_matrix_figure(matrix, EMOTIONS, SHIPPED_RECORD.with_suffix(".confusion.png"),
                                  title=f"shipped model, {args.split}: accuracy {report['accuracy']:.1%}")
    plots.training_curves(epochs, SHIPPED_RECORD.with_suffix(".curves.png"))
    print(format_report(report))
    print(f"shipped {SHIPPED_MODEL} (epoch {history['best_epoch']} of {len(epochs)} trained) and {SHIPPED_RECORD}")
    return 0


if __name__ == "__main__":
    run(main)
