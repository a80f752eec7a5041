"""Average the models of a training run's epochs into one (stochastic weight averaging).

    python -m fer_app.train --data ../shared/fer2013 --arch vgg_bn --init-from MODEL \\
        --schedule constant --lr 0.005 --keep-epochs --out runs/swa
    python -m fer_app.average --run runs/swa --data ../shared/fer2013 --from-epoch 5
    python -m fer_app.evaluate --data ../shared/fer2013 --model runs/swa/averaged.npz
    python -m fer_app.ship --run runs/swa --averaged --data ../shared/fer2013

Averages the weights of RUN/epochs/epoch_NNN.npz (kept by train --keep-epochs) for the
epochs chosen, measures the BatchNorm statistics of the averaged weights on the run's own
training images (minicnn.averaging says why both), and writes, atomically:
- RUN/averaged.npz: a model file like best.npz; its meta names the epochs averaged;
- RUN/averaged.json: how it was made (each epoch file's SHA-256, the images the statistics
  were measured on) and its validation accuracy and loss on single views, the measure the
  run chose best.npz by, so the two compare.
"""
import argparse
from pathlib import Path

from tqdm import tqdm

from data_tools.fer2013 import load_split
from data_tools.preprocess import normalize
from fer_app.cli import run
from fer_app.errors import AppError
from fer_app.evaluation import evaluate_split
from fer_app.model_store import sha256_of
from fer_app.ship import averaged_paths, read_history
from fer_app.train import load_training_images
from fer_app.validators import positive_int
from minicnn import Sequential
from minicnn.averaging import average_weights, recompute_batchnorm_statistics
from minicnn.io import write_json


def epoch_files(run_dir, first, last):
    """{epoch: path} of the kept epoch models from first to last (None: the last kept), all present."""
    kept = {int(path.stem.removeprefix("epoch_")): path
            for path in sorted((Path(run_dir) / "epochs").glob("epoch_[0-9][0-9][0-9].npz"))}
    if not kept:
        raise AppError(f"{run_dir}: no epochs/epoch_NNN.npz: train with --keep-epochs to keep every epoch's model")
    last = max(kept) if last is None else last
    if first > last:
        raise AppError(f"--from-epoch {first} is after --to-epoch {last}")
    missing = [epoch for epoch in range(first, last + 1) if epoch not in kept]
    if missing:
        raise AppError(f"{run_dir}: no model kept for epoch {', '.join(map(str, missing))} "
                       f"(kept: {min(kept)}-{max(kept)})")
    return {epoch: kept[epoch] for epoch in range(first, last + 1)}


def load_same_architecture(paths):
    """The models the files hold; all must be the same network, layer for layer."""
    models = {epoch: Sequential.load(path) for epoch, path in paths.items()}
    first_epoch, first = next(iter(models.items()))
    for epoch, model in models.items():
        if model.config()["layers"] != first.config()["layers"]:
            raise AppError(f"{paths[epoch]} is another network than {paths[first_epoch]}: cannot average them")
    return models


def batches(images, batch_size):
    """The images normalized as training sees them, batch by batch, with a progress bar."""
    for start in tqdm(range(0, len(images), batch_size), desc="BatchNorm statistics", unit="batch"):
        yield normalize(images[start:start + batch_size])


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m fer_app.average", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", required=True, help="output folder of fer_app.train --keep-epochs")
    parser.add_argument("--data", required=True, help="the run's data: FER2013 folder, CSV or cache")
    parser.add_argument("--from-epoch", type=positive_int, default=1, help="first epoch to average (default 1)")
    parser.add_argument("--to-epoch", type=positive_int, help="last epoch to average (default: the last kept)")
    args = parser.parse_args(argv)

    run_dir = Path(args.run)
    options = read_history(run_dir / "history.json")["options"]
    paths = epoch_files(run_dir, args.from_epoch, args.to_epoch)
    models = load_same_architecture(paths)
    model = models[max(models)]
    model.set_weights(average_weights(m.weights() for m in models.values()), source="the averaged weights")
    train_images, _ = load_training_images(args.data, options["train_split"], options["limit"], options["seed"])
    seen = recompute_batchnorm_statistics(model, batches(train_images, options["batch_size"]))
    val_images, val_labels = load_split(args.data, options["val_split"])
    val_loss, val_acc, _ = evaluate_split(model, val_images, val_labels, progress=True)

    model.meta.pop("epoch", None)
    model.meta["averaged_epochs"] = sorted(paths)
    model_path, record_path = averaged_paths(run_dir)
    model.save(model_path)
    record = {"epochs": [{"epoch": epoch, "sha256": sha256_of(path)} for epoch, path in paths.items()],
              "batchnorm_statistics": {"split": options["train_split"], "images": seen,
                                       "batch_size": options["batch_size"], "augmented": False},
              "sha256": sha256_of(model_path),
              "validation": {"split": options["val_split"], "images": len(val_labels),
                             "accuracy": val_acc, "loss": val_loss, "mirror": False}}
    write_json(record_path, record)
    print(f"averaged epochs {min(paths)}-{max(paths)} of {run_dir} ({len(paths)} models); BatchNorm statistics "
          f"measured on {seen} training images")
    print(f"validation ({options['val_split']}, single views): accuracy {val_acc:.4f}, loss {val_loss:.4f}")
    print(f"wrote {model_path} and {record_path}")
    return 0


if __name__ == "__main__":
    run(main)
