"""Winograd convolution: its matrices, its transforms and their adjoints, its rounding,
and the Conv2D that uses it (gradients are in test_gradcheck, backends in test_backends)."""
import numpy as np
import pytest

from minicnn import Conv2D, Sequential
from minicnn.backend import active_kernels
from minicnn.kernels import im2col_numpy
from minicnn.kernels.winograd_matrices import MAX_TILE, best_output_tile, mirrored_rows, winograd_matrices
from minicnn.layers import conv
from minicnn.losses import SoftmaxCrossEntropy
from minicnn.models import report_cnn, vgg_bn_cnn
from minicnn.optim import SGD

ALL_SIZES = [(m, r) for r in range(1, MAX_TILE) for m in range(1, MAX_TILE - r + 2)]

# (N, C, H, W, F, r, pad, m): tiles that overhang the output, padding, every tile size.
TRANSFORM_CASES = [
    (2, 3, 9, 11, 4, 3, 1, 2),
    (2, 3, 9, 11, 4, 3, 0, 4),
    (1, 2, 12, 7, 3, 5, 2, 3),
    (2, 4, 13, 13, 5, 5, 0, 4),
    (1, 3, 8, 8, 2, 3, 1, 6),
    (1, 2, 10, 9, 2, 7, 3, 2),
    (2, 2, 6, 7, 3, 2, 0, 5),
]


def direct_conv(x, weights, bias, pad):
    f, _, r, _ = weights.shape
    n, _, h, w = x.shape
    oh, ow = h + 2 * pad - r + 1, w + 2 * pad - r + 1
    out = weights.reshape(f, -1) @ im2col_numpy.im2col(x, r, r, 1, pad)
    return out.reshape(n, f, oh, ow) + bias.reshape(1, f, 1, 1)


@pytest.mark.parametrize("m,r", ALL_SIZES)
def test_one_dimensional_minimal_filtering_is_a_correlation(m, r):
    at, g, bt = winograd_matrices(m, r)
    rng = np.random.default_rng(m * 10 + r)
    d, taps = rng.standard_normal(m + r - 1), rng.standard_normal(r)
    np.testing.assert_allclose(at @ ((g @ taps) * (bt @ d)), np.correlate(d, taps, "valid"), atol=1e-12)


@pytest.mark.parametrize("m,r", ALL_SIZES)
def test_mirrored_rows_cover_bt_once_and_reproduce_each_minus_row(m, r):
    bt = winograd_matrices(m, r)[2]
    pairs, singles = mirrored_rows(m, r)
    assert sorted(pairs.ravel().tolist() + singles.tolist()) == list(range(len(bt)))
    signs = (-1.0) ** np.arange(len(bt))
    for plus, minus in pairs:
        np.testing.assert_allclose(bt[minus], signs * bt[plus], rtol=1e-12, atol=0)
    if m + r - 1 in (4, 6, 8):        # points 0, +-1, (+-1/2, +-2), infinity: all but two rows pair up
        assert len(singles) == 2


def test_tiles_beyond_the_accurate_size_are_refused():
    with pytest.raises(ValueError, match="tile"):
        winograd_matrices(6, 5)


@pytest.mark.parametrize("case", TRANSFORM_CASES, ids=str)
def test_transforms_compute_the_convolution(case, backend):
    n, c, h, w, f, r, pad, m = case
    rng = np.random.default_rng(0)
    x, weights, bias = rng.standard_normal((n, c, h, w)), rng.standard_normal((f, c, r, r)), rng.standard_normal(f)
    expected = direct_conv(x, weights, bias, pad)
    kernels = active_kernels()
    u = kernels.winograd_filter_transform(weights, m)
    v = kernels.winograd_input_transform(x, m, r, pad)
    out = kernels.winograd_output_transform(np.matmul(u, v), m, r, bias, expected.shape)
    np.testing.assert_allclose(out, expected, rtol=1e-10, atol=1e-10)


def inner(a, b):
    return float(np.vdot(a, b))


