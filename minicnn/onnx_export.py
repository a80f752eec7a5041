"""Export a Sequential to ONNX, for deployment with ONNX Runtime or OpenCV's DNN module.

The exported graph takes the model's input, float32 (N, C, H, W) with N free, and
returns what Sequential.predict_proba returns, the class probabilities (N, K): a
Softmax ends the graph. Each layer becomes the ONNX operator that computes the same
function:
    Conv2D      -> Conv (W already (F, C, KH, KW), as ONNX wants; pads, strides)
    Dense       -> Gemm (W kept (in, out), so B is not transposed)
    ReLU        -> Relu
    MaxPool2D   -> MaxPool (no padding, floor mode: both drop leftover rows)
    Flatten     -> Flatten(axis=1) (both channel-major on NCHW)
    BatchNorm2D,
    BatchNorm1D -> BatchNormalization with the running statistics (inference mode)
    Dropout     -> nothing: it is the identity in inference
Weights are stored as float32, whatever the model's dtype: the runtimes' kernels are float32.

The onnx package is optional (pip install "minicnn-fer[onnx]") and imported only here,
when an export is asked for.
"""
import json

import numpy as np

from minicnn.fold import fold_batchnorm
from minicnn.io import atomic_write
from minicnn.layers import BatchNorm1D, BatchNorm2D, Conv2D, Dense, Dropout, Flatten, MaxPool2D, ReLU

# Opset 17 and its IR version 8 are read by every ONNX Runtime since 1.13 and by OpenCV 4.8+;
# a newer IR version would be refused by older runtimes for nothing this graph needs.
OPSET = 17
IR_VERSION = 8
INPUT_NAME = "faces"
OUTPUT_NAME = "probabilities"


def to_onnx(model, input_shape=None, fold=False):
    """The ONNX ModelProto of `model` followed by a softmax: (N, *input_shape) -> (N, K).

    input_shape: (C, H, W) of one input; default: the model's meta["input_shape"].
    fold: export minicnn.fold.fold_batchnorm(model), every BatchNorm merged into the
    Conv2D or Dense before it: fewer operators for runtimes that do not merge them
    themselves. ONNX Runtime fuses Conv + BatchNormalization when it loads a graph (not
    Gemm + BatchNormalization), so the default keeps the model's own layers, one
    operator each, which a reader of the file recognises.
    The model's meta is stored as the file's metadata, each value as JSON.
    """
    onnx = _import_onnx()
    from onnx import TensorProto, helper, numpy_helper

    input_shape = tuple(input_shape if input_shape is not None else model.meta.get("input_shape") or ())
    if len(input_shape) != 3:
        raise ValueError(f"input_shape must be (channels, height, width), got {input_shape or 'none'} "
                         f"(pass input_shape, or store it in the model's meta)")
    output_shape = model.output_shape(input_shape)   # ValueError if the layers do not fit
    if len(output_shape) != 1:
        raise ValueError(f"the model outputs shape {output_shape} per input; ONNX export needs class scores (K,)")
    if fold:
        model = fold_batchnorm(model)

    nodes, initializers, current = [], [], INPUT_NAME
    for index, layer in enumerate(model.layers):
        if isinstance(layer, Dropout):
            continue
        kind = _OPERATORS.get(type(layer))
        if kind is None:
            raise ValueError(f"layer {index} ({type(layer).__name__}) has no ONNX export")
        operator, inputs, attributes = kind(layer)
        arrays, names = layer.params | layer.state, [current]
        for key in inputs:
            names.append(f"{index}.{key}")
            initializers.append(numpy_helper.from_array(arrays[key].astype(np.float32), names[-1]))
        current = f"{index}.{type(layer).__name__}"
        nodes.append(helper.make_node(operator, names, [current], name=current, **attributes))
    nodes.append(helper.make_node("Softmax", [current], [OUTPUT_NAME], name="softmax", axis=1))

    graph = helper.make_graph(
        nodes, "minicnn.Sequential",
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, ["batch", *input_shape])],
        [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, ["batch", *output_shape])],
        initializers)
    proto = helper.make_model(graph, producer_name="minicnn", opset_imports=[helper.make_opsetid("", OPSET)])
    proto.ir_version = IR_VERSION
    helper.set_model_props(proto, {key: json.dumps(value) for key, value in model.meta.items()})
    onnx.checker.check_model(proto)
    return proto


def export_onnx(model, path, input_shape=None, fold=False):
    """Write to_onnx(model, input_shape, fold) to `path`, atomically; returns the ModelProto."""
    proto = to_onnx(model, input_shape, fold)
    with atomic_write(path) as f:
        f.write(proto.SerializeToString())
    return proto


def _import_onnx():
    try:
        import onnx
    except ImportError:
        raise ImportError('ONNX export needs the onnx package: pip install "minicnn-fer[onnx]"') from None
    return onnx


# layer -> (ONNX operator, names of the layer's arrays it takes after the input, attributes)

def _conv(layer):
    pad = layer.pad
    return "Conv", ["W", "b"], {"kernel_shape": list(layer.kernel_size), "strides": [layer.stride] * 2,
                                "pads": [pad] * 4}


def _dense(layer):
    return "Gemm", ["W", "b"], {}


def _max_pool(layer):
    return "MaxPool", [], {"kernel_shape": [layer.pool_size] * 2, "strides": [layer.stride] * 2}


def _batchnorm(layer):
    return "BatchNormalization", ["gamma", "beta", "running_mean", "running_var"], {"epsilon": layer.eps}


_OPERATORS = {
    Conv2D: _conv,
    Dense: _dense,
    ReLU: lambda layer: ("Relu", [], {}),
    MaxPool2D: _max_pool,
    Flatten: lambda layer: ("Flatten", [], {"axis": 1}),
    BatchNorm2D: _batchnorm,
    BatchNorm1D: _batchnorm,
}
