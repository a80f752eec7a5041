"""The recipe table of docs/results.md: each run changes one thing, and the table reads the runs right."""
import json

import pytest

from benchmarks.recipe_ablation import RESULTS, RUNS, SHORT_BUDGET, table
from fer_app.train import RUN_OPTIONS, make_parser, parse_args


def options_of(arguments):
    args = parse_args(arguments)
    return {option: getattr(args, option) for option in RUN_OPTIONS}


def test_each_recorded_run_is_the_recipe_with_its_one_change():
    collected = json.loads(RESULTS.read_text())
    assert [run["name"] for run in collected] == [name for name, _, _ in RUNS]
    parser = make_parser()
    for run, (_, change, _) in zip(collected, RUNS):
        # An option added after the runs (label smoothing) is recorded by none; they ran with its default.
        recorded = {option: run["options"].get(option, parser.get_default(option)) for option in RUN_OPTIONS}
        assert recorded == options_of(SHORT_BUDGET + change)
        assert len(run["history"]) == run["options"]["epochs"]


def fake_run(description, val_accuracies):
    return {"description": description,
            "history": [{"epoch": i + 1, "val_acc": acc, "val_loss": 1.0 + i, "train_acc": 0.5, "train_seconds": 60.0}
                        for i, acc in enumerate(val_accuracies)]}


def test_table_takes_each_runs_best_epoch_against_the_baseline():
    rows = table([fake_run("recipe", [0.40, 0.50, 0.45]), fake_run("change", [0.30, 0.52, 0.52])]).splitlines()
    assert rows[2] == "| recipe | 50.0% (2) |  | 2.000 | 50.0% | 3 min |"
    # The first of equal epochs is the one training keeps.
    assert rows[3] == "| change | 52.0% (2) | +2.0 points | 2.000 | 50.0% | 3 min |"


@pytest.mark.parametrize("name, change, _", RUNS)
def test_each_change_parses_and_differs_from_the_recipe(name, change, _):
    if change:
        assert options_of(SHORT_BUDGET + change) != options_of(SHORT_BUDGET), name
