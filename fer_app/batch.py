"""Emotions in a whole collection of videos (and images), run as Dask tasks: on this machine or on a cluster.

    python -m fer_app.batch interviews/ --out fer_batch
    python -m fer_app.batch a.mp4 b.mp4 photos/ --out fer_batch --sample-fps 5 --no-annotated-video
    python -m fer_app.batch recordings/ --out /shared/fer_batch --scheduler tcp://10.0.0.5:8786

PATH is a video, an image or a folder of them (not searched recursively). Each video is
one task and gets what fer_app.video writes, in its own folder; all the images together
are one task and get what fer_app.image writes. Written to --out:
  videos/<name>/        <name>.faces.csv, <name>.timeline.png, <name>.annotated.mp4 (not with
                        --no-annotated-video) and manifest.json (see below)
  images/               the annotated images, faces.json and manifest.json
  summary.csv           one row per face per input: duration on screen, share of the time in
                        each emotion, mean probabilities; a row per failed input with its error
                        (the columns: fer_app/summary.py)
  summary.json          the same rows, for scripts
The pipeline options are fer_app.video's and mean the same; the images get them too, with
fer_app.image's defaults where the two differ (--detect-width).

Resuming: a task writes its manifest.json last, after all its outputs. A re-run skips
the tasks whose outputs are complete and were made from the same files (same size and
modification time), with the same model and options; --force redoes them. A video that
failed has no outputs, so it is tried again; the images are all redone when one changed.

Faults: an input that cannot be read becomes a failed row and the rest go on. A worker
that dies mid-video has the video redone by another worker (a folder is only complete
with its manifest, so nothing half-written passes for a result). The exit code is 0
when every input was analysed, 1 when some failed (they are listed), 2 on bad usage.

Python: fer_app.batch.analyze(paths, out_dir, ...) does the same and returns the summary rows.
"""
import argparse
import shutil
import sys
import time
import uuid
from pathlib import Path
from types import SimpleNamespace

from tqdm import tqdm

from data_tools.errors import error_line
from fer_app import manifest, options, summary
from fer_app.batch_job import model_file, run_job
from fer_app.cli import run
from fer_app.cluster import dashboard_line, dask_client
from fer_app.collection import collect
from fer_app.detect import available_detectors
from fer_app.errors import AppError
from fer_app.model_store import SHIPPED_MODELS, sha256_of
from fer_app.validators import positive_int
from fer_app.video import add_pipeline_options


def pipeline_parser():
    """The options of the per-input work: fer_app.video's."""
    parser = argparse.ArgumentParser(add_help=False)
    add_pipeline_options(parser)
    return parser


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m fer_app.batch", description=__doc__, parents=[pipeline_parser()],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="+", metavar="PATH", help="video and image files and/or folders of them")
    parser.add_argument("--out", default="fer_output", help="output folder (default fer_output)")
    parser.add_argument("--force", action="store_true", help="redo the inputs a previous run already analysed")
    cluster = parser.add_argument_group("where the work runs (Dask)")
    cluster.add_argument("--workers", type=positive_int, metavar="N",
                         help="worker processes of the local cluster (default: one per core)")
    cluster.add_argument("--threads-per-worker", type=positive_int, metavar="N",
                         help="tasks each local worker runs at once (default 1)")
    cluster.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                         help="run on this existing Dask cluster instead of a local one")
    return parser.parse_args(argv)


def pipeline_settings(**overrides):
    """The pipeline options as a dict: their defaults with overrides (the options' names, as in the args)."""
    settings = vars(pipeline_parser().parse_args([]))
    unknown = sorted(set(overrides) - set(settings))
    if unknown:
        raise TypeError(f"unknown option{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)} "
                        f"(known: {', '.join(sorted(settings))})")
    settings.update(overrides)
    if settings["sample_fps"] is not None and not settings["sample_fps"] > 0:
        raise AppError(f"the sampling rate must be more than 0 frames per second, got {settings['sample_fps']}")
    if settings["model"] is not None and settings["model"] not in SHIPPED_MODELS:
        settings["model"] = str(Path(settings["model"]).resolve())   # workers may run in another folder
    if settings["detector"] == "auto":
        # The detector that runs, not "auto": the manifests must tell a re-run after the
        # learned detector was installed (or removed) from the outputs of the other one.
        settings["detector"] = available_detectors()[0]
    return settings


