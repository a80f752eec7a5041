"""What each part of the training recipe buys: short runs that change one thing at a time.

    python benchmarks/recipe_ablation.py --data cache.npz --runs /tmp/ablation  # train them all
    python benchmarks/recipe_ablation.py --runs /tmp/ablation --json benchmarks/recipe_ablation.json  # collect

Every run is `python -m fer_app.train` on a short budget (8 epochs, the cosine decay
compressed into them, a 1-epoch warm-up) with the recipe's options and exactly one change
from them; all but the last start from the same seed, so from the same initial weights
and the same order of batches, and the last changes only the seed. A run checkpoints
each epoch: running the first command again resumes the unfinished run and skips
finished ones (about 22 minutes a run on 2 cores).
The second command collects each run's options, command, code version and per-epoch
history into one JSON file; docs/results.md renders its table from that file.
"""
import argparse
import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from minicnn.io import atomic_write  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "recipe_ablation.json"
SHORT_BUDGET = ["--epochs", "8", "--warmup-epochs", "1", "--lr", "0.02"]

# (name, options added to SHORT_BUDGET, what the change is)
RUNS = [
    ("baseline", [], "the recipe: SGD, Nesterov momentum 0.9, lr 0.02, cosine decay, augmentation"),
    ("no_augment", ["--no-augment"], "no augmentation"),
    ("constant_lr", ["--schedule", "constant"], "constant rate after the warm-up, no decay"),
    ("no_momentum", ["--momentum", "0", "--lr", "0.2"],
     "no momentum, lr 0.2: the same effective step, lr / (1 - momentum)"),
    ("adam", ["--optimizer", "adam", "--lr", "0.001"], "Adam, lr 0.001, instead of SGD"),
    ("other_seed", ["--seed", "1"],
     "none, another seed (initial weights, batch order, augmentation): how far chance alone moves a run"),
]


def finished(run_dir):
    """Whether run_dir holds a run that has trained all its epochs."""
    history_path = run_dir / "history.json"
    if not history_path.is_file():
        return False
    history = json.loads(history_path.read_text())
    return len(history["history"]) >= history["options"]["epochs"]


def train_all(data, runs):
    """Train every run not finished yet in runs/<name>, resuming any that was interrupted."""
    for name, change, _ in RUNS:
        run_dir = runs / name
        if finished(run_dir):
            print(f"{name}: finished")
            continue
        if (run_dir / "last.npz").is_file():
            command = ["--out", str(run_dir), "--resume"]
        else:
            command = ["--data", str(data), *SHORT_BUDGET, *change, "--out", str(run_dir)]
        print(f"{name}: python -m fer_app.train {' '.join(command)}", flush=True)
        if subprocess.run([sys.executable, "-m", "fer_app.train", *command]).returncode:
            raise SystemExit(f"{name}: fer_app.train failed (above); run this again to resume")


def collect(runs):
    """Each finished run's description, command, options, code version and history."""
    collected = []
    for name, change, description in RUNS:
        if not finished(runs / name):
            raise SystemExit(f"{runs / name}: not finished; train it first (--data)")
        history = json.loads((runs / name / "history.json").read_text())
        collected.append({"name": name, "change": change, "description": description,
                          "command": history["command"], "code": history["code"],
                          "options": history["options"], "history": history["history"]})
    return collected


def best_epoch(run):
    """The epoch of highest validation accuracy (the first, on ties), as training picks it."""
    return max(run["history"], key=lambda epoch: epoch["val_acc"])


def table(collected):
    """The runs as a Markdown table, each measured against the baseline (the first run)."""
    baseline_accuracy = best_epoch(collected[0])["val_acc"]
    lines = ["| change from the recipe | best validation accuracy (epoch) | against the recipe "
             "| validation loss there | training accuracy, last epoch | training time |",
             "|---|---|---|---|---|---|"]
    for run in collected:
        best = best_epoch(run)
        difference = "" if run is collected[0] else f"{100 * (best['val_acc'] - baseline_accuracy):+.1f} points"
        minutes = sum(epoch["train_seconds"] for epoch in run["history"]) / 60
        lines.append(f"| {run['description']} | {best['val_acc']:.1%} ({best['epoch']}) | {difference} "
                     f"| {best['val_loss']:.3f} | {run['history'][-1]['train_acc']:.1%} | {minutes:.0f} min |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", help="FER2013 folder, CSV or cache: train the runs not finished yet")
    parser.add_argument("--runs", required=True, type=Path, help="folder holding one output folder per run")
    parser.add_argument("--json", type=Path, help="collect the finished runs into this file")
    args = parser.parse_args(argv)
    if args.data:
        train_all(args.data, args.runs)
    if args.json:
        collected = collect(args.runs)
        with atomic_write(args.json, "w") as f:
            json.dump(collected, f, indent=1)
        print(table(collected))


if __name__ == "__main__":
    main()