@pytest.mark.parametrize("case", TRANSFORM_CASES, ids=str)
def test_adjoints_are_transposes(case, backend):
    """<T a, b> = <a, T' b> for random a and b: what makes backward the exact gradient."""
    n, c, h, w, f, r, pad, m = case
    rng = np.random.default_rng(1)
    x, weights = rng.standard_normal((n, c, h, w)), rng.standard_normal((f, c, r, r))
    kernels = active_kernels()
    u = kernels.winograd_filter_transform(weights, m)
    v = kernels.winograd_input_transform(x, m, r, pad)
    out_shape = (n, f, h + 2 * pad - r + 1, w + 2 * pad - r + 1)
    du, dv = rng.standard_normal(u.shape), rng.standard_normal(v.shape)
    products, dy = rng.standard_normal((u.shape[0], f, v.shape[2])), rng.standard_normal(out_shape)
    no_bias = np.zeros(f)
    pairs = [
        (inner(u, du), inner(weights, kernels.winograd_filter_transform_adjoint(du, m, r))),
        (inner(v, dv), inner(x, kernels.winograd_input_transform_adjoint(dv, x.shape, m, r, pad))),
        (inner(kernels.winograd_output_transform(products, m, r, no_bias, out_shape), dy),
         inner(products, kernels.winograd_output_transform_adjoint(dy, m, r))),
    ]
    for forward, adjoint in pairs:
        assert forward == pytest.approx(adjoint, rel=1e-10, abs=1e-10)


def test_best_output_tile_minimises_the_transform_work():
    # The report's layers: 40x40 out of a 5x5 kernel, 18x18 and 16x16 out of 3x3 kernels.
    assert [best_output_tile(s, s, r) for s, r in [(40, 5), (18, 3), (16, 3)]] == [4, 3, 4]
    assert best_output_tile(3, 3, 3) == 3          # one tile covers it all


@pytest.mark.parametrize("c,h,f,r", [(64, 44, 64, 5), (64, 20, 128, 3), (128, 18, 128, 3)], ids=str)
def test_float32_rounding_stays_small_on_the_report_layers(c, h, f, r, backend):
    """Larger tiles round more than im2col; measured ~3e-5 relative (5x5) against ~3e-6."""
    rng = np.random.default_rng(2)
    limit = np.sqrt(6 / ((c + f) * r * r))      # Glorot, as the network is initialised
    x = np.abs(rng.standard_normal((2, c, h, h)))
    weights, bias = rng.uniform(-limit, limit, (f, c, r, r)), np.zeros(f)
    exact = direct_conv(x, weights, bias, 0)
    layer = Conv2D(c, f, r, algorithm="winograd", dtype=np.float32)
    layer.params["W"][...] = weights
    winograd = layer.forward(x.astype(np.float32))
    im2col = direct_conv(x.astype(np.float32), weights.astype(np.float32), bias.astype(np.float32), 0)
    scale = np.abs(exact).mean()
    winograd_error, im2col_error = np.abs(winograd - exact).max() / scale, np.abs(im2col - exact).max() / scale
    assert winograd_error < 1e-4
    assert winograd_error < 30 * im2col_error


def test_auto_uses_winograd_where_it_pays():
    """In training always (where it fits), in inference once the products have 16 columns."""
    faces = (1, 1, 48, 48)
    convs = [layer for layer in report_cnn().layers if isinstance(layer, Conv2D)]
    shapes = [(1, *layer_shape) for layer_shape in _conv_input_shapes(report_cnn(), faces[1:])]
    assert [layer.uses_winograd(True, shape) for layer, shape in zip(convs, shapes)] == [False, True, True, True]
    # 1 input channel; then 100, 36 and 16 tiles a face: each face fills the products
    assert [layer.uses_winograd(False, shape) for layer, shape in zip(convs, shapes)] == [False, True, True, True]
    vgg = [layer for layer in vgg_bn_cnn().layers if isinstance(layer, Conv2D)]
    vgg_shapes = _conv_input_shapes(vgg_bn_cnn(), faces[1:])
    # 24x24 images: 36 tiles of 4x4; 12x12: 9; 6x6: 4 tiles of 3x3
    for batch, expected in ((1, [False, True, True, False, False, False, False]),
                            (2, [False, True, True, True, True, False, False]),
                            (4, [False, True, True, True, True, True, True])):
        assert [layer.uses_winograd(False, (batch, *shape)) for layer, shape in zip(vgg, vgg_shapes)] == expected
        assert all(layer.uses_winograd(True, (batch, *shape)) for layer, shape in zip(vgg[1:], vgg_shapes[1:]))
    assert not Conv2D(64, 64, 3, stride=2).uses_winograd(True, (64, 64, 24, 24))
    assert not Conv2D(64, 64, 7).uses_winograd(True, (64, 64, 24, 24))
    assert not Conv2D(64, 64, 3, algorithm="im2col").uses_winograd(True, (64, 64, 24, 24))
    assert Conv2D(64, 64, 3, algorithm="winograd").uses_winograd(False, (1, 64, 6, 6))


