"""One job of fer_app.batch, as a Dask worker runs it: fer_app.video's (or fer_app.image's) outputs, then the manifest.

run_job starts by deleting the job's manifest and then its whole output folder: whatever
an earlier attempt left there (a worker that died mid-video leaves temporary files and
perhaps some finished files, but never a manifest) goes, and the job starts clean. A job
whose input turns out bad removes its folder again and returns a failed row, so the
folder of an input either holds a complete, current set of outputs with a manifest, or
does not exist. run_job only raises if the worker itself fails.
"""
import shutil
from pathlib import Path
from types import SimpleNamespace

from data_tools.errors import DataError, error_line
from data_tools.preprocess import read_image
from fer_app import manifest, options, summary
from fer_app.errors import USER_ERRORS, AppError
from fer_app.image import RECORDS_FILE, annotate_images
from fer_app.model_store import DEFAULT_MODEL, SHIPPED_MODELS, sha256_of, shipped_paths
from fer_app.video import analyze_video


def model_file(settings):
    """The file of the model the settings name: a shipped model (by its name, or the default) or a path."""
    model = settings["model"] or DEFAULT_MODEL
    return shipped_paths(model)[0] if model in SHIPPED_MODELS else Path(model)


def run_job(job, out, settings, model_sha256):
    """Analyse a collection.Job into its folder under out -> {"rows", "frames"}.

    settings      the pipeline options (fer_app.batch.pipeline_settings), as a dict
    model_sha256  the model the batch was started with: a worker with another file refuses
    rows          the job's rows of the collection summary; frames: video frames analysed
    """
    folder = job.folder(out)
    manifest.start(folder)
    shutil.rmtree(folder, ignore_errors=True)
    try:
        if sha256_of(model_file(settings)) != model_sha256:
            raise AppError(f"{model_file(settings)} on this worker is not the model the batch started with")
        args = SimpleNamespace(**settings)
        rows, written, frames = (_video if job.kind == "video" else _images)(job, folder, args)
        manifest.finish(folder, job.sources, model_sha256, settings, written, rows)
    except Exception as error:   # a failed input is a row of the summary, and the batch goes on
        shutil.rmtree(folder, ignore_errors=True)
        message = error_line(error)
        if not isinstance(error, USER_ERRORS):   # a bug, not a bad input: say what kind
            message = f"{type(error).__name__}: {message}"
        rows = [summary.failed_row(source, job.kind, message if str(source) in message else f"{source}: {message}")
                for source in job.sources]
        frames = 0
    return {"rows": rows, "frames": frames}


def _video(job, folder, args):
    """fer_app.video's outputs for the job's video -> (summary rows, files written, frames analysed)."""
    analysis = analyze_video(job.sources[0], folder, options.face_stream_from(args), sample_fps=args.sample_fps,
                             annotated=args.annotated_video, progress=False)
    frames = len(analysis.log.times)
    rows = summary.video_rows(job.sources[0], folder, frames, analysis.frame_seconds,
                              analysis.log.face_statistics(analysis.frame_seconds))
    return rows, analysis.written, frames


def _images(job, folder, args):
    """fer_app.image's outputs for the job's images; an unreadable image is a failed row -> (rows, files, 0)."""
    recognizer = options.recognizer_from(args, options.detector_from(args))
    read, failed = [], []

    def readable_images():
        for path in job.sources:
            try:
                image = read_image(path)
            except (DataError, OSError) as error:   # unreadable, or gone since the batch started
                failed.append(summary.failed_row(path, "image", error_line(error)))
                continue
            read.append(path)
            yield str(path), image

    records, annotated = annotate_images(recognizer, readable_images(), folder, report=lambda line: None)
    rows = [row for path, output in zip(read, annotated)
            for row in summary.image_rows(path, output, [record for record in records if record["file"] == str(path)])]
    return rows + failed, annotated + [folder / RECORDS_FILE], 0