def analyze(paths, out_dir="fer_output", *, workers=None, threads_per_worker=None, scheduler=None, force=False,
            progress=True, **pipeline_options):
    """Analyse videos and images (files or folders) into out_dir -> the summary rows, as dicts.

    workers, threads_per_worker  the size of the local Dask cluster (default: a worker per core)
    scheduler                    the address of an existing Dask cluster to use instead
    force                        redo inputs whose outputs are complete and current
    progress                     print what happens and show a progress bar
    pipeline_options             fer_app.video's options by their argparse names (model, detector,
                                 detect_every, sample_fps, annotated_video, ...: pipeline_settings()
                                 gives them all with their defaults)
    The rows are those of summary.csv (see fer_app/summary.py), also written to out_dir.
    Raises AppError for a model or options that cannot work (before any input is analysed).
    """
    if scheduler and (workers or threads_per_worker):
        raise AppError("--workers and --threads-per-worker size a local cluster; an existing cluster has its own")
    say = print if progress else (lambda *line: None)
    settings = pipeline_settings(**pipeline_options)
    options.face_stream_from(SimpleNamespace(**settings))   # a model or option that cannot work fails here, once
    model_sha256 = sha256_of(model_file(settings))
    out = Path(out_dir).resolve()
    jobs, bad_inputs = collect(paths)
    rows_of = {} if force else {job: manifest.completed_rows(job.folder(out), job.sources, model_sha256, settings)
                                for job in jobs}
    done_before = [job for job in jobs if rows_of.get(job) is not None]
    todo = [job for job in jobs if rows_of.get(job) is None]
    if done_before:
        say(f"{len(done_before)} of {len(jobs)} tasks already done with this model and these options: "
            f"skipped (--force redoes them)")
    frames, seconds = 0, 0.0
    if todo:
        with dask_client(scheduler, workers, threads_per_worker) as client:
            say(dashboard_line(client))
            started = time.perf_counter()
            for job, result in _run(client, todo, out, settings, model_sha256, progress):
                rows_of[job] = result["rows"]
                frames += result["frames"]
            seconds = time.perf_counter() - started
            worker_count = len(client.scheduler_info()["workers"])
    rows = [row for job in jobs for row in rows_of[job]]
    rows += [summary.failed_row(bad.path, None, bad.error) for bad in bad_inputs]
    written = summary.write(out, rows)
    failed = [row for row in rows if row["status"] == "failed"]
    for row in failed:
        say(f"failed: {row['error']}")
    if frames:
        say(f"{frames} video frames analysed in {seconds:.1f} s = {frames / seconds:.1f} frames/s "
            f"on {worker_count} worker{'s' if worker_count != 1 else ''}")
    say(f"{len({row['input'] for row in rows})} inputs, {len(failed)} failed; wrote {written[0]}, {written[1]}")
    return rows


def _run(client, jobs, out, settings, model_sha256, progress):
    """Submit every job to the cluster; yield (job, result) as they finish, with a progress bar."""
    from distributed import KilledWorker, as_completed
    run_id = uuid.uuid4().hex[:8]
    # Largest first: a long video started last would keep the others waiting at the end.
    sizes = {job: sum(source.stat().st_size for source in job.sources) for job in jobs}
    futures = {client.submit(run_job, job, str(out), settings, model_sha256, key=f"{job.kind}-{job.name}-{run_id}",
                             priority=sizes[job], pure=False): job for job in jobs}
    failed, frames, started = 0, 0, time.perf_counter()
    with tqdm(total=len(jobs), unit="task", desc="batch", disable=not progress) as bar:
        for future in as_completed(futures):
            job = futures[future]
            try:
                result = future.result()
            except KilledWorker:
                result = _lost(job, out, "the workers running it died (killed, or out of memory?)")
            except Exception as error:   # the cluster lost the task some other way: a failed row, not the end
                result = _lost(job, out, f"the task failed on the cluster: {type(error).__name__}: {error_line(error)}")
            failed += len({row["input"] for row in result["rows"] if row["status"] == "failed"})
            frames += result["frames"]
            bar.set_postfix_str(f"{failed} failed, {frames / (time.perf_counter() - started):.1f} frames/s")
            bar.update()
            yield job, result


def _lost(job, out, why):
    """The result of a job whose task never finished: its folder removed, a failed row per input."""
    shutil.rmtree(job.folder(out), ignore_errors=True)
    return {"rows": [summary.failed_row(source, job.kind, f"{source}: {why}") for source in job.sources], "frames": 0}


def main(argv=None):
    args = parse_args(argv)
    settings = {name: getattr(args, name) for name in vars(pipeline_parser().parse_args([]))}
    rows = analyze(args.paths, args.out, workers=args.workers, threads_per_worker=args.threads_per_worker,
                   scheduler=args.scheduler, force=args.force, **settings)
    failed = {row["input"] for row in rows if row["status"] == "failed"}
    if failed:
        print(f"error: {len(failed)} of {len({row['input'] for row in rows})} inputs failed "
              f"(see {Path(args.out) / summary.CSV_FILE})", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    run(main)
