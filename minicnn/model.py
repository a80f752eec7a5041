"""Sequential: a stack of layers, trained by backpropagation, saved as one .npz file."""
import itertools
import json
import math

import numpy as np

from minicnn.io import atomic_write
from minicnn.layers import LAYER_TYPES, ReLU
from minicnn.losses import softmax
from minicnn.npzfile import ModelFileError, npz_headers, read_npz

FILE_FORMAT = "minicnn.Sequential"
FILE_VERSION = 1
# Far above any network this project builds (vgg_bn: 1.8 million), far below what would
# exhaust a machine's memory: a model file declaring more is refused before anything is allocated.
MAX_PARAMETERS = 100_000_000
# Inference runs this many samples through the network at a time. A larger chunk makes
# every layer's output larger: at 256 faces the first layers' outputs are 75-130 MB each,
# and streaming them through memory cost more than the arithmetic (vgg_bn at batch 256:
# its first convolution 111 ms, the ReLU after it 127). Not through page faults alone:
# with the C library told to keep freed memory (MALLOC_MMAP_THRESHOLD_), one chunk of 256
# was no faster (the report network, one run each: 411 against 481 images/s). Measured
# with predict_proba on 256 faces, chunk sizes taking turns in one process (folded
# networks, 2 threads), images/s in chunks of 64 against one chunk of 256, five runs: the report network 470/250, 513/245, 498/218, 504/282, 561/456; vgg_bn
# 257/277, 577/491, 765/434, 628/690, 806/630. Chunks of 32 were no better than 64, and 16
# worse (Winograd wants several images).
INFERENCE_CHUNK = 64


