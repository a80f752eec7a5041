"""Export a model to ONNX, to deploy it with ONNX Runtime or OpenCV's DNN module.

    python -m fer_app.export_onnx --out report_cnn.onnx                  # the shipped model
    python -m fer_app.export_onnx --model runs/vgg_bn/best.npz --out vgg_bn.onnx --fold-batchnorm

The file takes "faces", float32 (N, 1, 48, 48) preprocessed as data_tools.preprocess does
(gray, 48x48, / 255), and returns "probabilities" (N, 7) in the order of
data_tools.labels.EMOTIONS, which the file's metadata also lists. Needs the onnx extra:
pip install "minicnn-fer[onnx]".
"""
import argparse

from data_tools.preprocess import INPUT_SHAPE
from fer_app.cli import run
from fer_app.errors import AppError
from fer_app.model_store import DEFAULT_MODEL, SHIPPED_MODELS, load_model
from minicnn.onnx_export import export_onnx


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m fer_app.export_onnx", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", metavar="NAME|PATH",
                        help=f"a shipped model ({', '.join(SHIPPED_MODELS)}) or a model file written by "
                             f"fer_app.train (default: {DEFAULT_MODEL})")
    parser.add_argument("--out", required=True, help="the .onnx file to write")
    parser.add_argument("--fold-batchnorm", action="store_true",
                        help="merge every BatchNorm into the layer before it (fewer operators; ONNX Runtime "
                             "merges those after a convolution itself)")
    args = parser.parse_args(argv)

    model = load_model(args.model)
    try:
        proto = export_onnx(model, args.out, INPUT_SHAPE, fold=args.fold_batchnorm)
    except ImportError as error:
        raise AppError(str(error)) from None
    print(f"wrote {args.out}: {len(proto.graph.node)} operators, faces (N, {', '.join(map(str, INPUT_SHAPE))}) "
          f"-> probabilities (N, {len(model.meta['classes'])})")
    return 0


if __name__ == "__main__":
    run(main)
