"""The collection summary of fer_app.batch: one row per face per input, one per failed input.

Columns (FIELDS), the same in summary.csv, summary.json and the records analyze() returns:
  input              the video or image file
  kind               "video" or "image"
  status             "done" or "failed"
  output             the video's output folder, or the image's annotated copy
  video_seconds      the video's length, as analysed (empty for images)
  frames_analysed    frames of the video analysed (every frame, or those --sample-fps took; 1 for an image)
  face_id            the face's id in the video's CSV; for an image, its number, largest face first
  frames_on_screen   analysed frames in which the face was found
  seconds_on_screen  the video time those frames stand for
  share_<emotion>    the part of those frames labelled with that emotion (0..1)
  mean_p_<emotion>   the face's (smoothed) probability of that emotion, averaged over those frames
  error              why a failed input failed, one line
An input without any face has one row with the face columns empty. Empty is None in the
records and JSON, an empty field in the CSV.
"""
import csv
import io
from pathlib import Path

from data_tools.labels import EMOTIONS
from minicnn.io import atomic_write, write_json

FACE_FIELDS = (["face_id", "frames_on_screen", "seconds_on_screen"]
               + [f"share_{emotion}" for emotion in EMOTIONS] + [f"mean_p_{emotion}" for emotion in EMOTIONS])
FIELDS = ["input", "kind", "status", "output", "video_seconds", "frames_analysed"] + FACE_FIELDS + ["error"]
CSV_FILE = "summary.csv"
JSON_FILE = "summary.json"


def _row(**values):
    return {field: values.get(field) for field in FIELDS}


def _face_values(face_id, frames, seconds, shares, mean_probs):
    values = {"face_id": face_id, "frames_on_screen": frames,
              "seconds_on_screen": None if seconds is None else round(float(seconds), 3)}
    values.update({f"share_{emotion}": round(float(share), 5) for emotion, share in zip(EMOTIONS, shares)})
    values.update({f"mean_p_{emotion}": round(float(p), 5) for emotion, p in zip(EMOTIONS, mean_probs)})
    return values


def video_rows(source, output, frames_analysed, frame_seconds, face_statistics):
    """A video's rows; face_statistics as fer_app.video.EmotionLog.face_statistics gives them."""
    video = {"input": str(source), "kind": "video", "status": "done", "output": str(output),
             "video_seconds": round(frames_analysed * frame_seconds, 3), "frames_analysed": frames_analysed}
    if not face_statistics:
        return [_row(**video)]
    return [_row(**video, **_face_values(face["face_id"], face["frames"], face["seconds"], face["shares"],
                                         face["mean_probs"]))
            for face in face_statistics]


def image_rows(source, output, face_records):
    """An image's rows; face_records: its faces' records, as fer_app.image writes them to faces.json."""
    image = {"input": str(source), "kind": "image", "status": "done", "output": str(output), "frames_analysed": 1}
    if not face_records:
        return [_row(**image)]
    return [_row(**image, **_face_values(number, 1, None, [float(emotion == face["label"]) for emotion in EMOTIONS],
                                         [face["probs"][emotion] for emotion in EMOTIONS]))
            for number, face in enumerate(face_records, start=1)]


def failed_row(source, kind, error):
    return _row(input=str(source), kind=kind, status="failed", error=error)


def write(out, rows):
    """summary.csv and summary.json in folder out, each written atomically -> their paths."""
    out = Path(out)
    text = io.StringIO()
    table = csv.DictWriter(text, FIELDS, lineterminator="\n")
    table.writeheader()
    table.writerows({field: "" if value is None else value for field, value in row.items()} for row in rows)
    with atomic_write(out / CSV_FILE, "w") as f:
        f.write(text.getvalue())
    write_json(out / JSON_FILE, rows)
    return out / CSV_FILE, out / JSON_FILE