class Sequential:
    """Sequential(layers): the output of each layer is the input of the next.

    forward(x) runs the layers in order; backward(dout) runs their backward passes in
    reverse order, which is the chain rule: each layer turns dL/d(its output) into
    dL/d(its input) and, on the way, fills its own parameter gradients.
    """

    def __init__(self, layers, meta=None):
        self.layers = list(layers)
        self.meta = dict(meta or {})   # free-form, saved with the model (class names, preprocessing...)

    def forward(self, x, training=False):
        for layer in self.layers:
            x = layer.forward(x, training=training)
        return x

    def backward(self, dout, input_gradient=True):
        """dL/dx for the model's input x; fills every layer's grads on the way.

        input_gradient=False: returns None and skips the work only dL/dx needs: the first
        layer with parameters computes its grads alone (backward_parameters), and the
        layers before it, which have no grads, are not run. Training asks for this: nothing
        reads the gradient of the images. (The report's first layer spent about 12 of its
        26-31 ms of backward at batch 64 on dx; whole training steps, with and without, took
        turns 40 times: 23 ms shorter without, the median of the pairs, of about 600.)
        """
        if input_gradient:
            for layer in reversed(self.layers):
                dout = layer.backward(dout)
            return dout
        first = self._first_layer_with_parameters()
        for layer in reversed(self.layers[first + 1:]):
            dout = layer.backward(dout)
        if first < len(self.layers):
            self.layers[first].backward_parameters(dout)
        return None

    def _first_layer_with_parameters(self):
        return next((index for index, layer in enumerate(self.layers) if layer.params), len(self.layers))

    def named_parameters(self):
        """(name, param, grad) for every parameter, named "<layer index>.<key>", e.g. "0.W"."""
        for index, layer in enumerate(self.layers):
            for key, param in layer.params.items():
                yield f"{index}.{key}", param, layer.grads[key]

    def named_state(self):
        """(name, array) for every state array (running statistics), named like parameters: "3.running_mean"."""
        for index, layer in enumerate(self.layers):
            for key, value in layer.state.items():
                yield f"{index}.{key}", value

    def no_weight_decay(self):
        """Names of the parameters weight decay must leave alone (BatchNorm's gamma and beta)."""
        return {f"{index}.{key}" for index, layer in enumerate(self.layers) for key in layer.no_weight_decay}

    def num_params(self):
        return sum(layer.num_params() for layer in self.layers)

    def freeze(self):
        """Make every parameter and state array read-only, for inference; returns self.

        A layer may then keep what it computes from its weights without checking them
        again: Conv2D's Winograd filter transform (U) is otherwise compared with the
        weights it came from at every call. Training a frozen model stops at the optimizer's
        first write (ValueError: assignment destination is read-only); astype gives
        writable arrays again.
        """
        for layer in self.layers:
            for array in (layer.params | layer.state).values():
                array.flags.writeable = False
        return self

    def astype(self, dtype):
        for layer in self.layers:
            layer.astype(dtype)
        return self

    def predict_proba(self, x, batch_size=INFERENCE_CHUNK):
        """x: (N, C, H, W) -> class probabilities (N, K), computed batch_size samples at a time:
        softmax(forward(x, training=False)), with the ReLUs fused (inference_logits)."""
        if len(x) == 0:
            return np.zeros((0, self.output_shape(x.shape[1:])[0]), dtype=np.float32)
        parts = [softmax(self.inference_logits(x[i:i + batch_size])) for i in range(0, len(x), batch_size)]
        return np.concatenate(parts)

    def inference_logits(self, x):
        """forward(x, training=False), with each ReLU applied by the layer before it as that
        layer writes its output (Layer.forward_relu), as ONNX Runtime fuses a convolution
        and its ReLU: the same values, one pass over memory fewer per ReLU. Inference only:
        the skipped ReLUs keep nothing for a backward pass."""
        index = 0
        while index < len(self.layers):
            layer = self.layers[index]
            if index + 1 < len(self.layers) and isinstance(self.layers[index + 1], ReLU):
                x = layer.forward_relu(x)
                index += 2
            else:
                x = layer.forward(x, training=False)
                index += 1
        return x

    def predict(self, x, batch_size=INFERENCE_CHUNK):
        """x: (N, C, H, W) -> predicted class indices (N,)."""
        return self.predict_proba(x, batch_size).argmax(axis=1)

    def output_shape(self, input_shape):
        shape = tuple(input_shape)
        for layer in self.layers:
            shape = layer.output_shape(shape)
        return shape

    def summary(self, input_shape, print_fn=print):
        """Print (and return) a Keras-like table: layer, output shape, parameters, total."""
        rows, shape = [], tuple(input_shape)
        for index, layer in enumerate(self.layers):
            shape = layer.output_shape(shape)
            rows.append((f"{index}: {type(layer).__name__}", str(shape), f"{layer.num_params():,}"))
        header = ("Layer (type)", "Output Shape", "Param #")
        widths = [max(len(r[i]) for r in rows + [header]) + 4 for i in range(3)]
        line = "=" * sum(widths)

        def fmt(row):
            return "".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip()

        text = "\n".join([f"Input shape: {tuple(input_shape)}  (channels, height, width)", line, fmt(header), line]
                         + [fmt(r) for r in rows]
                         + [line, f"Total params: {self.num_params():,}", line])
        print_fn(text)
        return text

    # --- files -----------------------------------------------------------------------

    def config(self):
        return {"format": FILE_FORMAT, "version": FILE_VERSION,
                "layers": [{"type": type(layer).__name__, "config": layer.config()} for layer in self.layers],
                "meta": self.meta}

    def weights(self):
        """{name: array} of every parameter and state array (see named_parameters, named_state)."""
        return {name: param for name, param, _ in self.named_parameters()} | dict(self.named_state())

    def save(self, path, extra_arrays=None):
        """Write weights and architecture (JSON under "config") to one .npz, atomically."""
        arrays = dict(self.weights())
        arrays["config"] = np.array(json.dumps(self.config()))
        arrays.update(extra_arrays or {})
        with atomic_write(path) as f:
            np.savez(f, **arrays)

    @classmethod
    def load(cls, path):
        """Rebuild the model a file describes and load its weights.

        The file is checked before anything is built: its config must be well formed and
        every layer's declared parameters must match the arrays the file holds (shapes
        from the headers, MAX_PARAMETERS in all); only then are layers built and the
        arrays they need read. Every problem raises ModelFileError.
        """
        config = _parse_config(path)
        expected = {}
        for index, spec in enumerate(config["layers"]):
            try:
                shapes = LAYER_TYPES[spec["type"]].parameter_shapes(**spec["config"])
            except (TypeError, ValueError) as error:
                raise ModelFileError(f"{path}: layer {index} ({spec['type']}) cannot be built: {error}") from None
            expected.update({f"{index}.{key}": shape for key, shape in shapes.items()})
        declared = sum(math.prod(shape) for shape in expected.values())
        if declared > MAX_PARAMETERS:
            raise ModelFileError(f"{path}: declares {declared:,} parameters, more than the {MAX_PARAMETERS:,} "
                                 f"a model may have")
        headers = npz_headers(path, list(expected))
        for name, shape in expected.items():
            if name not in headers:
                raise ModelFileError(f"{path}: no '{name}' in the file, which its layer {name.split('.')[0]} needs")
            if headers[name][0] != shape:
                raise ModelFileError(f"{path}: '{name}' has shape {headers[name][0]} in the file but its layer "
                                     f"declares {shape}")
        layers = []
        for index, spec in enumerate(config["layers"]):
            try:
                layers.append(LAYER_TYPES[spec["type"]](**spec["config"]))
            except (TypeError, ValueError) as error:
                raise ModelFileError(f"{path}: layer {index} ({spec['type']}) cannot be built: {error}") from None
        model = cls(layers, meta=config["meta"])
        model.set_weights(read_npz(path, list(expected)), source=path)
        return model

    def load_weights(self, path):
        """Load a file's weights into this model, checking that its architecture matches."""
        theirs = [spec["type"] for spec in _parse_config(path)["layers"]]
        ours = [type(layer).__name__ for layer in self.layers]
        if theirs != ours:
            index = next(i for i, pair in enumerate(itertools.zip_longest(theirs, ours)) if pair[0] != pair[1])
            raise ModelFileError(f"{path}: another network: the file's {len(theirs)} layers differ from the model's "
                                 f"{len(ours)} from layer {index} on (file: {theirs[index] if index < len(theirs) else 'none'}, "
                                 f"model: {ours[index] if index < len(ours) else 'none'})")
        self.set_weights(read_npz(path, list(self.weights())), source=path)

    def set_weights(self, arrays, source="weights"):
        """Copy {name: array} into the parameters and state; every name must be present, of a
        floating-point dtype, with the right shape, and finite."""
        for index, layer in enumerate(self.layers):
            for key, param in (layer.params | layer.state).items():
                name = f"{index}.{key}"
                where = f"{source}: layer {index} ({type(layer).__name__})"
                if name not in arrays:
                    raise ModelFileError(f"{where} has no '{key}' in the file")
                value = arrays[name]
                if value.shape != param.shape:
                    raise ModelFileError(f"{where} '{key}' has shape {value.shape} in the file but the model "
                                         f"expects {param.shape}")
                if value.dtype.kind != "f":
                    raise ModelFileError(f"{where} '{key}' holds {value.dtype} values; weights are floating point")
                if not np.all(np.isfinite(value)):
                    raise ModelFileError(f"{where} '{key}' holds NaN or inf")
                param[...] = value


