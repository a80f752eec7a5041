"""What test-time augmentation buys: the shipped models' validation accuracy with more views of each face.

    python benchmarks/tta.py --data ../shared/fer2013 --json benchmarks/tta.json

The app averages each face's probabilities with its mirror image's (fer_app.predict).
This measures what more views would add, each averaged with its mirror image too: the
face shifted by a few pixels (the edge repeated, as training's augmentation does) and
zoomed in and out by 10%, views training has shown the network. The cost of a view set
is its number of forward passes per face; docs/results.md renders the table from the JSON.
"""
import argparse
import sys
from datetime import date
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from data_tools.augment import warp  # noqa: E402
from data_tools.fer2013 import load_split  # noqa: E402
from data_tools.opencv import cv2  # noqa: E402
from data_tools.preprocess import INPUT_SIZE, normalize  # noqa: E402
from fer_app.model_store import SHIPPED_MODELS, load_inference_model  # noqa: E402
from fer_app.predict import face_probabilities  # noqa: E402
from minicnn.io import write_json  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "tta.json"


def moved(faces, dx=0, dy=0, scale=1.0):
    """faces (N, 1, H, W) zoomed by `scale` about their centre, then moved dx pixels right and
    dy down, as training's augmentation moves them (data_tools.augment.warp)."""
    centre = (INPUT_SIZE - 1) / 2
    matrix = cv2.getRotationMatrix2D((centre, centre), 0, scale) + [[0, 0, dx], [0, 0, dy]]
    return warp(np.ascontiguousarray(faces), np.broadcast_to(matrix, (len(faces), 2, 3)))


# name -> views of the faces, each averaged with its mirror image as the app does; None: one view, no mirror
VIEW_SETS = {
    "single view (no mirror)": None,
    "mirror average (the app)": [{}],
    "+ shifts of 2 px": [{}, {"dx": 2}, {"dx": -2}, {"dy": 2}, {"dy": -2}],
    "+ zoom 0.9 and 1.1": [{}, {"scale": 0.9}, {"scale": 1.1}],
}


def accuracy_by_view_set(model, faces, labels):
    """{view set name: {"accuracy", "views"}} on faces (N, 1, 48, 48) float32."""
    results = {}
    for name, views in VIEW_SETS.items():
        if views is None:
            probabilities, count = face_probabilities(model, faces, mirror=False), 1
        else:
            probabilities = sum(face_probabilities(model, moved(faces, **view), mirror=True) for view in views)
            count = 2 * len(views)
        results[name] = {"accuracy": float((probabilities.argmax(axis=1) == labels).mean()), "views": count}
        print(f"{name}: {results[name]['accuracy']:.4f} ({count} views)", flush=True)
    return results


def table(results):
    """The Markdown table of a results JSON: one row per view set, one column per model."""
    names = list(results["models"])
    lines = ["| views of each face | forward passes | " + " | ".join(f"`{n}`" for n in names) + " |",
             "|---|---|" + "---|" * len(names)]
    for view_set in VIEW_SETS:
        row = [results["models"][n][view_set] for n in names]
        lines.append(f"| {view_set} | {row[0]['views']} | " + " | ".join(f"{r['accuracy']:.1%}" for r in row) + " |")
    lines.append("")
    lines.append(f"Measured on {results['date']} on the {results['images']} images of the {results['split']} split "
                 f"with `python benchmarks/tta.py`.")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="FER2013 folder, CSV or cache with the split")
    parser.add_argument("--split", default="validation")
    parser.add_argument("--json", type=Path, default=RESULTS)
    args = parser.parse_args()
    images, labels = load_split(args.data, args.split)
    faces = normalize(images)
    results = {"date": date.today().isoformat(), "split": args.split, "images": len(labels), "models": {}}
    for name in SHIPPED_MODELS:
        print(f"model {name}", flush=True)
        results["models"][name] = accuracy_by_view_set(load_inference_model(name), faces, labels)
    write_json(args.json, results)
    print(table(results))


if __name__ == "__main__":
    main()
