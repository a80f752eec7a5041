"""Where the app's model comes from: a shipped model by name (checked against its record) or a file.

The shipped models live in fer_app/weights/: <stem>.npz and its record <stem>.json,
which holds at least {"sha256": "<hex digest of the .npz>"}. A file that differs from
its record is refused: it was damaged or replaced, and its answers would not be the
documented ones. Any model, shipped or not, must predict the classes of
data_tools.labels.EMOTIONS, in that order, from inputs of data_tools.preprocess.INPUT_SHAPE.
"""
import hashlib
import json
from pathlib import Path

from data_tools.labels import EMOTIONS, NUM_CLASSES
from data_tools.preprocess import INPUT_SHAPE
from minicnn import ModelFileError, Sequential
from minicnn.fold import fold_batchnorm

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
# name (what --model takes) -> file stem in WEIGHTS_DIR. vgg_bn, the BatchNorm network, is
# the more accurate (docs/results.md); report is the 2024 report's network, exactly.
SHIPPED_MODELS = {"vgg_bn": "vgg_bn", "report": "report_cnn"}
DEFAULT_MODEL = "vgg_bn"


def shipped_paths(name):
    """(model .npz, record .json) of the shipped model called `name`."""
    stem = SHIPPED_MODELS[name]
    return WEIGHTS_DIR / f"{stem}.npz", WEIGHTS_DIR / f"{stem}.json"


SHIPPED_MODEL, SHIPPED_RECORD = shipped_paths(DEFAULT_MODEL)


def sha256_of(path):
    """Hex SHA-256 digest of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_model(path=None):
    """The model `path` names: None for the default shipped model, a shipped model's name
    (SHIPPED_MODELS), or a model file; checked to fit the app."""
    if path is None:
        path = DEFAULT_MODEL
    if str(path) in SHIPPED_MODELS:
        return load_shipped_model(*shipped_paths(str(path)))
    model = Sequential.load(path)
    check_model_fits(model, path)
    return model


def load_inference_model(path=None):
    """load_model(path) as the app runs it: every BatchNorm folded into the layer before it
    (minicnn.fold), the same function with one pass over memory less per BatchNorm, and
    the weights frozen (Sequential.freeze), so that layers keep what they compute from them."""
    return fold_batchnorm(load_model(path)).freeze()


def load_shipped_model(model_path=SHIPPED_MODEL, record_path=SHIPPED_RECORD):
    """The shipped model, after checking its SHA-256 against the one in its record."""
    if not Path(model_path).is_file():
        raise ModelFileError(f"no shipped model yet ({model_path} is missing): pass --model PATH")
    try:
        expected = json.loads(Path(record_path).read_text(encoding="utf-8"))["sha256"]
    except FileNotFoundError:
        raise ModelFileError(f"{record_path}: missing, so the shipped model cannot be verified: "
                             f"reinstall, or pass --model PATH") from None
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError) as error:
        raise ModelFileError(f"{record_path}: not a model record with a 'sha256' entry ({error})") from None
    actual = sha256_of(model_path)
    if actual != expected:
        raise ModelFileError(f"{model_path}: SHA-256 {actual[:16]}... differs from its record's {expected[:16]}...: "
                             f"the file is damaged or was replaced; reinstall, or pass --model PATH")
    return load_model(model_path)


def check_model_fits(model, source):
    """Raise ModelFileError unless the model maps INPUT_SHAPE inputs to EMOTIONS probabilities."""
    classes = model.meta.get("classes")
    if classes != list(EMOTIONS):
        raise ModelFileError(f"{source}: the model's classes {classes} are not the app's {list(EMOTIONS)}")
    input_shape = model.meta.get("input_shape")
    if input_shape != list(INPUT_SHAPE):
        raise ModelFileError(f"{source}: the model's input shape {input_shape} is not the app's {list(INPUT_SHAPE)}")
    try:
        output_shape = model.output_shape(INPUT_SHAPE)
    except ValueError as error:
        raise ModelFileError(f"{source}: the layers do not fit a {INPUT_SHAPE} input ({error})") from None
    if output_shape != (NUM_CLASSES,):
        raise ModelFileError(f"{source}: the model outputs shape {output_shape}, not ({NUM_CLASSES},)")
