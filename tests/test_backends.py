"""The numba kernels against their NumPy references, and the choice of backend."""
import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import minicnn
from minicnn import Conv2D, MaxPool2D
from minicnn.backend import active_kernels
from minicnn.kernels.winograd_matrices import MAX_TILE
from tests.helpers import CONV_CASES, POOL_CASES, WINOGRAD_CASES, distinct_values

needs_numba = pytest.mark.skipif(not minicnn.numba_available(), reason="numba is not installed")

TOLERANCES = {np.float64: 1e-10, np.float32: 1e-5}
# Winograd's float32 transforms round more (their matrices have entries up to 8), and the
# two backends sum in different orders: compare relative to the largest value instead.
WINOGRAD_TOLERANCES = {np.float64: 1e-10, np.float32: 3e-5}


def run_with_backend(name, fn):
    with minicnn.using_backend(name):
        return fn()


def assert_backends_agree(fn, dtype, relative_to_max=False):
    reference = run_with_backend("numpy", fn)
    compiled = run_with_backend("numba", fn)
    for ref, fast in zip(reference, compiled):
        assert fast.dtype == ref.dtype == dtype
        if relative_to_max:
            tolerance = WINOGRAD_TOLERANCES[dtype] * max(1.0, float(np.abs(ref).max()))
            np.testing.assert_allclose(fast, ref, rtol=0, atol=tolerance)
        else:
            np.testing.assert_allclose(fast, ref, rtol=TOLERANCES[dtype], atol=TOLERANCES[dtype])


def conv_padding(padding, kernel):
    return Conv2D._padding_amount(padding, *((kernel, kernel) if isinstance(kernel, int) else kernel))


@needs_numba
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", CONV_CASES, ids=str)
def test_im2col_col2im_agree(case, dtype):
    n, c, h, w, _, kernel, stride, padding = case
    kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
    pad = conv_padding(padding, kernel)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, c, h, w)).astype(dtype)
    cols_shape = active_kernels().im2col(x, kh, kw, stride, pad).shape
    cols = rng.standard_normal(cols_shape).astype(dtype)
    assert_backends_agree(lambda: (active_kernels().im2col(x, kh, kw, stride, pad),
                                   active_kernels().col2im(cols, x.shape, kh, kw, stride, pad)), dtype)


@needs_numba
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", POOL_CASES, ids=str)
def test_maxpool_kernels_agree(case, dtype):
    n, c, h, w, pool, stride = case
    stride = stride or pool
    rng = np.random.default_rng(1)
    x = rng.standard_normal((n, c, h, w)).astype(dtype)
    x[0, 0, :2, :2] = 0.5   # a tie: both must pick the first maximum

    def run():
        kernels = active_kernels()
        out, argmax = kernels.maxpool_forward(x, pool, pool, stride)
        dout = np.random.default_rng(2).standard_normal(out.shape).astype(dtype)
        return (out, kernels.maxpool_backward(dout, argmax, x.shape, pool, pool, stride), argmax.astype(dtype),
                kernels.maxpool(x, pool, pool, stride), kernels.maxpool(x[:, :, ::-1], pool, pool, stride))

    assert_backends_agree(run, dtype)
    results = run_with_backend("numba", run)
    np.testing.assert_array_equal(results[3], results[0])   # the maxima alone are the same maxima


@needs_numba
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_relu_kernels_agree(dtype):
    from minicnn.kernels import relu_numba
    rng = np.random.default_rng(6)
    x = rng.standard_normal((3, 4, 5, 6)).astype(dtype)
    x[0, 0, 0, :3] = [0.0, np.nan, -0.0]           # the edges: zero, NaN (kept, as np.maximum does)
    dout = rng.standard_normal((3, 8, 5, 6)).astype(dtype)[:, ::2]     # not contiguous

    big = rng.standard_normal(relu_numba.PARALLEL_MIN + 5).astype(dtype)   # the parallel loops too

    def run():
        kernels = active_kernels()
        out = kernels.relu_forward(x)
        big_out = kernels.relu_forward(big)
        return (out, kernels.relu_backward(dout, out), kernels.relu_forward(x[:, ::2]),
                big_out, kernels.relu_backward(big[::-1], big_out))

    reference, compiled = run_with_backend("numpy", run), run_with_backend("numba", run)
    for ref, fast in zip(reference, compiled):
        assert fast.dtype == ref.dtype == dtype
        np.testing.assert_array_equal(fast, ref)