def _conv_input_shapes(model, shape):
    """The (C, H, W) each Conv2D of the model receives from an input of that shape."""
    shapes = []
    for layer in model.layers:
        if isinstance(layer, Conv2D):
            shapes.append(shape)
        shape = layer.output_shape(shape)
    return shapes


def test_a_batch_takes_the_path_chosen_for_its_size():
    """Inference of one face and of a batch: both paths, the same outputs (to float rounding)."""
    layer = Conv2D(32, 16, 3, padding="same", rng=np.random.default_rng(3))
    x = np.random.default_rng(4).normal(size=(4, 32, 12, 12)).astype(np.float32)
    together = layer.forward(x)
    assert layer._cache.winograd
    one_by_one = np.concatenate([layer.forward(x[i:i + 1]) for i in range(4)])
    assert not layer._cache.winograd
    np.testing.assert_allclose(together, one_by_one, rtol=1e-4, atol=1e-4)


def test_filter_transform_follows_every_change_of_the_weights():
    """U is kept between forward passes; any change to W, in place or of dtype, recomputes it."""
    rng = np.random.default_rng(7)
    layer = Conv2D(16, 4, 5, algorithm="winograd", rng=rng, dtype=np.float64)
    x = rng.standard_normal((1, 16, 9, 9))
    first = layer.forward(x)
    np.testing.assert_array_equal(layer.forward(x), first)
    layer.params["W"][0, 0, 0, 0] += 1.0
    changed = layer.forward(x)
    np.testing.assert_allclose(changed, direct_conv(x, layer.params["W"], layer.params["b"], 0), atol=1e-10)
    assert not np.allclose(changed, first)
    layer.astype(np.float32)
    assert layer.forward(x.astype(np.float32)).dtype == np.float32


def test_frozen_weights_are_not_compared_and_a_read_only_view_still_is(monkeypatch):
    """Sequential.freeze: the filter transform of read-only weights that own their memory is
    kept without comparing them; a read-only view of writable weights can still change."""
    rng = np.random.default_rng(8)
    model = Sequential([Conv2D(16, 4, 3, algorithm="winograd", rng=rng, dtype=np.float64)])
    x = rng.standard_normal((1, 16, 9, 9))
    expected = model.forward(x)
    model.freeze()
    layer = model.layers[0]
    assert not layer.params["W"].flags.writeable and not layer.params["b"].flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        layer.params["W"][0, 0, 0, 0] += 1.0
    model.forward(x)                                             # the frozen weights' transform, kept
    compared = []
    monkeypatch.setattr(conv.np, "array_equal", lambda *arrays: compared.append(arrays) or True)
    np.testing.assert_array_equal(model.forward(x), expected)
    assert compared == []
    monkeypatch.undo()
    writable = rng.standard_normal(layer.params["W"].shape)
    view = writable[...]
    view.flags.writeable = False
    layer.params["W"] = view
    first = layer.forward(x)
    writable[0, 0, 0, 0] += 1.0
    np.testing.assert_allclose(layer.forward(x), direct_conv(x, writable, layer.params["b"], 0), atol=1e-10)
    assert not np.allclose(layer.forward(x), first)


def test_a_frozen_model_refuses_to_train():
    model = report_cnn().freeze()
    x = np.random.default_rng(0).random((2, 1, 48, 48), dtype=np.float32)
    _, dlogits = SoftmaxCrossEntropy()(model.forward(x, training=True), np.array([0, 1]))
    model.backward(dlogits)
    with pytest.raises(ValueError, match="read-only"):
        SGD(0.1).step(model.named_parameters())


