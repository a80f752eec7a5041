"""Import FER2013 (image folders or fer2013.csv) into one cache .npz, and show what was in it.

    python -m data_tools.import_fer2013 SRC --out cache.npz [--strict]

Prints the number of images per split and class, how many images were converted (not
48x48 gray), and which files or CSV rows were skipped as unreadable (--strict stops at
the first one instead). The cache is what load_split reads fastest.
"""
import argparse
from pathlib import Path

from data_tools.cli import run
from data_tools.errors import DataError
from data_tools.fer2013 import load_all, save_cache
from data_tools.labels import EMOTIONS
from data_tools.preprocess import INPUT_SIZE

SKIPPED_SHOWN = 20


def format_counts(counts):
    """{split: {class name: count}} -> text table, one row per split, with totals."""
    rows = [[split, *(per_class[name] for name in EMOTIONS)] for split, per_class in counts.items()]
    rows.append(["total", *(sum(per_class[name] for per_class in counts.values()) for name in EMOTIONS)])
    rows = [[*row, sum(row[1:])] for row in rows]
    header = ["split", *EMOTIONS, "total"]
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows)]

    def line(cells):
        name, *numbers = cells
        return "  ".join([f"{name:<{widths[0]}}", *(f"{n:>{w}}" for n, w in zip(numbers, widths[1:]))])

    return "\n".join(line(cells) for cells in [header, *rows])


def format_skipped(skipped):
    """["name: reason", ...] -> lines: a count, the first SKIPPED_SHOWN, then '... N more'."""
    lines = [f"skipped: {len(skipped)} unreadable files or rows"]
    lines += [f"  {entry}" for entry in skipped[:SKIPPED_SHOWN]]
    if len(skipped) > SKIPPED_SHOWN:
        lines.append(f"  ... {len(skipped) - SKIPPED_SHOWN} more")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m data_tools.import_fer2013", description=__doc__.splitlines()[0])
    parser.add_argument("src", help="FER2013 folder (<split>/<class>/ or <class>/) or fer2013.csv")
    parser.add_argument("--out", required=True, type=Path, help="cache file to write, ending in .npz")
    parser.add_argument("--strict", action="store_true", help="stop at the first unreadable file or row")
    args = parser.parse_args(argv)

    # Checked before reading, which can take a minute, rather than when writing.
    if args.out.suffix.lower() != ".npz":
        raise DataError(f"--out must end in .npz, got {args.out}")
    if not args.out.resolve().parent.is_dir():
        raise DataError(f"output folder does not exist: {args.out.resolve().parent}")

    data, report = load_all(args.src, strict=args.strict)
    save_cache(args.out, data)

    print(format_counts(report.counts))
    print(f"converted: {report.converted} images that were not {INPUT_SIZE}x{INPUT_SIZE} gray")
    print(format_skipped(report.skipped))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    run(main)   # user errors -> "error: ..." on stderr, exit 2