def _parse_config(path):
    """The file's architecture, checked to be a well-formed minicnn.Sequential config:
    {"format", "layers": [{"type": a known layer, "config": {...}}, ...], "meta": {...}}."""
    headers = npz_headers(path, ["config"])
    if "config" not in headers:
        raise ModelFileError(f"{path}: no 'config' entry: not a minicnn model file")
    shape, dtype = headers["config"]
    if shape != () or dtype.kind != "U":
        raise ModelFileError(f"{path}: its 'config' is not a text entry: not a minicnn model file")
    try:
        config = json.loads(str(read_npz(path, ["config"])["config"]))
    except (json.JSONDecodeError, RecursionError) as error:
        raise ModelFileError(f"{path}: its 'config' is not valid JSON ({error})") from None
    if not isinstance(config, dict) or config.get("format") != FILE_FORMAT or not isinstance(config.get("layers"), list):
        raise ModelFileError(f"{path}: not a {FILE_FORMAT} file")
    meta = config.setdefault("meta", {})
    if not isinstance(meta, dict):
        raise ModelFileError(f"{path}: its 'meta' is a {type(meta).__name__}, not a JSON object")
    for index, spec in enumerate(config["layers"]):
        if not isinstance(spec, dict) or spec.get("type") not in LAYER_TYPES:
            kind = spec.get("type") if isinstance(spec, dict) else spec
            raise ModelFileError(f"{path}: layer {index} is {kind!r}, not one of the known layers "
                                 f"({', '.join(LAYER_TYPES)})")
        layer_config = spec.setdefault("config", {})
        if not isinstance(layer_config, dict):
            raise ModelFileError(f"{path}: layer {index} ({spec['type']}) has a config that is not a JSON object")
    return config