def test_backward_follows_the_algorithm_of_the_last_forward(backend):
    """A 3x3 layer on "auto" switches algorithm with the mode; both give the same gradients."""
    rng = np.random.default_rng(6)
    layer = Conv2D(16, 4, 3, rng=rng, dtype=np.float64)
    x = rng.standard_normal((2, 16, 8, 8))
    dout = rng.standard_normal((2, 4, 6, 6))
    layer.forward(x, training=True)
    dx_winograd, dw_winograd = layer.backward(dout), layer.grads["W"].copy()
    layer.forward(x, training=False)
    np.testing.assert_allclose(layer.backward(dout), dx_winograd, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(layer.grads["W"], dw_winograd, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("kwargs", [dict(stride=2), dict(kernel_size=(3, 5)), dict(kernel_size=8)])
def test_winograd_refuses_what_it_cannot_compute(kwargs):
    arguments = dict(kernel_size=3) | kwargs
    with pytest.raises(ValueError, match="Winograd needs stride 1"):
        Conv2D(4, 4, algorithm="winograd", **arguments)


def test_unknown_algorithm_is_refused():
    with pytest.raises(ValueError, match="algorithm must be one of"):
        Conv2D(4, 4, 3, algorithm="fft")


def test_inference_in_chunks_matches_one_chunk(monkeypatch, backend):
    rng = np.random.default_rng(3)
    layer = Conv2D(16, 8, 3, padding="same", algorithm="winograd", rng=rng, dtype=np.float64)
    x = rng.standard_normal((5, 16, 9, 9))
    whole = layer.forward(x, training=True)
    m = best_output_tile(9, 9, 3)
    tiles = (-(-9 // m)) ** 2
    bytes_per_sample = (m + 2) ** 2 * 16 * tiles * x.itemsize         # the larger of V and M
    monkeypatch.setattr(conv, "WINOGRAD_CHUNK_BYTES", 2 * bytes_per_sample)   # chunks of 2, 2 and 1 samples
    np.testing.assert_allclose(layer.forward(x, training=False), whole, rtol=1e-12, atol=1e-12)
    monkeypatch.setattr(conv, "WINOGRAD_CHUNK_BYTES", 1)                      # one sample per chunk
    np.testing.assert_allclose(layer.forward(x, training=False), whole, rtol=1e-12, atol=1e-12)
    dout = rng.standard_normal(whole.shape)
    dx_recomputed = layer.backward(dout)              # V was not kept in inference: rebuilt
    layer.forward(x, training=True)
    np.testing.assert_allclose(layer.backward(dout), dx_recomputed, rtol=1e-12, atol=1e-12)


def test_same_seed_gives_the_same_loss_curve_with_either_algorithm(backend):
    """Speed work must not change learning: ten SGD steps of the report's network.

    In float64 the two algorithms agree to rounding. In float32 a curve drifts away from
    the exact one as rounding differences are amplified step after step (the im2col
    float32 curve drifts about as far once its conv outputs carry 1e-6 relative noise);
    Winograd's must stay within float32 tolerance of the exact curve.
    """
    rng = np.random.default_rng(4)
    images = rng.random((8, 1, 48, 48))
    labels = rng.integers(0, 7, 8)

    def losses(algorithm, dtype):
        network, loss = report_cnn(seed=5, conv_algorithm=algorithm, dtype=dtype), SoftmaxCrossEntropy()
        optimizer = SGD(lr=0.002, momentum=0.9)
        curve = []
        for _ in range(10):
            value, dlogits = loss(network.forward(images.astype(dtype), training=True), labels)
            curve.append(value)
            network.backward(dlogits)
            optimizer.step(network.named_parameters())
        return np.array(curve)

    exact = losses("im2col", np.float64)
    assert exact[-1] < exact[0] - 0.05             # it learns, so the comparison means something
    np.testing.assert_allclose(losses("winograd", np.float64), exact, rtol=1e-10)
    np.testing.assert_allclose(losses("winograd", np.float32), exact, rtol=5e-4)