@needs_numba
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_bias_kernels_agree(dtype):
    from minicnn.kernels import relu_numba
    rng = np.random.default_rng(7)
    rows = rng.standard_normal((3, 4, 30)).astype(dtype)
    rows[0, 0, :3] = [np.nan, -5.0, 0.0]
    bias = rng.standard_normal(4)                                  # float64 bias: cast to the rows' dtype
    big = rng.standard_normal((2, 3, relu_numba.PARALLEL_MIN // 6 + 5)).astype(dtype)   # the parallel loop too

    def run():
        kernels = active_kernels()
        return [kernels.add_bias(array.copy(), bias[:array.shape[1]], relu)
                for array in (rows, big) for relu in (False, True)]

    reference, compiled = run_with_backend("numpy", run), run_with_backend("numba", run)
    for ref, fast in zip(reference, compiled, strict=True):
        assert fast.dtype == ref.dtype == dtype
        np.testing.assert_array_equal(fast, ref)
    plain, fused = reference[:2]
    np.testing.assert_array_equal(fused, np.maximum(plain, 0))
    assert np.isnan(fused[0, 0, 0]) and fused[0, 0, 1] == 0


@needs_numba
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", WINOGRAD_CASES, ids=str)
def test_winograd_kernels_agree(case, dtype):
    n, c, h, w, f, kernel, _, padding = case
    pad = conv_padding(padding, kernel)
    rng = np.random.default_rng(5)
    x, weights = rng.standard_normal((n, c, h, w)).astype(dtype), rng.standard_normal((f, c, kernel, kernel))
    dy = rng.standard_normal((n, f, h + 2 * pad - kernel + 1, w + 2 * pad - kernel + 1)).astype(dtype)
    bias = rng.standard_normal(f).astype(dtype)
    for m in range(2, 9 - kernel):
        def run():
            kernels = active_kernels()
            v = kernels.winograd_input_transform(x, m, kernel, pad)
            products = np.matmul(kernels.winograd_filter_transform(weights.astype(dtype), m), v)
            dm = kernels.winograd_output_transform_adjoint(dy, m, kernel)
            return (v, kernels.winograd_output_transform(products, m, kernel, bias, dy.shape), dm,
                    kernels.winograd_input_transform_adjoint(v, x.shape, m, kernel, pad),
                    kernels.winograd_output_transform(products, m, kernel, bias, dy.shape, relu=True))

        assert_backends_agree(run, dtype, relative_to_max=True)


@needs_numba
@pytest.mark.parametrize("batch", [5, 1])
@pytest.mark.parametrize("images_per_task", [1, 2, 5])
def test_winograd_tasks_of_several_images_agree(images_per_task, batch, monkeypatch):
    """Threads take a few images at once: samples of one channel, or (the forward input
    transform) images counted channel by channel, which at batch 1 are channels and at
    batch 5 in twos straddle channels; a short last group."""
    from minicnn.kernels import winograd_numba
    m, r, pad = 3, 3, 1
    rng = np.random.default_rng(8)
    x = rng.standard_normal((batch, 3, 7, 8))
    _, _, th, tw = winograd_numba.tile_counts(7, 8, m, r, pad)
    monkeypatch.setattr(winograd_numba, "TASK_TILES", images_per_task * th * tw)
    assert winograd_numba.images_per_task(th * tw, 15) == images_per_task
    assert winograd_numba.images_per_task(th * tw, 1) == 1                  # never more than the call has
    v = active_kernels().winograd_input_transform(x, m, r, pad)
    dy = rng.standard_normal((batch, 4, 7, 8))
    assert_backends_agree(lambda: (active_kernels().winograd_input_transform(x, m, r, pad),
                                   active_kernels().winograd_input_transform_adjoint(v, x.shape, m, r, pad),
                                   active_kernels().winograd_output_transform_adjoint(dy, m, r)), np.float64)


@needs_numba
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("algorithm", ["im2col", "winograd"])
@pytest.mark.parametrize("case", CONV_CASES, ids=str)
def test_conv_layer_forward_backward_agree(case, algorithm, dtype):
    n, c, h, w, f, kernel, stride, padding = case
    if algorithm == "winograd" and case not in WINOGRAD_CASES:
        pytest.skip("Winograd needs stride 1 and a square kernel")
    rng = np.random.default_rng(3)
    layer = Conv2D(c, f, kernel, stride=stride, padding=padding, rng=rng, dtype=dtype, algorithm=algorithm)
    x = rng.standard_normal((n, c, h, w)).astype(dtype)

    def run():
        out = layer.forward(x)
        dx = layer.backward(np.ones_like(out) + out)
        return out, dx, layer.grads["W"].copy(), layer.grads["b"].copy()

    assert_backends_agree(run, dtype, relative_to_max=algorithm == "winograd")


@needs_numba
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", POOL_CASES, ids=str)
def test_pool_layer_forward_backward_agree(case, dtype):
    n, c, h, w, pool, stride = case
    layer = MaxPool2D(pool, stride)
    x = distinct_values(np.random.default_rng(4), (n, c, h, w)).astype(dtype)

    def run():
        out = layer.forward(x)
        return out, layer.backward(out * 2 + 1)

    assert_backends_agree(run, dtype)


def test_conv_layer_matches_a_direct_loop(backend):
    """The im2col convolution against the definition, summed pixel by pixel."""
    rng = np.random.default_rng(6)
    layer = Conv2D(2, 3, 3, stride=2, padding=1, rng=rng, dtype=np.float64)
    layer.params["b"][...] = rng.standard_normal(3)
    x = rng.standard_normal((2, 2, 7, 6))
    out = layer.forward(x)
    padded = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    expected = np.empty_like(out)
    for n, f, y, xx in np.ndindex(*out.shape):
        patch = padded[n, :, 2 * y:2 * y + 3, 2 * xx:2 * xx + 3]
        expected[n, f, y, xx] = np.sum(patch * layer.params["W"][f]) + layer.params["b"][f]
    np.testing.assert_allclose(out, expected, rtol=1e-12)


@pytest.mark.parametrize("algorithm", ["im2col", "winograd"])
def test_conv_layer_matches_scipy(backend, algorithm):
    """Against an independent implementation: SciPy's N-dimensional correlation, channel by channel."""
    from scipy.signal import correlate
    rng = np.random.default_rng(8)
    layer = Conv2D(3, 4, 5, padding="same", rng=rng, dtype=np.float64, algorithm=algorithm)
    x = rng.standard_normal((2, 3, 9, 8))
    padded = np.pad(x, ((0, 0), (0, 0), (2, 2), (2, 2)))
    expected = np.stack([np.stack([correlate(padded[n], layer.params["W"][f], mode="valid")[0]
                                   for f in range(4)]) for n in range(2)])
    np.testing.assert_allclose(layer.forward(x), expected + layer.params["b"].reshape(1, 4, 1, 1), rtol=1e-10,
                               atol=1e-12)


def test_layers_leave_dout_untouched(backend):
    rng = np.random.default_rng(7)
    x = rng.standard_normal((2, 3, 6, 6))
    for layer in [Conv2D(3, 2, 3, rng=rng, dtype=np.float64), MaxPool2D(2), minicnn.ReLU(),
                  minicnn.Dropout(0.5, rng=rng), minicnn.Flatten()]:
        out = layer.forward(x, training=True)
        dout = rng.standard_normal(out.shape)
        before = dout.copy()
        layer.backward(dout)
        np.testing.assert_array_equal(dout, before, err_msg=type(layer).__name__)


def test_unknown_backend_is_refused():
    with pytest.raises(minicnn.BackendError, match="unknown backend"):
        minicnn.set_backend("cuda")


def test_active_kernels_are_the_kernel_set_of_the_backend():
    from minicnn.kernels import numpy_set
    with minicnn.using_backend("numpy"):
        assert active_kernels() is numpy_set
    if minicnn.numba_available():
        from minicnn.kernels import numba_set
        with minicnn.using_backend("numba"):
            assert active_kernels() is numba_set
        def kernel_names(kernel_set):
            return {name for name in vars(kernel_set) if not name.startswith("_")}
        assert kernel_names(numba_set) == kernel_names(numpy_set)
        assert all(callable(getattr(kernel_set, name)) for kernel_set in (numpy_set, numba_set)
                   for name in kernel_names(numpy_set))


BLOCK_NUMBA = """
import sys
class BlockNumba:
    def find_spec(self, name, path=None, target=None):
        if name == "numba" or name.startswith("numba."):
            raise ImportError("numba is blocked by this test")
sys.meta_path.insert(0, BlockNumba())
"""


def run_without_numba(code, backend_env=None):
    env = {k: v for k, v in os.environ.items() if k != "MINICNN_BACKEND"}
    if backend_env:
        env["MINICNN_BACKEND"] = backend_env
    return subprocess.run([sys.executable, "-c", BLOCK_NUMBA + code], capture_output=True, text=True, env=env,
                          timeout=120)


def test_package_works_without_numba():
    result = run_without_numba("""
import numpy as np, minicnn
from minicnn.models import report_cnn
assert not minicnn.numba_available()
assert minicnn.get_backend() == "numpy", minicnn.get_backend()
model = report_cnn()
x = np.random.default_rng(0).random((2, 1, 48, 48), dtype=np.float32)
loss, dlogits = minicnn.SoftmaxCrossEntropy()(model.forward(x, training=True), np.array([1, 2]))
model.backward(dlogits)
try:
    minicnn.set_backend("numba")
except minicnn.BackendError as error:
    print("refused:", error)
""")
    assert result.returncode == 0, result.stderr
    assert "refused: backend 'numba' was requested but numba is not installed" in result.stdout


def test_environment_variable_asking_for_absent_numba_is_a_clear_error():
    result = run_without_numba("import minicnn; minicnn.get_backend()", backend_env="numba")
    assert result.returncode != 0
    assert "numba is not installed" in result.stderr


@needs_numba
def test_environment_variable_selects_the_backend():
    code = "import minicnn; print(minicnn.get_backend())"
    for name in ("numpy", "numba"):
        env = dict(os.environ, MINICNN_BACKEND=name)
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
        assert result.stdout.strip() == name


def test_maxpool_treats_nan_as_the_maximum(backend):
    x = np.array([[[[1.0, np.nan], [0.0, 2.0]]], [[[np.nan, 5.0], [np.nan, 2.0]]]])
    out, argmax = active_kernels().maxpool_forward(x, 2, 2, 2)
    assert np.isnan(out).all()
    np.testing.assert_array_equal(argmax.ravel(), [1, 0])
    for row, column in np.ndindex(3, 3):    # wherever the NaN sits, later values must not replace it
        x = np.arange(9.0).reshape(1, 1, 3, 3)
        x[0, 0, row, column] = np.nan
        assert np.isnan(active_kernels().maxpool(x, 3, 3, 1)).all()


@pytest.mark.parametrize("wrong", [(2, 27, 24), (2, 27, 25, 1)])
def test_out_buffers_of_the_wrong_shape_are_refused(backend, wrong):
    x = np.zeros((2, 3, 7, 7))
    with pytest.raises(ValueError, match="out= has shape"):
        active_kernels().im2col(x, 3, 3, 1, 0, out=np.empty(wrong))
    with pytest.raises(ValueError, match="out= has shape"):
        active_kernels().col2im(np.zeros((2, 27, 25)), x.shape, 3, 3, 1, 0, out=np.empty((2, 3, 7, 6)))
    with pytest.raises(ValueError, match="dtype"):
        active_kernels().im2col(x, 3, 3, 1, 0, out=np.empty((2, 27, 25), dtype=np.float32))


@needs_numba
def test_winograd_kernels_refuse_to_write_through_a_copy():
    """The compiled loops write through a flat view of out=; a non-contiguous out would
    give them a copy, and the result would be lost."""
    from minicnn.kernels import winograd_numba
    m, r = 2, 3
    products = np.zeros(((m + r - 1) ** 2, 2, 4), dtype=np.float32)          # 1 sample, 2x2 tiles
    strided = np.empty((1, 2, 4, 8), dtype=np.float32)[..., ::2]
    with pytest.raises(ValueError, match="C-contiguous"):
        winograd_numba.output_transform(products, m, r, np.zeros(2, np.float32), strided.shape, out=strided)


@needs_numba
@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 4), c=st.integers(1, 3), h=st.integers(2, 11), w=st.integers(2, 11), seed=st.integers(0, 2**31))
def test_the_2x2_pooling_twins_agree_on_any_shape_with_ties_and_nans(n, c, h, w, seed):
    """Small whole numbers make ties in most windows; a few NaNs must win where they sit.
    Training's pair and inference's maxima alone."""
    rng = np.random.default_rng(seed)
    x = rng.integers(-2, 3, (n, c, h, w)).astype(np.float32)
    x[rng.random(x.shape) < 0.05] = np.nan
    dout = rng.standard_normal((n, c, h // 2, w // 2)).astype(np.float32)

    def run():
        out, argmax = active_kernels().maxpool_forward(x, 2, 2, 2)
        return (out, argmax, active_kernels().maxpool_backward(dout, argmax, x.shape, 2, 2, 2),
                active_kernels().maxpool(x, 2, 2, 2))

    for reference, compiled in zip(run_with_backend("numpy", run), run_with_backend("numba", run)):
        np.testing.assert_array_equal(compiled, reference)                 # exact: pooling only copies


@needs_numba
@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 3), c=st.integers(1, 3), f=st.integers(1, 3), h=st.integers(1, 12), w=st.integers(1, 12),
       r=st.sampled_from([2, 3, 5]), pad=st.integers(0, 2), m=st.integers(2, 6), seed=st.integers(0, 2**31))
