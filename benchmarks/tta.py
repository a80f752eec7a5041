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
from data_tools.fer2013 import load_split  # noqa: E402
from data_tools.opencv import cv2  # noqa: E402
from data_tools.preprocess import INPUT_SIZE, normalize  # noqa: E402
from fer_app.model_store import SHIPPED_MODELS, load_inference_model  # noqa: E402
from minicnn.io import write_json  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "tta.json"


def shifted(faces, dx, dy):
    """faces (N, 1, H, W) moved dx pixels right and dy down, the edge pixels repeated into the gap."""
    pad = max(abs(dx), abs(dy))
    padded = np.pad(faces, ((0, 0), (0, 0), (pad, pad), (pad, pad)), mode="edge")
    return padded[:, :, pad - dy:pad - dy + INPUT_SIZE, pad - dx:pad - dx + INPUT_SIZE]


def zoomed(faces, scale):
    """faces (N, 1, H, W) scaled about their centre (scale > 1 zooms in), the edge repeated."""
    centre = (INPUT_SIZE - 1) / 2
    matrix = cv2.getRotationMatrix2D((centre, centre), 0, scale)
    return np.stack([cv2.warpAffine(face[0], matrix, (INPUT_SIZE, INPUT_SIZE), flags=cv2.INTER_LINEAR,
                                    borderMode=cv2.BORDER_REPLICATE)[None] for face in faces])


# name -> views of the faces (each is averaged with its mirror image as well)
VIEW_SETS = {
    "single view (no mirror)": [],
    "mirror average (the app)": [lambda f: f],
    "+ shifts of 2 px": [lambda f: f] + [lambda f, d=d: shifted(f, *d) for d in ((2, 0), (-2, 0), (0, 2), (0, -2))],
    "+ zoom 0.9 and 1.1": [lambda f: f, lambda f: zoomed(f, 0.9), lambda f: zoomed(f, 1.1)],
}


def accuracy_by_view_set(model, faces, labels):
    """{view set name: {"accuracy", "views"}} on faces (N, 1, 48, 48) float32."""
    results = {}
    for name, views in VIEW_SETS.items():
        if not views:
            probabilities, count = model.predict_proba(faces), 1
        else:
            probabilities, count = 0, 0
            for view in views:
                image = np.ascontiguousarray(view(faces))
                probabilities = probabilities + model.predict_proba(image) + model.predict_proba(image[..., ::-1].copy())
                count += 2
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
