"""Evaluate a model on a FER2013 split: accuracy, per-class precision / recall / F1, confusion matrix.

    python -m fer_app.evaluate --data ../shared/fer2013 --split validation --out runs/eval
    python -m fer_app.evaluate --data fer2013.csv --split test --model runs/report/best.npz

Prints the report as text; with --out, also writes report.json (for scripts) and
confusion.png. Without --model, the shipped model is evaluated. Faces are classified as
the app classifies them: averaged with their mirror image unless --no-mirror.
"""
import argparse
from pathlib import Path

from data_tools.fer2013 import load_split
from data_tools.labels import EMOTIONS
from fer_app import options, plots
from fer_app.cli import run
from fer_app.evaluation import evaluate_split
from fer_app.metrics import classification_report, format_report
from fer_app.model_store import load_inference_model
from minicnn.io import write_json


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