def test_winograd_kernels_agree_on_any_shape(n, c, f, h, w, r, pad, m, seed):
    """The index maps of the numba transforms, for any image size, padding and tile."""
    assume(m + r - 1 <= MAX_TILE and h + 2 * pad >= r and w + 2 * pad >= r)
    rng = np.random.default_rng(seed)
    x, weights = rng.standard_normal((n, c, h, w)), rng.standard_normal((f, c, r, r))
    dy = rng.standard_normal((n, f, h + 2 * pad - r + 1, w + 2 * pad - r + 1))

    def run():
        kernels = active_kernels()
        v = kernels.winograd_input_transform(x, m, r, pad)
        products = np.matmul(kernels.winograd_filter_transform(weights, m), v)
        return (v, kernels.winograd_output_transform(products, m, r, np.zeros(f), dy.shape),
                kernels.winograd_output_transform_adjoint(dy, m, r),
                kernels.winograd_input_transform_adjoint(v, x.shape, m, r, pad))

    assert_backends_agree(run, np.float64, relative_to_max=True)


@needs_numba
@pytest.mark.parametrize("stack, rows, inner, columns", [(64, 64, 64, 100), (5, 3, 4, 2), (1, 8, 8, 8),
                                                         (3, 128, 128, 128)])
def test_stacked_matmul_split_over_threads_is_numpys_product(stack, rows, inner, columns, monkeypatch):
    """Small stacks are split over the threads (all but the last two cases here), large
    products go to np.matmul whole; either way each product is BLAS's, so the same bits."""
    import numba

    from minicnn.kernels import matmul_threads
    rng = np.random.default_rng(4)
    a = rng.standard_normal((stack, rows, inner)).astype(np.float32)
    b = rng.standard_normal((stack, inner, columns)).astype(np.float32)
    split = []
    monkeypatch.setattr(matmul_threads, "_helpers", _RecordingPool(matmul_threads._helpers, split))
    threads_before = numba.get_num_threads()
    numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
    try:
        out = np.full((stack, rows, columns), np.nan, dtype=np.float32)
        assert matmul_threads.stacked_matmul(a, b, out=out) is out
        expected = np.stack([x @ y for x, y in zip(a, b)])
        np.testing.assert_array_equal(out, expected)
        np.testing.assert_array_equal(matmul_threads.stacked_matmul(a, b), expected)
        small = stack > 1 and rows * inner * columns < matmul_threads.SPLIT_MIN_PRODUCT
        assert bool(split) == (small and numba.get_num_threads() > 1)
    finally:
        numba.set_num_threads(threads_before)


class _RecordingPool:
    """A thread pool that notes each part it is given, then runs it in the real one."""

    def __init__(self, pool, record):
        self.pool, self.record = pool, record

    def submit(self, fn, *args, **kwargs):
        self.record.append(len(args[0]))
        return self.pool.submit(fn, *args, **kwargs)
