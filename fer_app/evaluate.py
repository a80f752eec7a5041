"""Evaluate a model on a FER2013 split: accuracy, per-class precision / recall / F1, confusion matrix.

    python -m fer_app.evaluate --data ../shared/fer2013 --split validation --out runs/eval
    python -m fer_app.evaluate --data fer2013.csv --split test --model runs/report/best.npz

Prints the report as text; with --out, also writes report.json (for scripts) and
confusion.png. Without --model, the shipped model is evaluated. Faces are classified as
the app classifies them: averaged with their mirror image unless --no-mirror.
"""
import argparse
from pathlib import Path

import numpy as np
from tqdm import tqdm

from data_tools.fer2013 import load_split
from fer_app import options, plots
from fer_app.cli import run
from fer_app.labels import EMOTIONS
from fer_app.metrics import classification_report, confusion_matrix, format_report
from fer_app.model_store import load_inference_model
from fer_app.predict import face_probabilities
from fer_app.preprocess import normalize
from minicnn.io import write_json


def evaluate_split(model, images, labels, mirror=False, batch_size=256, progress=False):
    """Mean loss, accuracy and confusion matrix of a model on uint8 faces (N, 48, 48).

    mirror: average each face's probabilities with its mirror image's, as the app does
    by default (see fer_app.predict). The loss is the cross-entropy of the probabilities used.
    """
    loss_sum, predictions = 0.0, []
    starts = range(0, len(images), batch_size)
    for start in tqdm(starts, desc="evaluating", unit="batch", disable=not progress):
        probabilities = face_probabilities(model, normalize(images[start:start + batch_size]), mirror, batch_size)
        truth = labels[start:start + batch_size]
        picked = probabilities[np.arange(len(truth)), truth]
        loss_sum += float(-np.log(np.maximum(picked, np.finfo(np.float32).tiny)).sum())
        predictions.append(probabilities.argmax(axis=1))
    predicted = np.concatenate(predictions)
    return loss_sum / len(images), float((predicted == labels).mean()), confusion_matrix(labels, predicted)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m fer_app.evaluate", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="FER2013 folder, fer2013.csv or cache .npz")
    parser.add_argument("--split", default="validation")
    options.add_model_option(parser)
    parser.add_argument("--out", help="folder for report.json and confusion.png")
    args = parser.parse_args(argv)

    model = load_inference_model(args.model)
    images, labels = load_split(args.data, args.split)
    loss, _, matrix = evaluate_split(model, images, labels, mirror=args.mirror, progress=True)
    report = classification_report(matrix) | {"loss": loss, "data": str(args.data), "split": args.split,
                                              "model": args.model or "shipped", "mirror": args.mirror}
    print(format_report(report))
    if args.out:
        out = Path(args.out)
        write_json(out / "report.json", report)
        plots.confusion_matrix_figure(matrix, EMOTIONS, out / "confusion.png",
                                      title=f"{args.split}: accuracy {report['accuracy']:.1%}")
        print(f"wrote {out / 'report.json'} and {out / 'confusion.png'}")
    return 0


if __name__ == "__main__":
    run(main)
