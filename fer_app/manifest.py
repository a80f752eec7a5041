"""The record that marks a batch job's outputs complete, so that a re-run can skip the job.

A job writes manifest.json into its output folder last, atomically, after every output
is in place; a job that starts deletes it first. So a folder without one is unfinished
(a worker died, the run was stopped) and is done again, whatever else it holds. The
manifest holds:

    {"sources": [{"path", "size", "mtime_ns"}, ...],   the job's inputs when it ran
     "model_sha256": "...", "settings": {...},          the model and options it ran with
     "outputs": {"file name": size in bytes, ...},      what it wrote
     "rows": [...]}                                     its rows of the collection summary

The outputs are complete and current when the inputs still have that size and
modification time, the model and settings are the same, and every output is there
with its size.
"""
import json
from pathlib import Path

from minicnn.io import write_json

MANIFEST = "manifest.json"


def fingerprint(paths):
    """[{"path", "size", "mtime_ns"}] of files: what tells whether an input changed, without reading it."""
    records = []
    for path in map(Path, paths):
        status = path.stat()
        records.append({"path": str(path), "size": status.st_size, "mtime_ns": status.st_mtime_ns})
    return records


def start(folder):
    """Mark folder's outputs incomplete (delete its manifest), before a job writes anything."""
    (Path(folder) / MANIFEST).unlink(missing_ok=True)


def finish(folder, sources, model_sha256, settings, outputs, rows):
    """Mark folder's outputs complete: outputs are the files written, rows the job's summary rows."""
    write_json(Path(folder) / MANIFEST, {
        "sources": fingerprint(sources), "model_sha256": model_sha256, "settings": settings,
        "outputs": {Path(path).name: Path(path).stat().st_size for path in outputs}, "rows": rows})


def completed_rows(folder, sources, model_sha256, settings):
    """The summary rows of a job already done with these inputs, model and settings, or None."""
    folder = Path(folder)
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
        current = fingerprint(sources)
    except (OSError, ValueError):
        return None
    if (manifest.get("sources") != current or manifest.get("model_sha256") != model_sha256
            or manifest.get("settings") != settings):
        return None
    for name, size in manifest.get("outputs", {}).items():
        path = folder / name
        if not path.is_file() or path.stat().st_size != size:
            return None
    return manifest.get("rows")
